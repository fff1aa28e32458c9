package workflow

import (
	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
)

// undoEntry is one undoable step: the keys a group of local edits wrote or
// removed, each with what it held before the group and the dot the group
// left under it.
type undoEntry struct {
	// stamp is the timestamp of the group's first edit: a value another
	// replica wrote after it was written after the entry.
	stamp crdt.Timestamp
	items []undoItem
	// at indexes items by key once there are more than a few and a lookup
	// needs it, so that a long burst of edits stays one item per key found
	// in O(1).
	at map[Key]int
	// one holds the items of the common entry, one key written, so that
	// recording it costs one allocation.
	one [1]undoItem
	// texts is what the entry's typing did, text by text (undo_texts.go).
	texts []undoText
}

func newUndoEntry(stamp crdt.Timestamp) *undoEntry {
	e := &undoEntry{stamp: stamp}
	e.items = e.one[:0]
	return e
}

// reuse empties a dropped entry for a new group stamped stamp, keeping its
// items' storage.
func (e *undoEntry) reuse(stamp crdt.Timestamp) {
	clear(e.items)
	clear(e.texts)
	e.stamp, e.items, e.at, e.texts = stamp, e.items[:0], nil, e.texts[:0]
}

// isEmpty reports whether e captured nothing to undo.
func (e *undoEntry) isEmpty() bool { return len(e.items) == 0 && len(e.texts) == 0 }

// undoItem is one key an entry touched. Undoing it puts prior back when
// the key still holds cur (followed through later undos and redos, which
// rewrite values under new dots).
type undoItem struct {
	key Key
	// prior is the current entry under key before the group's first edit
	// (the incarnation rule applied); had is false when the key showed
	// nothing.
	prior crdt.Dotted[Cell]
	had   bool
	// cur is the dot the group's last edit wrote under key, the zero Dot
	// when it removed the key.
	cur crdt.Dot
	// isText says prior was a text (held as its string); text is its
	// record, nil for an empty one. The edit kills the record (its marker
	// is overwritten or removed), so nothing writes to it again: an undo
	// reads it to tell other entries where its items live in the text it
	// writes instead (undo_retext.go).
	isText bool
	text   *text.Text
}

// linearItems is how many items an entry scans before it builds its index.
const linearItems = 8

func (e *undoEntry) find(k Key) int {
	if e.at == nil && len(e.items) > linearItems {
		e.at = make(map[Key]int, 2*len(e.items))
		for i := range e.items {
			e.at[e.items[i].key] = i
		}
	}
	if e.at != nil {
		if i, ok := e.at[k]; ok {
			return i
		}
		return -1
	}
	for i := range e.items {
		if e.items[i].key == k {
			return i
		}
	}
	return -1
}

// touch records that the edit being captured left cur under k, which held
// what doc shows before it; an item already present keeps its prior (the
// value before the whole group). fresh says k cannot be present (the first
// edit of an entry writes each key once), which spares the lookup.
func (e *undoEntry) touch(doc *Doc, r rawReader, k Key, held []crdt.Dotted[Cell], cur crdt.Dot, fresh bool) {
	if !fresh {
		if i := e.find(k); i >= 0 {
			e.items[i].cur = cur
			return
		}
	}
	e.items = append(e.items, undoItem{key: k, cur: cur})
	it := &e.items[len(e.items)-1]
	if w := crdt.Winner(held); w >= 0 {
		it.prior, it.had = currentEntry(r, k, held[w])
		if it.had && it.prior.Value.Value.isTextMarker() {
			// A text is restored as the string it held (as a new text):
			// its record goes with the marker the edit overwrites.
			it.isText = true
			if r := doc.texts[it.prior.Dot]; r != nil {
				it.text = r.t
			}
			it.prior.Value.Value = doc.textValue(it.prior.Dot)
		}
	}
	if e.at != nil {
		e.at[k] = len(e.items) - 1
	}
}

