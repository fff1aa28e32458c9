package text

import (
	"fmt"

	"github.com/flowsync/flowsync/crdt"
)

// Items form a tree: each item is the child of its left origin, and the
// text is that tree laid out in preorder, children in the order FugueMax
// gives siblings. Typing after an item L puts the new item before the item
// that followed L, which is L's first child or the next sibling of L or of
// one of L's ancestors: either way the right origin R follows L, and R's
// own left origin (its parent) is L or an ancestor of L, so at or before L.
// A pair that breaks this rule was not typed; it names a place inside
// another item's subtree, where replicas holding different concurrent
// items would put the new item differently.

// originsOrdered reports whether right may be the right origin of an item
// whose left origin is left, both present.
func (t *Text) originsOrdered(left, right int32) bool {
	return t.pos(t.leftOf(right)) <= t.pos(left) && t.pos(left) < t.at(right)
}

// pos returns the document position of item lv, −1 for none (the start).
func (t *Text) pos(lv int32) int {
	if lv == none {
		return -1
	}
	return t.tree.position(lv)
}

// leftOf returns the left origin of item lv.
func (t *Text) leftOf(lv int32) int32 {
	l, j := t.tree.locate(lv)
	if sp := &l.spans[j]; sp.lv < lv {
		return lv - 1
	}
	return l.spans[j].left
}

// checkOrigins holds the runs of d, planned in p, to the origin rule
// before a merge. Origins t holds are checked exactly. An item the delta
// inserts has no position yet, but its place in the tree is known: its
// parent, and the nearest ancestor t holds, below which it will land. The
// rule is checked through those where that decides it; what it leaves
// open, Merge decides when it places the run, the same way in every
// replica (integrate drops a right origin that breaks the rule).
func (t *Text) checkOrigins(d *Delta, p *plan) error {
	// anc[i] is the nearest item t holds (or none) that the first item of
	// run i descends from; p.order puts the run holding a left origin first.
	anc := make([]int32, len(d.Runs))
	for _, i := range p.order {
		r := &d.Runs[i]
		if j := p.find(r.Left); j >= 0 {
			anc[i] = anc[j]
		} else {
			anc[i], _ = t.lvOf(r.Left)
		}
	}
	for i := range d.Runs {
		r := &d.Runs[i]
		if r.Right == (crdt.Dot{}) {
			continue
		}
		jl, jr := p.find(r.Left), p.find(r.Right)
		ok := true
		switch {
		case jl < 0 && jr < 0:
			l, _ := t.lvOf(r.Left)
			rt, _ := t.lvOf(r.Right)
			ok = t.originsOrdered(l, rt)
		case jr >= 0 && jl == jr:
			// Both in one run: only the item after the left origin follows
			// it with a parent at or before it.
			ok = r.Left.Counter+1 == r.Right.Counter
		case jr >= 0:
			parent, jp := d.parent(jr, r.Right), -1
			if parent != (crdt.Dot{}) {
				jp = p.find(parent)
			}
			switch {
			case jl < 0 && jp >= 0:
				// The parent is new, the left origin is not: a held item
				// never descends from a new one.
				ok = false
			case jl < 0:
				l, _ := t.lvOf(r.Left)
				pl, _ := t.lvOf(parent)
				ok = t.pos(pl) <= t.pos(l)
			case jp < 0:
				// The parent is held: it must be an ancestor of the left
				// origin's nearest held ancestor.
				pl, _ := t.lvOf(parent)
				ok = t.pos(pl) <= t.pos(anc[jl])
			case jp == jl:
				ok = parent.Counter <= r.Left.Counter
			}
		default: // the right origin is held, the left one is new
			rt, _ := t.lvOf(r.Right)
			k := t.pos(anc[jl])
			ok = t.pos(t.leftOf(rt)) <= k && k < t.at(rt)
		}
		if !ok {
			return fmt.Errorf("%w: run %v after %v cannot have %v as its right origin", ErrOriginOrder, r.ID, r.Left, r.Right)
		}
	}
	return nil
}

// parent returns the left origin of item o of run j of d.
func (d *Delta) parent(j int, o crdt.Dot) crdt.Dot {
	r := &d.Runs[j]
	if o.Counter > r.ID.Counter {
		return crdt.Dot{Replica: o.Replica, Counter: o.Counter - 1}
	}
	return r.Left
}
