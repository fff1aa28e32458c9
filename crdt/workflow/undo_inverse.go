package workflow

import (
	"cmp"
	"slices"

	"github.com/flowsync/flowsync/crdt"
)

// inverter writes the inverse of an undo entry into a builder. The rules,
// element by element (docs/ARCHITECTURE.md, "Undo and redo"):
//   - an element the entry added is removed, if its winning add is still
//     the entry's (or its redo's);
//   - an element the entry removed is added back with the values it had,
//     each replaced by a value another replica wrote to the removed element
//     later, if it is not live again already; an edge only while both its
//     ends are live;
//   - an element the entry re-added (replace-state keeps a block by
//     removing and adding it) gets its former record back, under the same
//     condition as an add;
//   - a field the entry wrote gets its former value back (or is cleared if
//     it had none) if it still holds the entry's value: a key someone else
//     wrote since keeps their value, and the keys of a unit (a block's
//     position, parent and extent, which a move writes together; a
//     sub-block's value and type) are restored together or not at all;
//   - nothing is written to a block that is locked or under a locked
//     container, except its own locked flag, and no block or edge is put
//     into or onto one: the lock rule as the server applies it to a raw
//     delta (rooms' lock admission), read in the document before the undo.
type inverter struct {
	b *builder
	// remap maps the dot of every value the inverse rewrites to the dot it
	// now lives under, for the entries that expect it (UndoStep.Commit).
	remap map[crdt.Dot]crdt.Dot
	// mine reports whether a dot is this manager's own write (see
	// UndoConfig.SharedReplica); any other is another author's.
	mine func(crdt.Dot) bool
	// moves lists the items the inverse typed again (undo_texts.go).
	moves []textMove
}

// invert writes the inverse of e, element by element in a fixed order:
// blocks and variables first, so that an edge restored with its ends sees
// them live.
func (inv *inverter) invert(e *undoEntry) {
	byEnt := make(map[entity][]*undoItem, len(e.items))
	for i := range e.items {
		it := &e.items[i]
		ent := entityOf(it.key)
		byEnt[ent] = append(byEnt[ent], it)
	}
	ents := make([]entity, 0, len(byEnt))
	for ent := range byEnt {
		ents = append(ents, ent)
	}
	rank := func(k Kind) int {
		if k == KindEdge {
			return 1
		}
		return 0
	}
	slices.SortFunc(ents, func(a, c entity) int {
		return cmp.Or(cmp.Compare(rank(a.kind), rank(c.kind)), cmp.Compare(a.kind, c.kind), cmp.Compare(a.id, c.id))
	})
	for _, ent := range ents {
		items := byEnt[ent]
		slices.SortFunc(items, func(a, c *undoItem) int { return compareKeys(a.key, c.key) })
		inv.element(e, ent, items)
	}
	inv.texts(e)
}

func memberKey(ent entity) Key { return Key{Kind: ent.kind, ID: ent.id} }

// holds reports whether it's key still shows what the entry left there:
// the entry's value (followed through undos and redos), or nothing when the
// entry removed it. It reads the document before the inverse: the
// inverse's own re-adds would hide an edge the entry added to a block it
// restores (atomic records), which is still the entry's to remove.
func (inv *inverter) holds(it *undoItem) bool {
	w, ok := current(inv.b.doc, it.key)
	if it.cur == (crdt.Dot{}) {
		return !ok
	}
	return ok && w.Dot == it.cur
}

// wrote records that the value under old now lives under the dot just
// minted.
func (inv *inverter) wrote(old crdt.Dot) {
	if old != (crdt.Dot{}) {
		inv.remap[old] = crdt.Dot{Replica: inv.b.ts.Replica, Counter: inv.b.next - 1}
	}
}

func (inv *inverter) element(e *undoEntry, ent entity, items []*undoItem) {
	var mem *undoItem
	for _, it := range items {
		if it.key == memberKey(ent) {
			mem = it
		}
	}
	switch {
	case mem == nil:
		inv.fields(e, ent, items)
	case mem.cur == (crdt.Dot{}) && !mem.had:
		// Added and removed within the entry, or a removal of values no
		// record showed: nothing the user saw to restore.
	case mem.cur != (crdt.Dot{}):
		if !inv.holds(mem) || inv.protectedElement(ent) {
			return // removed or re-added by someone since
		}
		if mem.had {
			inv.restore(e, ent, items, mem, false)
		} else {
			inv.removeElement(ent)
		}
	default:
		if inv.b.has(mem.key) {
			return // added again since
		}
		inv.restore(e, ent, items, mem, true)
	}
}

// protectedElement reports whether ent is a block the lock rule protects.
func (inv *inverter) protectedElement(ent entity) bool {
	return ent.kind == KindBlock && protected(inv.b.doc, ent.id)
}

// removeElement removes every value of ent (an undone add). Edges of others
// attached to a removed block are left: the view hides them with it.
func (inv *inverter) removeElement(ent entity) {
	var keys []Key
	inv.b.doc.store.entityKeys(ent, func(k Key) { keys = append(keys, k) })
	for _, k := range keys {
		inv.b.remove(k)
	}
}

