package text

import (
	"fmt"

	"github.com/flowsync/flowsync/crdt"
)

// Admit checks a delta a client sent as sender before t merges it: it may
// insert only under the sender's own dots, its origins must be known to t
// or inserted by the delta itself, and it may delete only items t knows or
// the delta inserts, origins it knows must be ordered as typing orders
// them (originsOrdered), and items it already holds must come back with
// the origins and text it holds. The errors are ErrForeignDot,
// ErrMissingOrigin, ErrUnknownDelete, ErrOriginOrder, ErrChangedItem, or what Merge would refuse the delta
// with. Admit changes nothing and costs O(delta · log n).
func (t *Text) Admit(d *Delta, sender crdt.ReplicaID) error {
	for i := range d.Runs {
		if d.Runs[i].ID.Replica != sender {
			return fmt.Errorf("%w: run %v from %q", ErrForeignDot, d.Runs[i].ID, sender)
		}
	}
	if err := checkDead(d.Deleted); err != nil {
		return err
	}
	var p plan
	if len(d.Runs) == 1 {
		// One edit, the common case: its origins are held (an origin inside
		// the run itself is a cycle), so the rule is checked exactly and no
		// plan is built.
		o, err := t.checkOne(d)
		if err != nil {
			return err
		}
		r := &d.Runs[0]
		if err := t.sameAsKnown(r); err != nil {
			return err
		}
		if l, rt := o[0], o[1]; rt != none && !t.originsOrdered(l, rt) {
			return fmt.Errorf("%w: run %v after %v cannot have %v as its right origin", ErrOriginOrder, r.ID, r.Left, r.Right)
		}
	} else {
		var err error
		if p, err = t.check(d); err != nil {
			return err
		}
		for i := range d.Runs {
			if err := t.sameAsKnown(&d.Runs[i]); err != nil {
				return err
			}
		}
		if err := t.checkOrigins(d, &p); err != nil {
			return err
		}
	}
	for _, x := range d.Deleted {
		for lo := x.Lo; lo <= x.Hi; {
			if klo, khi, ok := t.ids.knownFrom(x.Replica, lo); ok && klo <= lo {
				if khi >= x.Hi {
					break
				}
				lo = khi + 1
				continue
			}
			j := -1
			if len(d.Runs) == 1 {
				if r := &d.Runs[0]; r.ID.Replica == x.Replica && r.ID.Counter <= lo && lo <= r.last().Counter {
					j = 0
				}
			} else {
				j = p.find(crdt.Dot{Replica: x.Replica, Counter: lo})
			}
			if j < 0 {
				return fmt.Errorf("%w: %v", ErrUnknownDelete, crdt.Dot{Replica: x.Replica, Counter: lo})
			}
			last := d.Runs[j].last().Counter
			if last >= x.Hi {
				break
			}
			lo = last + 1
		}
	}
	return nil
}

// sameAsKnown checks that the items of r that t already holds have the
// origins r gives them and, where t still has it, the same text: Merge
// skips known items, so a replica that learnt them from r would otherwise
// hold other items than one that learnt them first.
func (t *Text) sameAsKnown(r *Run) error {
	rep, ok := t.ids.repOf(r.ID.Replica)
	if !ok {
		return nil
	}
	lo, hi := r.ID.Counter, r.last().Counter
	roff, rat := 0, lo // byte offset in r.Text of counter rat
	for c := lo; c <= hi; {
		klo, khi, ok := t.ids.knownFrom(r.ID.Replica, c)
		if !ok || klo > hi {
			return nil
		}
		a, b := max(klo, c), min(khi, hi)
		lv, _ := t.ids.lookupRep(rep, a)
		for cc := a; cc <= b; {
			l, j := t.tree.locate(lv)
			sp := &l.spans[j]
			k := lv - sp.lv
			m := min(uint64(sp.n-k), b-cc+1)
			left := sp.left
			if k > 0 {
				left = lv - 1
			}
			want := r.Left
			if cc > lo {
				want = crdt.Dot{Replica: r.ID.Replica, Counter: cc - 1}
			}
			if t.dotOf(left) != want || t.dotOf(sp.right) != r.Right {
				return fmt.Errorf("%w: %v has other origins", ErrChangedItem, crdt.Dot{Replica: r.ID.Replica, Counter: cc})
			}
			if r.Text != "" && !sp.dead {
				roff, rat = advance(r.Text, roff, cc-rat), cc
				have := sp.content(t.tree.text)
				from := advance(have, 0, uint64(k))
				to := advance(have, from, m)
				end := advance(r.Text, roff, m)
				if string(have[from:to]) != r.Text[roff:end] {
					return fmt.Errorf("%w: %v has other text", ErrChangedItem, crdt.Dot{Replica: r.ID.Replica, Counter: cc})
				}
			}
			cc += m
			lv += int32(m)
		}
		c = b + 1
	}
	return nil
}
