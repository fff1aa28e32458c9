package workflow

import (
	"cmp"
	"slices"
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
)

// An entry's typing is undone character by character, not as a whole
// value: undoing it deletes the characters the entry inserted that are
// still there and inserts again, where they stood, the characters it
// deleted. Characters others typed, before or since, are never touched.

// undoText is what one entry's edits did to one text: the items they
// inserted, and the items they deleted that were visible, with their
// content (a text drops a deleted item's content).
type undoText struct {
	key    Key
	marker crdt.Dot
	ins    []text.Dead  // the entry's inserted items, coalesced ranges
	del    []text.Piece // the visible items it deleted, none of its own inserts
}

// textMove says that the items from (an undo's or redo's re-insert of
// deleted items) live again under the dots starting at to.
type textMove struct {
	from text.Dead
	to   crdt.Dot
}

// captureTexts adds the text edits of delta (not yet merged into doc) to
// e: for each record of doc it edits, the items it inserts and the visible
// items it deletes. A record delta creates (a new text) is left to the
// key's own item, which undoes the value whole. It returns how many items
// delta's records insert: dots of its context that name no value.
func (e *undoEntry) captureTexts(doc, delta *Doc) (items int) {
	switch len(delta.texts) {
	case 0:
		return 0
	case 1: // typing: one text, no order to fix
		for m, r := range delta.texts {
			items += e.captureText(doc, m, r)
		}
		return items
	}
	ms := make([]crdt.Dot, 0, len(delta.texts))
	for m := range delta.texts {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, compareDots)
	for _, m := range ms {
		items += e.captureText(doc, m, delta.texts[m])
	}
	return items
}

// captureText adds what delta record r does to doc's text m, and returns
// how many items r inserts.
func (e *undoEntry) captureText(doc *Doc, m crdt.Dot, r *textRec) int {
	items := r.t.NumItems()
	for _, w := range r.wait {
		items += w.Len
	}
	k, ok := doc.store.KeyOf(m)
	if !ok {
		return items // a text the edit creates: its key's item undoes it whole
	}
	held := doc.texts[m] // nil for an empty text
	ut := e.text(k, m)
	// The items the edit inserts: a keystroke's run waits in the delta's
	// record (its origins are in the document's); runs placed in it are
	// read from its text (which builds a context: rare).
	if r.t.NumItems() > 0 {
		ins := r.t.Context()
		for _, rep := range ins.Replicas() {
			for _, rg := range ins.Ranges(rep) {
				ut.addIns(text.Dead{Replica: rep, Range: rg})
			}
		}
	}
	for _, w := range r.wait {
		ut.addIns(text.Dead{Replica: w.ID.Replica, Range: crdt.Range{Lo: w.ID.Counter, Hi: w.Last().Counter}})
	}
	if held == nil {
		return items // nothing visible to delete
	}
	for _, x := range r.t.DeadRanges() {
		if !ut.overlapsIns(x) { // deleting what was there before the entry: the common case
			ut.del = held.t.AppendLive(ut.del, x)
			continue
		}
		for _, y := range ut.notInserted(x) {
			ut.del = held.t.AppendLive(ut.del, y)
		}
	}
	return items
}

// text returns e's record of text m under k, adding an empty one.
func (e *undoEntry) text(k Key, m crdt.Dot) *undoText {
	for i := range e.texts {
		if e.texts[i].marker == m {
			return &e.texts[i]
		}
	}
	e.texts = append(e.texts, undoText{key: k, marker: m})
	return &e.texts[len(e.texts)-1]
}

// addIns adds a range of inserted items, extending the last one when x
// continues it (typing).
func (ut *undoText) addIns(x text.Dead) {
	if n := len(ut.ins); n > 0 && ut.ins[n-1].Replica == x.Replica && ut.ins[n-1].Hi+1 == x.Lo {
		ut.ins[n-1].Hi = x.Hi
		return
	}
	ut.ins = append(ut.ins, x)
}

// overlapsIns reports whether x holds items the entry inserted.
func (ut *undoText) overlapsIns(x text.Dead) bool {
	for _, in := range ut.ins {
		if in.Replica == x.Replica && in.Lo <= x.Hi && in.Hi >= x.Lo {
			return true
		}
	}
	return false
}

// notInserted returns the parts of x that are not the entry's own inserts:
// a character typed and deleted within one entry is nothing to restore.
func (ut *undoText) notInserted(x text.Dead) []text.Dead {
	out := []text.Dead{x}
	for _, in := range ut.ins {
		if in.Replica != x.Replica {
			continue
		}
		var next []text.Dead
		for _, o := range out {
			if in.Hi < o.Lo || in.Lo > o.Hi {
				next = append(next, o)
				continue
			}
			if o.Lo < in.Lo {
				next = append(next, text.Dead{Replica: o.Replica, Range: crdt.Range{Lo: o.Lo, Hi: in.Lo - 1}})
			}
			if o.Hi > in.Hi {
				next = append(next, text.Dead{Replica: o.Replica, Range: crdt.Range{Lo: in.Hi + 1, Hi: o.Hi}})
			}
		}
		out = next
	}
	return out
}

