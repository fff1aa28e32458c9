package workflow

import (
	"slices"

	"github.com/flowsync/flowsync/crdt"
)

// A merge costs what it removes: a delta of a few bytes whose context covers
// a container's thousand blocks drops every value they hold. A server that
// merges one delta per turn of a loop would stall everyone else in the room
// for as long, so a large removal is merged in steps (StepMerge), each a
// removal-only part holding the exact dots of at most a budget of held
// values the delta's context covers, then the delta itself.
//
// Every part is subsumed by the delta: its dots are in the delta's context
// and none is in the delta's values, so merging the part and later the delta
// is merging the delta (a join absorbs what it covers), and any document in
// between is a join of deltas a replica could have sent. Whatever else
// merges between two steps, the document ends equal to the join of all, as
// it would have with the delta merged at once.

// stepProbes is how many counters of the delta's context a step may look up
// per value of its budget: a context may name many counters the document
// holds no value for (removed long ago), and a step must not walk them all.
const stepProbes = 16

// StepMerge merges one delta into a document in bounded steps. Use
// Doc.StepMerge to start one; the document must not be merged into by
// anything but other deltas' merges while it runs (no Clone-and-replace).
type StepMerge struct {
	doc    *Doc
	delta  *Doc
	seen   *crdt.Context // the delta's context the document had seen when it started: what the parts walk
	unseen *crdt.Context // the rest, which only the final merge can remove
	reps   []crdt.ReplicaID
	ri, gi int    // the part walk's replica and range in seen
	next   uint64 // next counter of seen.Ranges(reps[ri])[gi] to look at; 0 at a range's start
	budget int
	steps  int
	parts  int // values removed by the parts so far
	done   bool

	// OnPart, when set, is given every part just before it is merged: each
	// removal-only part, then what Finish merges (an undo capture in
	// steps, UndoRecording.Part). It must not change the document.
	OnPart func(part *Doc)
}

// StepMerge returns a StepMerge of delta into d whose parts each remove at
// most budget values, or nil when the delta's context covers at most
// budget dots d has seen: then one Merge costs no more than a step, and
// the caller merges delta at once. Computing this costs the ranges of the
// two contexts, not the dots they cover.
func (d *Doc) StepMerge(delta *Doc, budget int) *StepMerge {
	budget = max(budget, 1)
	if delta.ctx.Len() <= uint64(budget) {
		// The common case, a delta of a few dots: no context to split.
		return nil
	}
	unseen := delta.ctx.Missing(&d.ctx)
	seen := delta.ctx.Missing(unseen)
	if seen.Len() <= uint64(budget) {
		return nil
	}
	return &StepMerge{doc: d, delta: delta, seen: seen, unseen: unseen, reps: seen.Replicas(), budget: budget}
}

// Steps reports how many parts Step has merged.
func (s *StepMerge) Steps() int { return s.steps }

// Removed reports how many values the parts removed.
func (s *StepMerge) Removed() int { return s.parts }

// Step merges the next removal-only part into the document: the values it
// holds under at most budget dots of the delta's context (none of them a
// value of the delta), after looking at most stepProbes×budget counters.
// It reports true once no part is left; then call Finish.
//
// The walk follows the document index's held counters (docIndex.dots), not
// the context's: a range may span 2^53 counters nobody holds, and the
// counters held when the merge started are all in the index until removed
// (a dot merged later was not seen, and no part removes it).
func (s *StepMerge) Step() bool {
	if s.done {
		return true
	}
	part := &Doc{}
	found, probes := 0, 0
	x := s.doc.index()
	for s.ri < len(s.reps) && found < s.budget && probes < stepProbes*s.budget {
		r := s.reps[s.ri]
		rs := s.seen.Ranges(r)
		c := x.dots[r]
		if s.gi >= len(rs) || c == nil {
			s.ri, s.gi, s.next = s.ri+1, 0, 0
			continue
		}
		g := rs[s.gi]
		cur := c.from(max(s.next, g.Lo))
		for found < s.budget && probes < stepProbes*s.budget {
			probes++
			n, ok := cur.next()
			if !ok {
				// The replica holds nothing further: its other ranges
				// have nothing to remove.
				s.gi = len(rs)
				break
			}
			if n > g.Hi {
				// Jump to the first range that reaches n.
				s.gi += 1 + sortSearchRanges(rs[s.gi+1:], n)
				s.next = 0
				break
			}
			if d := (crdt.Dot{Replica: r, Counter: n}); s.doc.store.Has(d) && !s.delta.store.Has(d) {
				part.ctx.Add(d)
				found++
			}
			s.next = n + 1 // n ≤ MaxCounter: no wrap
		}
	}
	s.done = s.ri >= len(s.reps)
	if found > 0 {
		if s.OnPart != nil {
			s.OnPart(part)
		}
		// What this part removes, the rest of the delta removes: a
		// replica that has merged all of it (its unseen dots) has seen
		// the removals (deaths.go).
		x.deaths.override = s.unseen
		s.doc.Merge(part)
		x.deaths.override = nil
		s.parts += found
	}
	s.steps++
	return s.done
}

// sortSearchRanges returns the index of the first range of rs (sorted,
// disjoint) whose Hi is at least n, or len(rs).
func sortSearchRanges(rs []crdt.Range, n uint64) int {
	i, _ := slices.BinarySearchFunc(rs, n, func(g crdt.Range, n uint64) int {
		if g.Hi < n {
			return -1
		}
		return 1
	})
	return i
}

// Finish merges what is left of the delta: its values, its text records,
// and the removals of dots the document had not seen when the merge started
// (no part walks those). With every part merged before it, the document is then what
// merging the delta at once would have made it. It returns what Merge
// returns for this last part. Finish before the parts are done merges the
// delta whole.
func (s *StepMerge) Finish() int {
	if !s.done {
		if s.OnPart != nil {
			s.OnPart(s.delta)
		}
		return s.doc.Merge(s.delta)
	}
	// The text records go whole: their items' dots are in unseen, and a
	// context holding them without the items would make the document
	// lose the typing and refuse its author's re-send as forged.
	final := &Doc{ctx: *s.unseen.Clone(), texts: s.delta.texts}
	var dots []crdt.Dot
	s.delta.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			dots = append(dots, e.Dot)
			final.store.Put(k, e.Dot, e.Value)
		}
		return true
	})
	// In dot order: added key by key they would land mid-range, a copy of
	// the tail each (see builder.removeBlocks).
	slices.SortFunc(dots, compareDots)
	for _, d := range dots {
		final.ctx.Add(d)
	}
	if s.OnPart != nil {
		s.OnPart(final)
	}
	return s.doc.Merge(final)
}
