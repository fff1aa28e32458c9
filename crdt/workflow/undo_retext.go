package workflow

import (
	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
)

// An undo that puts back a text an entry overwrote or removed cannot bring
// back its record: the marker's dot is dead. It writes the string as a new
// text instead, and tells the other entries, whose typing names the old
// record's items, where those items live now: each visible item under the
// new item holding its character, each deleted one right after the new
// item of the visible one before it (the new text keeps no deleted items).
// Without it, a redo of typing into a text that an undo of its element's
// removal wrote again found no text to type into.

// putText writes it's captured text prior under k as a new text, and
// records the marker's and the items' moves.
func (inv *inverter) putText(k Key, it *undoItem) {
	b := inv.b
	s := it.prior.Value.Value.asString()
	m := b.newText(k, s)
	inv.remap[it.prior.Dot] = m
	if it.text == nil {
		return // an empty text: no item to follow
	}
	next := crdt.Dot{Replica: m.Replica, Counter: m.Counter + 1} // newText's first item
	var prev crdt.Dot                                            // the new item of the last visible one: none yet
	it.text.Runs(func(id crdt.Dot, n int, dead bool) {
		from := text.Dead{Replica: id.Replica, Range: crdt.Range{Lo: id.Counter, Hi: id.Counter + uint64(n) - 1}}
		if dead {
			inv.moves = append(inv.moves, textMove{from: from, to: prev, kind: moveAnchor})
			return
		}
		inv.moves = append(inv.moves, textMove{from: from, to: next, kind: moveRewritten})
		next.Counter += uint64(n)
		prev = crdt.Dot{Replica: next.Replica, Counter: next.Counter - 1}
	})
}

// followAnchors points the pieces the entry would type again at the items
// of a rewritten text: a piece is typed right after its old first item,
// which the rewrite kept (as a new item) or dropped (then it goes right
// after the new item of the visible one before it, or first).
func (ut *undoText) followAnchors(moves []textMove) {
	for i := range ut.del {
		id := ut.del[i].ID
		a := ut.anchor(id)
		if a == (crdt.Dot{}) {
			continue // first already
		}
		for _, mv := range moves {
			if mv.kind == moveRetyped || a.Replica != mv.from.Replica || a.Counter < mv.from.Lo || a.Counter > mv.from.Hi {
				continue
			}
			if mv.kind == moveRewritten {
				a = crdt.Dot{Replica: mv.to.Replica, Counter: mv.to.Counter + (a.Counter - mv.from.Lo)}
			} else {
				a = mv.to
			}
			if ut.after == nil {
				ut.after = map[crdt.Dot]crdt.Dot{}
			}
			ut.after[id] = a
			break
		}
	}
}

// anchor returns the item the piece starting at id is typed after: its
// own first item unless a rewrite of the text moved it.
func (ut *undoText) anchor(id crdt.Dot) crdt.Dot {
	if a, ok := ut.after[id]; ok {
		return a
	}
	return id
}
