package text

import (
	"sort"

	"github.com/flowsync/flowsync/crdt"
)

// DeltaSince returns what a replica that has seen the inserts in have (nil:
// nothing) lacks: the runs of every item not in have, in document order,
// and every deleted dot. Deletes carry no dots of their own, so the set of
// deleted dots is sent whole; it is a set of ranges, small next to the text.
// DeltaSince(nil) is the whole state.
func (t *Text) DeltaSince(have *crdt.Context) Delta {
	var d Delta
	text := t.tree.text
	t.walk(func(s *span) {
		rep, c := t.ids.dot(s.lv)
		replica := t.ids.replicas[rep]
		hi := c + uint64(s.n) - 1
		var known []crdt.Range
		if have != nil {
			known = have.Ranges(replica)
		}
		i := sort.Search(len(known), func(i int) bool { return known[i].Hi >= c })
		content := s.content(text)
		off := 0 // byte offset of counter lo in content
		for lo := c; lo <= hi; {
			end := hi
			if i < len(known) && known[i].Lo <= hi {
				if known[i].Lo <= lo {
					skip := min(known[i].Hi, hi) - lo + 1
					off = advance(content, off, skip)
					lo += skip
					i++
					continue
				}
				end = known[i].Lo - 1
			}
			k := int32(lo - c)
			r := Run{ID: crdt.Dot{Replica: replica, Counter: lo}, Len: int(end - lo + 1), Right: t.dotOf(s.right)}
			if k == 0 {
				r.Left = t.dotOf(s.left)
			} else {
				r.Left = crdt.Dot{Replica: replica, Counter: lo - 1}
			}
			if !s.dead {
				next := advance(content, off, end-lo+1)
				r.Text = string(content[off:next])
				off = next
			}
			d.appendRun(r)
			lo = end + 1
		}
	})
	d.Deleted = t.deadRanges()
	return d
}

// appendRun adds r, folding it into the last run when it continues it.
func (d *Delta) appendRun(r Run) {
	if n := len(d.Runs); n > 0 {
		p := &d.Runs[n-1]
		if p.ID.Replica == r.ID.Replica && p.last().Counter+1 == r.ID.Counter && r.Left == p.last() &&
			r.Right == p.Right && (p.Text == "") == (r.Text == "") {
			p.Len += r.Len
			p.Text += r.Text
			return
		}
	}
	d.Runs = append(d.Runs, r)
}

// walk calls fn for every span in document order.
func (t *Text) walk(fn func(*span)) {
	for l := t.tree.first; l != nil; l = l.next {
		for i := range l.spans {
			fn(&l.spans[i])
		}
	}
}
