package text

import (
	"github.com/flowsync/flowsync/crdt"
)

// ref is a deliberately naive replica of the same CRDT: one record per
// character in a slice, the same FugueMax rule applied item by item, every
// position found by a linear scan. The tests hold Text to it.
type ref struct {
	items []refItem
	seen  crdt.Context
	dead  crdt.Context
}

type refItem struct {
	id, left, right crdt.Dot
	ch              rune
	dead            bool
}

func (r *ref) index(d crdt.Dot) int {
	for i := range r.items {
		if r.items[i].id == d {
			return i
		}
	}
	return -1
}

// pos returns the document position of d: −1 for the start (as a left
// origin), len for the end (as a right origin).
func (r *ref) pos(d crdt.Dot, end bool) int {
	if d == (crdt.Dot{}) {
		if end {
			return len(r.items)
		}
		return -1
	}
	return r.index(d)
}

func (r *ref) String() string {
	var out []rune
	for _, it := range r.items {
		if !it.dead {
			out = append(out, it.ch)
		}
	}
	return string(out)
}

// apply merges a delta the Text accepted.
func (r *ref) apply(d Delta) {
	// Integrate in an order where origins come first: retry until stuck.
	pending := append([]Run(nil), d.Runs...)
	for len(pending) > 0 {
		var later []Run
		for _, run := range pending {
			ok := true
			for k := 0; k < run.Len && ok; k++ {
				id := crdt.Dot{Replica: run.ID.Replica, Counter: run.ID.Counter + uint64(k)}
				if r.seen.Contains(id) {
					continue
				}
				left := run.Left
				if k > 0 {
					left = crdt.Dot{Replica: run.ID.Replica, Counter: id.Counter - 1}
				}
				if (left != crdt.Dot{} && !r.seen.Contains(left)) || (run.Right != crdt.Dot{} && !r.seen.Contains(run.Right)) {
					ok = false
					break
				}
				var ch rune
				if run.Text != "" {
					ch = []rune(run.Text)[k]
				}
				r.integrate(refItem{id: id, left: left, right: run.Right, ch: ch, dead: run.Text == ""})
			}
			if !ok {
				later = append(later, run)
			}
		}
		if len(later) == len(pending) {
			panic("ref: delta with missing origins")
		}
		pending = later
	}
	for _, x := range d.Deleted {
		r.dead.AddRange(x.Replica, x.Range)
	}
	for i := range r.items {
		if r.dead.Contains(r.items[i].id) {
			r.items[i].dead = true
		}
	}
}

func (r *ref) integrate(it refItem) {
	r.seen.Add(it.id)
	if r.dead.Contains(it.id) {
		it.dead = true
	}
	leftPos := r.pos(it.left, false)
	i := leftPos + 1
	scanning, scanStart := false, i
	for ; i < len(r.items); i++ {
		o := r.items[i]
		if o.id == it.right {
			break
		}
		ol := r.pos(o.left, false)
		if ol < leftPos {
			break
		}
		if ol == leftPos {
			if o.right == it.right {
				if it.id.Replica < o.id.Replica || it.id.Replica == o.id.Replica && it.id.Counter < o.id.Counter {
					break
				}
				scanning = false
			} else if r.pos(o.right, true) < r.pos(it.right, true) {
				if !scanning {
					scanning, scanStart = true, i
				}
			} else {
				scanning = false
			}
		}
	}
	if scanning {
		i = scanStart
	}
	r.items = append(r.items, refItem{})
	copy(r.items[i+1:], r.items[i:])
	r.items[i] = it
}
