package text

import (
	"fmt"

	"github.com/flowsync/flowsync/crdt"
)

// Admit checks a delta a client sent as sender before t merges it: it may
// insert only under the sender's own dots, its origins must be known to t
// or inserted by the delta itself, and it may delete only items t knows or
// the delta inserts, and a left origin it knows must precede the right
// origin. The errors are ErrForeignDot, ErrMissingOrigin, ErrUnknownDelete,
// ErrOriginOrder, or what Merge would refuse the delta with. Admit changes
// nothing.
func (t *Text) Admit(d *Delta, sender crdt.ReplicaID) error {
	for i := range d.Runs {
		if d.Runs[i].ID.Replica != sender {
			return fmt.Errorf("%w: run %v from %q", ErrForeignDot, d.Runs[i].ID, sender)
		}
	}
	if err := checkDead(d.Deleted); err != nil {
		return err
	}
	if _, err := t.check(d); err != nil {
		return err
	}
	// A left origin is before the right one in every replica's text: a run
	// claiming otherwise would be placed by a scan that never meets its
	// right origin, where replicas merging in other orders need not agree.
	// Origins both already known are checked here; an origin the delta
	// itself inserts is not (that needs the delta merged).
	for i := range d.Runs {
		r := &d.Runs[i]
		if r.Left == (crdt.Dot{}) || r.Right == (crdt.Dot{}) {
			continue
		}
		l, lok := t.lvOf(r.Left)
		rt, rok := t.lvOf(r.Right)
		if lok && rok && t.tree.position(l) >= t.tree.position(rt) {
			return fmt.Errorf("%w: run %v has its right origin %v before its left origin %v", ErrOriginOrder, r.ID, r.Right, r.Left)
		}
	}
	p := newPlan(d.Runs)
	for _, x := range d.Deleted {
		for lo := x.Lo; lo <= x.Hi; {
			if klo, khi, ok := t.ids.knownFrom(x.Replica, lo); ok && klo <= lo {
				if khi >= x.Hi {
					break
				}
				lo = khi + 1
				continue
			}
			j := p.find(crdt.Dot{Replica: x.Replica, Counter: lo})
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