// capture adds what undoing delta takes, delta not yet merged into doc:
// every key it writes, and every key whose values its context removes
// without writing it anew (a removal's cascade).
func (e *undoEntry) capture(doc, delta *Doc) {
	items := e.captureTexts(doc, delta)
	covered := 0 // dots of doc the writes below cover
	touched := 0 // keys touched, for countCapture
	if countCapture != nil {
		defer func() { countCapture(touched) }()
	}
	fresh := len(e.items) == 0
	delta.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		held := doc.store.Get(k)
		covered += len(held)
		e.touch(doc, doc, k, held, es[crdt.Winner(es)].Dot, fresh)
		touched++
		return true
	})
	// A write covers exactly the values its key held: when the context holds
	// nothing else but the delta's own dots, nothing was removed on its own
	// (the common edit: one field written).
	n := delta.ctx.Len()
	if n == uint64(delta.store.NumDots()+covered+items) {
		return // (a text's inserted items are dots of the context too)
	}
	r := &ownerMemo{doc: doc}
	removed := func(d crdt.Dot) {
		if delta.store.Has(d) {
			return
		}
		if k, ok := doc.store.KeyOf(d); ok && delta.store.Get(k) == nil {
			// In an entry that was empty, a key holding one value is met
			// once: no lookup of an earlier item needed (nor the index a
			// removal's many keys would build for it). A capture in parts
			// (UndoRecording) meets a one-value key in one part only.
			held := doc.store.Get(k)
			e.touch(doc, r, k, held, crdt.Dot{}, fresh && len(held) == 1)
			touched++
		}
	}
	// Walk whichever is smaller, the delta's context or the document's dots
	// (a context may name ranges far larger than anything held).
	if n <= uint64(doc.store.NumDots()) {
		delta.ctx.ForEach(func(d crdt.Dot) bool { removed(d); return true })
		return
	}
	doc.store.Dots(func(d crdt.Dot) {
		if delta.ctx.Contains(d) {
			removed(d)
		}
	})
}

// countCapture, when set (CountUndoCapture), is told how many keys each
// capture touched.
var countCapture func(keys int)

// CountUndoCapture makes every undo capture (UndoManager.Record, each
// UndoRecording.Part) call fn with how many keys it touched, until stop is
// called: tests bound the work of one capture by counts, not time. Not
// safe to call while captures run.
func CountUndoCapture(fn func(keys int)) (stop func()) {
	countCapture = fn
	return func() { countCapture = nil }
}

// follow points items at the dots a committed undo or redo rewrote their
// values under.
func (e *undoEntry) follow(remap map[crdt.Dot]crdt.Dot) {
	for i := range e.items {
		if nd, ok := remap[e.items[i].cur]; ok && e.items[i].cur != (crdt.Dot{}) {
			e.items[i].cur = nd
		}
	}
	for i := range e.texts {
		if nd, ok := remap[e.texts[i].marker]; ok {
			e.texts[i].marker = nd // a text the step wrote again (putText)
		}
	}
}

// followTexts points the entry's typing at the items re-inserts made.
func (e *undoEntry) followTexts(moves []textMove) {
	for i := range e.texts {
		e.texts[i].follow(moves)
		e.texts[i].followAnchors(moves)
	}
}

// ownerMemo reads doc's raw winners for a capture, remembering those of
// membership keys: every field of a removed block asks for the block's
// incarnation, and each of its edges for its ends'.
type ownerMemo struct {
	doc  *Doc
	n    int
	keys [4]Key
	wins [4]crdt.Dotted[Cell]
	oks  [4]bool
}

func (r *ownerMemo) rawWinner(k Key) (crdt.Dotted[Cell], bool) {
	if k.Kind != KindBlock && k.Kind != KindVariable {
		return r.doc.rawWinner(k)
	}
	for i := range min(r.n, len(r.keys)) {
		if r.keys[i] == k {
			return r.wins[i], r.oks[i]
		}
	}
	w, ok := r.doc.rawWinner(k)
	i := r.n % len(r.keys)
	r.keys[i], r.wins[i], r.oks[i] = k, w, ok
	r.n++
	return w, ok
}
