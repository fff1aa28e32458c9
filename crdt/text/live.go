package text

import (
	"fmt"
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt"
)

// Piece is a stretch of visible items with consecutive dots of one
// replica, adjacent in the text: ID is the first item's dot, Len the
// number of items and Text their content.
type Piece struct {
	ID   crdt.Dot
	Len  int
	Text string
}

// Live returns the visible items among the dots of d, as pieces in counter
// order; dots t does not know or holds deleted are left out. An undo reads
// with it what a delete is about to remove (to insert it again later), and
// which of the items an insert made are still there (to delete them).
func (t *Text) Live(d Dead) []Piece { return t.AppendLive(nil, d) }

// AppendLive appends the pieces Live returns to out.
func (t *Text) AppendLive(out []Piece, d Dead) []Piece {
	rep, ok := t.ids.repOf(d.Replica)
	if !ok || d.Hi < d.Lo {
		return out
	}
	first := len(out) // pieces before it are the caller's: never extended
	last := none      // the item the last piece ends with
	for c := d.Lo; c <= d.Hi; {
		lv, k := t.ids.lookupRep(rep, c)
		if lv == none {
			c++
			continue
		}
		l, j := t.tree.locate(lv)
		sp := &l.spans[j]
		off := lv - sp.lv
		n := min(sp.n-off, k)
		if rest := d.Hi - c + 1; uint64(n) > rest {
			n = int32(rest)
		}
		if !sp.dead {
			b, e := sp.byteOffset(t.tree.text, off), sp.byteOffset(t.tree.text, off+n)
			s := string(sp.content(t.tree.text)[b:e])
			if p := len(out) - 1; p >= first && out[p].ID.Counter+uint64(out[p].Len) == c && t.adjacent(last, lv) {
				out[p].Len += int(n)
				out[p].Text += s
			} else {
				out = append(out, Piece{ID: crdt.Dot{Replica: d.Replica, Counter: c}, Len: int(n), Text: s})
			}
			last = lv + n - 1
		}
		c += uint64(n)
	}
	return out
}

// adjacent reports whether visible item b comes right after visible item a
// in the text, with no item (visible or not) between them.
func (t *Text) adjacent(a, b int32) bool {
	if a == none {
		return false
	}
	return t.tree.position(b) == t.tree.position(a)+1
}

// PlanInsertAfter returns the delta that typing s right after item after
// (deleted or not) under the dots id, id+1, … would produce, without
// changing t. An undo types deleted characters again this way, next to
// where they stood rather than at a visible index, so that pieces restored
// side by side keep their order among the deleted items around them.
func (t *Text) PlanInsertAfter(id, after crdt.Dot, s string) (Delta, error) {
	lv, ok := t.lvOf(after)
	if !ok || lv == none {
		return Delta{}, fmt.Errorf("%w: %v", ErrUnknownAnchor, after)
	}
	switch {
	case id.Replica == "":
		return Delta{}, ErrReplica
	case !utf8.ValidString(s):
		return Delta{}, ErrInvalidUTF8
	}
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return Delta{}, nil
	}
	if rep, ok := t.ids.repOf(id.Replica); id.Counter == 0 || ok && id.Counter <= t.ids.maxCounter(rep) {
		return Delta{}, fmt.Errorf("%w: counter %d of %q is not fresh", ErrCounter, id.Counter, id.Replica)
	}
	if uint64(n) > crdt.MaxCounter-id.Counter+1 || n > maxItems-int(t.ids.next) {
		return Delta{}, fmt.Errorf("%w: %d items after counter %d", ErrCounter, n, id.Counter-1)
	}
	right := none
	if c := t.tree.cursorAfter(lv); !c.atEnd() {
		right = c.span().lv + c.off
	}
	return Delta{Runs: []Run{{ID: id, Len: n, Text: s, Left: after, Right: t.dotOf(right)}}}, nil
}

// DeadRanges returns the deleted dots, sorted by replica and counter and
// coalesced (Deleted as ranges, without building a context).
func (t *Text) DeadRanges() []Dead { return t.deadRanges() }

// NumItems returns how many items t holds, deleted ones included.
func (t *Text) NumItems() int { return int(t.ids.next) }
