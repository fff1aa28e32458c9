package text

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// Load decodes a state (an encoded DeltaSince(nil)) into a new replica.
//
// It builds the tree straight from the runs, in the order the state lists
// them, instead of integrating run after run: that order is the one every
// replica that merged the state computes, so a state this package wrote
// (one a server stored) loads in one pass. Load checks that each run's
// origins exist, the left one before the run and the right one after it,
// but it cannot tell a reordered state from a true one: a state from an
// untrusted peer goes through DecodeDelta and Merge instead.
func Load(b []byte) (*Text, error) {
	if len(b) == 0 || b[0] != FormatVersion {
		_, err := DecodeDelta(b, StateLimits) // the same errors
		return nil, err
	}
	if err := msgpackx.Check(b[1:], StateLimits); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	d, explicit, err := decodeBody(msgpackx.NewCanonicalReader(b[1:]), MaxItems(StateLimits))
	if err != nil {
		_, err = DecodeDelta(b, StateLimits) // wrapped as DecodeDelta wraps it
		return nil, err
	}
	return fromState(&d, explicit)
}

// fromState builds a replica whose document order is d's run order.
func fromState(d *Delta, explicit []Dead) (*Text, error) {
	t := New()
	if len(d.Runs) == 0 {
		return t, t.Merge(Delta{Deleted: d.Deleted})
	}
	if int(runItems(d.Runs)) > maxItems {
		return nil, fmt.Errorf("%w: more than %d items", ErrCounter, maxItems)
	}
	// Items are numbered in document order, so an origin's place is its
	// number.
	lvs := make([]int32, len(d.Runs))
	t.ids.runs = make([]lvRun, 0, len(d.Runs))
	for i := range d.Runs {
		r := &d.Runs[i]
		lvs[i] = t.ids.addUnsorted(t.ids.replicaIndex(r.ID.Replica), r.ID.Counter, int32(r.Len))
	}
	t.ids.sortCounters()
	all := make([]byte, 0, textBytes(d.Runs))
	spans := make([]span, len(d.Runs))
	for i := range d.Runs {
		r := &d.Runs[i]
		lv, n := lvs[i], int32(r.Len)
		left, ok := t.lvOf(r.Left)
		if !ok || left >= lv {
			return nil, fmt.Errorf("%w: left origin %v of run %v is not before it", ErrMissingOrigin, r.Left, r.ID)
		}
		right, ok := t.lvOf(r.Right)
		if !ok || right != none && right < lv+n {
			return nil, fmt.Errorf("%w: right origin %v of run %v is not after it", ErrMissingOrigin, r.Right, r.ID)
		}
		s := span{lv: lv, n: n, left: left, right: right, dead: r.Text == ""}
		if !s.dead {
			s.off, s.size = uint32(len(all)), uint32(len(r.Text))
			all = append(all, r.Text...)
		}
		spans[i] = s
	}
	t.tree.text = all
	t.tree.build(spans)
	// Deletes beyond the runs without content: items deleted before their
	// insert arrived, and runs with content that are deleted all the same.
	for _, x := range explicit {
		if rep, ok := t.ids.index[x.Replica]; ok {
			t.killCounters(rep, x.Lo, x.Hi)
		}
		t.keepPending(x)
	}
	return t, nil
}

// addUnsorted is add for a bulk load: the counter runs are sorted once at
// the end (sortCounters) rather than kept sorted on every insert.
func (x *ids) addUnsorted(rep int32, counter uint64, n int32) int32 {
	lv := x.next
	x.next += n
	if k := len(x.runs); k == 0 || x.runs[k-1].rep != rep || x.runs[k-1].counter+uint64(lv-x.runs[k-1].lv) != counter {
		x.runs = append(x.runs, lvRun{lv: lv, rep: rep, counter: counter})
	}
	cr := x.byReplica[rep]
	if k := len(cr); k > 0 && cr[k-1].counter+uint64(cr[k-1].n) == counter && cr[k-1].lv+cr[k-1].n == lv {
		cr[k-1].n += n
	} else {
		x.byReplica[rep] = append(cr, counterRun{counter, lv, n})
	}
	return lv
}

// sortCounters sorts every replica's counter runs and joins neighbours.
func (x *ids) sortCounters() {
	for rep, cr := range x.byReplica {
		slices.SortFunc(cr, func(a, b counterRun) int { return cmp.Compare(a.counter, b.counter) })
		out := cr[:0]
		for _, c := range cr {
			if k := len(out); k > 0 && out[k-1].counter+uint64(out[k-1].n) == c.counter && out[k-1].lv+out[k-1].n == c.lv {
				out[k-1].n += c.n
				continue
			}
			out = append(out, c)
		}
		x.byReplica[rep] = out
	}
}

// build fills an empty tree with spans, in order, leaving room in every node
// for the edits to come.
func (t *tree) build(spans []span) {
	per := max(1, maxSpans*3/4)
	var level []*node
	t.leaves = t.leaves[:0]
	t.leafOf = make([]int32, 0, spanItems(spans))
	var prev *node
	for i := 0; i < len(spans); i += per {
		chunk := spans[i:min(i+per, len(spans))]
		l := &node{leaf: true, id: int32(len(t.leaves)), prev: prev, spans: make([]span, len(chunk), maxSpans+1)}
		copy(l.spans, chunk)
		for _, s := range chunk {
			l.vis += s.vis()
			l.all += int(s.n)
			t.note(l, s.n)
		}
		if prev != nil {
			prev.next = l
		}
		prev = l
		t.leaves = append(t.leaves, l)
		level = append(level, l)
	}
	t.first = level[0]
	kids := max(2, maxKids*3/4)
	for len(level) > 1 {
		var up []*node
		for i := 0; i < len(level); i += kids {
			chunk := level[i:min(i+kids, len(level))]
			n := &node{kids: make([]*node, len(chunk), maxKids+1)}
			copy(n.kids, chunk)
			for _, k := range chunk {
				k.parent = n
				n.vis += k.vis
				n.all += k.all
			}
			up = append(up, n)
		}
		level = up
	}
	t.root = level[0]
}

func spanItems(spans []span) int {
	n := 0
	for i := range spans {
		n += int(spans[i].n)
	}
	return n
}
