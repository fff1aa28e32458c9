package workflow

import "github.com/flowsync/flowsync/crdt"

// Records are atomic. A block or a variable is one record per id: the add
// that wins its membership key (the greatest hybrid timestamp, then the
// greatest dot, as last-writer-wins picks) is the element's incarnation, and
// a value of the element written before that add's timestamp belongs to an
// earlier or a losing incarnation and is not part of the record: it reads as
// absent, so the field shows its default.
//
// An add writes its membership and every field it sets at one timestamp, so
// of two concurrent adds of one id the winner's record shows whole and the
// loser's values vanish whole, even the fields the winner left at their
// defaults (which an add does not write). Edits made after an add were
// stamped after it (a replica's clock moves past every timestamp it merges),
// so they still apply; so do values written concurrently with the add at a
// later hybrid time. A removed and re-added id does not show values written
// concurrently with the removal, unless they were stamped after the re-add.
//
// Hidden values stay in the state (a later removal covers them like any
// other); only reads change. Every read of the document goes through
// current, so operations and the view never disagree about a value.

// ownerKey returns the membership key whose winning entry decides which of
// k's values are current, and false when k's values stand alone (membership
// keys themselves, and edges, whose one value is their whole record and
// which edgePredatesAnEnd checks against their ends instead).
func ownerKey(k Key) (Key, bool) {
	switch k.Kind {
	case KindBlockField, KindSubBlock, KindSubBlockType, KindSubflow:
		return blockKey(k.ID), true
	case KindVariableField:
		return variableKey(k.ID), true
	}
	return Key{}, false
}

// rawReader reads the last-writer-wins winner under a key before the
// incarnation rule: *Doc from its store, *builder with its own writes laid
// over its document.
type rawReader interface {
	rawWinner(Key) (crdt.Dotted[Cell], bool)
}

// current returns the winning entry under k if it belongs to its element's
// incarnation (for an edge: to the incarnations of both its ends). Checking the winner is enough: every other entry under k is
// older, so when the winner predates the incarnation they all do. A key
// whose element has no membership entry (removed, or written by a raw
// delta) keeps its values: no incarnation says they are stale, and no
// visible record shows them.
func current(r rawReader, k Key) (crdt.Dotted[Cell], bool) {
	w, ok := r.rawWinner(k)
	if !ok {
		return w, false
	}
	if owner, dependent := ownerKey(k); dependent {
		if inc, live := r.rawWinner(owner); live && predates(w, stampOfEntry(inc)) {
			return crdt.Dotted[Cell]{}, false
		}
	}
	if k.Kind == KindEdge && edgePredatesAnEnd(r, w) {
		return crdt.Dotted[Cell]{}, false
	}
	return w, true
}

// edgePredatesAnEnd reports whether edge entry w was added before the
// incarnation of one of its ends: it joined an earlier or a losing record of
// that block (one removed and re-added since, or a concurrent add that lost),
// not the one that shows, so it goes with that record. An edge added in the
// same operation as its ends carries their timestamp and stays.
func edgePredatesAnEnd(r rawReader, w crdt.Dotted[Cell]) bool {
	e := w.Value.Value.asEdge()
	for _, end := range [2]string{e.Source, e.Target} {
		if inc, ok := r.rawWinner(blockKey(end)); ok && predates(w, stampOfEntry(inc)) {
			return true
		}
	}
	return false
}

// predates reports whether entry e was written before an incarnation
// stamped inc. Values written at the incarnation's own timestamp are the
// add's own.
func predates(e crdt.Dotted[Cell], inc crdt.Timestamp) bool {
	return e.Value.Stamp(e.Dot).Compare(inc) < 0
}

func stampOfEntry(e crdt.Dotted[Cell]) crdt.Timestamp { return e.Value.Stamp(e.Dot) }

// incarnation returns the timestamp of the winning membership entry under
// owner, and false when the element has none.
func (d *Doc) incarnation(owner Key) (crdt.Timestamp, bool) {
	w, ok := d.rawWinner(owner)
	if !ok {
		return crdt.Timestamp{}, false
	}
	return stampOfEntry(w), true
}

// checkStamps refuses, with ErrInvalid, an operation that writes a value
// stamped before the incarnation it belongs to: the value would be hidden the
// moment it is merged. An honest replica never does this, since its clock
// moved past the add when it merged it; a replica whose clock ignores what it
// merges would otherwise see its edits vanish without a word. The offending
// key named is the smallest, so the message does not depend on map order.
func (b *builder) checkStamps() error {
	var worst, owner Key
	var inc crdt.Timestamp
	found := false
	b.delta.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		o, dependent := ownerKey(k)
		if !dependent || (found && compareKeys(k, worst) >= 0) {
			return true
		}
		if w, ok := b.rawWinner(o); ok && predates(es[0], stampOfEntry(w)) {
			worst, owner, inc, found = k, o, stampOfEntry(w), true
		}
		return true
	})
	if !found {
		return nil
	}
	what := "block"
	if owner.Kind == KindVariable {
		what = "variable"
	}
	return errorf(ErrInvalid, "%s %q: written at %d.%d, before its add at %d.%d by %q: the replica's clock must move past every timestamp it merges",
		what, owner.ID, b.ts.Wall, b.ts.Logical, inc.Wall, inc.Logical, inc.Replica)
}
