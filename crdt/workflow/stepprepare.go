package workflow

import (
	"maps"
	"slices"

	"github.com/flowsync/flowsync/crdt"
)

// Preparing the removal of a container walks everything it holds: its
// descendants through the tree, then their values and edges. A server that
// prepares a thin client's operation in its room loop would stall the room
// for as long, so the removals (RemoveBlock, RemoveSubflow,
// BatchRemoveBlocks) can also be prepared in steps: StepPrepare checks the
// operation as Prepare does, each Step examines a bounded number of
// candidate blocks or collects a bounded number of blocks' dots, and Finish
// builds the delta with the author's timestamp and next dot at that moment.
//
// Between steps the document may change. The delta is then the removal of
// what the walk found, each part read at its step: a block moved into the
// container after the walk passed it stays, a value written to a walked
// block after its dots were collected survives it — what a removal made
// concurrently with those edits does. Every dot in the delta's context is
// one the document held, so it is a delta any replica that saw them could
// have sent.

// StepPrepare prepares one removal operation in steps. Use Doc.StepPrepare
// to start one.
type StepPrepare struct {
	doc    *Doc
	op     Op
	b      *builder // reads only: its delta stays empty
	budget int
	steps  int

	// The walk down the tree, breadth first: out[:walked] are expanded;
	// cands are the candidate children of out[walked], cands[:cand] seen.
	out    []string
	seen   map[string]bool
	walked int
	cands  []string
	cand   int
	listed bool // cands holds out[walked]'s candidates

	r *removal // the dots, once the walk is done
}

// StepPrepare starts preparing op in steps of about budget blocks each, or
// returns nil and no error when op is not a removal of blocks (prepare it
// with Prepare). It returns the error Prepare would when op is refused
// (an unknown, protected or non-container block; a batch with nothing to
// remove).
func (d *Doc) StepPrepare(op Op, budget int) (*StepPrepare, error) {
	b := &builder{doc: d, delta: &Doc{}}
	var ids []string
	switch op := op.(type) {
	case RemoveBlock:
		if err := editable(b, op.ID); err != nil {
			return nil, err
		}
		ids = []string{op.ID}
	case RemoveSubflow:
		if err := checkContainer(b, op.ID); err != nil {
			return nil, err
		}
		ids = []string{op.ID}
	case BatchRemoveBlocks:
		var s skips
		for _, id := range op.IDs {
			if s.usable(b, id) {
				ids = append(ids, id)
			}
		}
		if err := s.err(op.Name()); err != nil {
			return nil, err
		}
	case ReplaceState:
		// No walk: the removal is the whole graph (removeGraph), collected
		// a budget of ids at a time; the new state is written by Finish.
		if _, err := op.blocks(); err != nil {
			return nil, err
		}
		p := &StepPrepare{doc: d, op: op, b: b, budget: max(budget, 1)}
		p.r = newRemoval(b, graphIDs(d))
		p.r.graph = true
		return p, nil
	default:
		return nil, nil
	}
	p := &StepPrepare{doc: d, op: op, b: b, budget: max(budget, 1), seen: make(map[string]bool, len(ids))}
	for _, id := range ids {
		if !p.seen[id] {
			p.seen[id] = true
			p.out = append(p.out, id)
		}
	}
	return p, nil
}

// Steps reports how many steps ran.
func (p *StepPrepare) Steps() int { return p.steps }

// Step does the next part of the work: it examines up to budget candidate
// children in the walk, or, once the walk is done, collects the dots of up
// to budget blocks. It reports true once everything is collected; then
// call Finish.
func (p *StepPrepare) Step() bool {
	p.steps++
	n := p.budget
	if p.r == nil {
		if n = p.walk(n); p.walked < len(p.out) {
			return false
		}
		// What the walk left of the budget goes to the dots, so that a
		// small removal takes one step.
		p.r = newRemoval(p.b, p.out)
	}
	return p.r.collect(max(n, 1))
}

// walk examines up to n candidates and returns what is left of n; the
// walk is done when every block found is expanded.
// A block's candidates are the index's children of it; each counts if the
// tree, as read now, puts it there and it is present: what withDescendants
// finds, in another order.
func (p *StepPrepare) walk(n int) int {
	if p.b.spent || !p.b.delta.ctx.IsEmpty() {
		panic("workflow: StepPrepare's reader wrote")
	}
	t := treeOf(p.b)
	for n > 0 && p.walked < len(p.out) {
		parent := p.out[p.walked]
		if !p.listed {
			p.cands = slices.Collect(maps.Keys(p.doc.index().children[parent]))
			p.cand, p.listed = 0, true
		}
		for ; p.cand < len(p.cands) && n > 0; p.cand, n = p.cand+1, n-1 {
			c := p.cands[p.cand]
			if !p.seen[c] && t.parentOf(c) == parent && blockExists(p.b, c) {
				p.seen[c] = true
				p.out = append(p.out, c)
			}
		}
		if p.cand == len(p.cands) {
			p.walked, p.listed, p.cands = p.walked+1, false, nil
		}
	}
	return n
}

// Finish builds the removal's delta as authored at ts, with what Prepare
// checks of it; call it after Step reported true, without merging anything
// into the document for ts.Replica in between. The operation must have
// been checked by Doc.StepPrepare on this document.
func (p *StepPrepare) Finish(ts crdt.Timestamp) (*Doc, error) {
	for !p.Step() {
	}
	b, err := p.doc.newBuilder(ts)
	if err != nil {
		return nil, err
	}
	b.applyRemoval(p.r)
	if op, ok := p.op.(ReplaceState); ok {
		if err := op.write(b); err != nil {
			return nil, err
		}
	}
	return b.finish(p.op)
}

// graphIDs returns the ids of d's groups holding a key of the graph
// (anything but a variable's): what ReplaceState removes.
func graphIDs(d *Doc) []string {
	ids := make([]string, 0, len(d.store.groups))
	for id, g := range d.store.groups {
		if len(g.slots) > int(g.nkind[KindVariable]+g.nkind[KindVariableField]) {
			ids = append(ids, id)
		}
	}
	return ids
}