// restore adds ent back with the values items held before the entry (an
// undone removal, or an undone re-add). For a removal, a value another
// replica wrote to the removed element after its add (an edit concurrent
// with the removal, kept as an invisible orphan) wins over the captured one
// when it is later, so their edit reappears with the block. For a re-add, a
// value another replica wrote after the entry stays (rewritten under the
// restored record, which would hide it otherwise).
func (inv *inverter) restore(e *undoEntry, ent entity, items []*undoItem, mem *undoItem, orphans bool) {
	b := inv.b
	if ent.kind == KindEdge {
		e := mem.prior.Value.Value.asEdge()
		if !b.has(blockKey(e.Source)) || !b.has(blockKey(e.Target)) || protected(b.doc, e.Target) {
			return // an edge makes sense only between live ends
		}
		b.put(mem.key, mem.prior.Value.Value)
		inv.wrote(mem.prior.Dot)
		return
	}
	vals := make(map[Key]crdt.Dotted[Cell], len(items))
	for _, it := range items {
		if it != mem && it.had {
			vals[it.key] = it.prior
		}
	}
	var held []Key
	b.doc.store.entityKeys(ent, func(k Key) {
		if k == mem.key {
			return
		}
		held = append(held, k)
		w, ok := b.doc.rawWinner(k)
		if !ok {
			return
		}
		if !orphans {
			if !inv.mine(w.Dot) && stampOfEntry(w).Compare(e.stamp) > 0 {
				vals[k] = w
			}
			return
		}
		if predates(w, stampOfEntry(mem.prior)) {
			return
		}
		if old, captured := vals[k]; !captured || stampOfEntry(w).Compare(stampOfEntry(old)) > 0 {
			vals[k] = w
		}
	})
	if ent.kind == KindBlock {
		if p := vals[fieldKey(ent.id, FieldParentID)].Value.Value.asString(); p != "" && protected(b.doc, p) {
			return // the server refuses a child written into a locked container
		}
	}
	b.put(mem.key, mem.prior.Value.Value)
	inv.wrote(mem.prior.Dot)
	keys := make([]Key, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	for _, k := range keys {
		b.put(k, vals[k].Value.Value)
		inv.wrote(vals[k].Dot)
	}
	for _, k := range held {
		if _, ok := vals[k]; !ok {
			// Values of the record being replaced or of earlier ones: hidden
			// under the new add anyway, so removing them changes no view.
			b.remove(k)
		}
	}
}

// moveFields are the block fields a move writes together; they are undone
// together or not at all.
var moveFields = map[string]bool{FieldPosition: true, FieldParentID: true, FieldExtent: true}

// unitOf returns the keys undone together with k, all or none: a block's
// position, parent and extent (a move), a sub-block's value and type; nil
// for a key that stands alone.
func unitOf(k Key) []Key {
	switch {
	case k.Kind == KindBlockField && moveFields[k.Sub]:
		return []Key{fieldKey(k.ID, FieldParentID), fieldKey(k.ID, FieldExtent), fieldKey(k.ID, FieldPosition)}
	case k.Kind == KindSubBlock || k.Kind == KindSubBlockType:
		return []Key{subBlockKey(k.ID, k.Sub), subBlockTypeKey(k.ID, k.Sub)}
	}
	return nil
}

// fields undoes the entry's field writes to a live element.
func (inv *inverter) fields(e *undoEntry, ent entity, items []*undoItem) {
	b := inv.b
	if ent.kind == KindEdge || !b.has(memberKey(ent)) {
		return // edges have no fields; a removed element takes none
	}
	lockedBlock := ent.kind == KindBlock && protected(b.doc, ent.id)
	// A unit is undone only if every key of it the entry wrote still holds
	// the entry's value and no other replica wrote any key of it since.
	unitOK := map[Key]bool{}
	for _, it := range items {
		unit := unitOf(it.key)
		if unit == nil {
			continue
		}
		ok, seen := unitOK[unit[0]]
		if !seen {
			ok = !inv.writtenByOthers(e, unit)
		}
		if !inv.holds(it) {
			ok = false
		}
		if p := it.prior.Value.Value.asString(); it.key.Kind == KindBlockField && it.key.Sub == FieldParentID && it.had && p != "" && protected(b.doc, p) {
			ok = false // the server refuses a child put into a locked container
		}
		unitOK[unit[0]] = ok
	}
	for _, it := range items {
		if !inv.holds(it) {
			continue
		}
		if lockedBlock && !(it.key.Kind == KindBlockField && it.key.Sub == FieldLocked) {
			continue
		}
		if unit := unitOf(it.key); unit != nil && !unitOK[unit[0]] {
			continue
		}
		inv.field(it)
	}
}

// writtenByOthers reports whether another replica wrote one of keys after
// entry e: a block someone moved since stays where they put it, even in the
// fields they left, and a sub-block keeps its type with their value.
func (inv *inverter) writtenByOthers(e *undoEntry, keys []Key) bool {
	for _, k := range keys {
		w, ok := current(inv.b.doc, k)
		if ok && !inv.mine(w.Dot) && stampOfEntry(w).Compare(e.stamp) > 0 {
			return true
		}
	}
	return false
}

// field puts it's former value back, or clears the key if it had none.
// (Typing into a text writes no value: undo_texts.go inverts it.)
func (inv *inverter) field(it *undoItem) {
	if it.had {
		if err := inv.b.putValue(it.key, it.prior.Value.Value); err != nil {
			inv.b.put(it.key, it.prior.Value.Value)
		}
		inv.wrote(it.prior.Dot)
		return
	}
	inv.b.remove(it.key)
}