// follow adds, to the entry's inserts, the items that re-inserts of them
// (by undos and redos) made.
func (ut *undoText) follow(moves []textMove) {
	n := len(ut.ins)
	for _, mv := range moves {
		for _, in := range ut.ins[:n] {
			if in.Replica != mv.from.Replica || in.Hi < mv.from.Lo || in.Lo > mv.from.Hi {
				continue
			}
			lo, hi := max(in.Lo, mv.from.Lo), min(in.Hi, mv.from.Hi)
			to := mv.to.Counter + (lo - mv.from.Lo)
			ut.ins = append(ut.ins, text.Dead{Replica: mv.to.Replica, Range: crdt.Range{Lo: to, Hi: to + (hi - lo)}})
		}
	}
}

// texts undoes the entry's typing, text by text in key order: only a text
// that still is the one the entry typed into (nobody replaced the value),
// of a live element the inverse does not rewrite, outside a lock.
func (inv *inverter) texts(e *undoEntry) {
	b := inv.b
	uts := make([]*undoText, 0, len(e.texts))
	for i := range e.texts {
		uts = append(uts, &e.texts[i])
	}
	slices.SortFunc(uts, func(a, c *undoText) int {
		return cmp.Or(compareKeys(a.key, c.key), compareDots(a.marker, c.marker))
	})
	for _, ut := range uts {
		ent := entityOf(ut.key)
		if !b.has(memberKey(ent)) || b.delta.store.Get(ut.key) != nil || inv.protectedElement(ent) {
			continue
		}
		if w, ok := current(b.doc, ut.key); !ok || w.Dot != ut.marker || !w.Value.Value.isTextMarker() {
			continue // the value was replaced since: the new one stays
		}
		inv.text(ut)
	}
}

// text writes the inverse of ut: its inserted items that are still
// visible are deleted, and each of its deleted pieces is typed again right
// after its first (deleted) item, where it stood.
func (inv *inverter) text(ut *undoText) {
	b, m := inv.b, ut.marker
	t := b.textOf(m)
	var dead []text.Dead
	for _, in := range ut.ins {
		for _, p := range t.Live(in) {
			dead = append(dead, text.Dead{Replica: p.ID.Replica, Range: crdt.Range{Lo: p.ID.Counter, Hi: p.ID.Counter + uint64(p.Len) - 1}})
		}
	}
	if len(dead) > 0 {
		b.killText(m, dead)
	}
	for _, p := range ut.del {
		at := crdt.Dot{Replica: b.ts.Replica, Counter: b.next}
		if b.typeAfter(m, p.ID, p.Text) != nil {
			continue // not known here (cannot happen: the entry's replica saw it)
		}
		inv.moves = append(inv.moves, textMove{from: text.Dead{Replica: p.ID.Replica, Range: crdt.Range{Lo: p.ID.Counter, Hi: p.ID.Counter + uint64(p.Len) - 1}}, to: at})
	}
}

// typeAfter inserts s into record m right after item after (a deleted
// one: where a piece the entry deleted stood), spending a dot per code
// point.
func (b *builder) typeAfter(m, after crdt.Dot, s string) error {
	id := crdt.Dot{Replica: b.ts.Replica, Counter: b.next}
	d, err := b.textOf(m).PlanInsertAfter(id, after, s)
	if err != nil {
		return err
	}
	n := uint64(utf8.RuneCountInString(s))
	b.next += n
	b.spent = true
	b.delta.ctx.AddRange(id.Replica, crdt.Range{Lo: id.Counter, Hi: id.Counter + n - 1})
	b.textDelta(m, d)
	return nil
}

// killText deletes the items dead of record m, spending a dot as a text
// delete does.
func (b *builder) killText(m crdt.Dot, dead []text.Dead) {
	if !b.spent {
		b.delta.ctx.Add(b.mint())
	}
	b.textDelta(m, text.Delta{Deleted: dead})
}

// textDelta adds d to the delta's record m, and to the operation's working
// copy of it when there is one.
func (b *builder) textDelta(m crdt.Dot, d text.Delta) {
	if b.delta.texts == nil {
		b.delta.texts = map[crdt.Dot]*textRec{}
	}
	r := b.delta.texts[m]
	if r == nil {
		r = newTextRec()
		b.delta.texts[m] = r
	}
	r.add(&d)
	if w := b.work[m]; w != nil {
		_ = w.Merge(d) // planned on w itself
	}
}
