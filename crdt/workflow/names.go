package workflow

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/flowsync/flowsync/crdt"
)

// nameEntry is one visible block's name, with the stamp of the write that
// set it.
type nameEntry struct {
	id, name string
	at       stamp
}

// resolveNameList enforces unique names. Rule (concurrent renames): when
// several visible blocks share a normalized name, the one whose name was
// written first (hybrid time, then dot, then block id) keeps it and the
// others show it with the smallest numeric suffix (" 2", " 3", …) that is
// free. It sorts es in that order and rewrites each name to the shown one.
// The view and the operations' name checks both use it, so a name an
// operation accepts is one the view shows unchanged.
func resolveNameList(es []nameEntry) {
	slices.SortFunc(es, func(a, b nameEntry) int {
		if c := a.at.compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	taken := make(map[string]bool, len(es))
	for i := range es {
		e := &es[i]
		norm := NormalizeName(e.name)
		if norm == "" {
			continue
		}
		if taken[norm] {
			for n := 2; ; n++ {
				name := e.name + " " + strconv.Itoa(n)
				if norm2 := NormalizeName(name); !taken[norm2] {
					e.name, norm = name, norm2
					break
				}
			}
		}
		taken[norm] = true
	}
}

// shownNames returns the names the view shows for the given live blocks.
func shownNames(r reader, ids []string) []nameEntry {
	es := make([]nameEntry, 0, len(ids))
	for _, id := range ids {
		e := nameEntry{id: id}
		if w, ok := r.winner(fieldKey(id, FieldName)); ok {
			e.name, e.at = w.Value.Value.asString(), stampOf(w)
		}
		es = append(es, e)
	}
	// Suffixes appear only where two blocks share a normalized name; without
	// such a pair every block shows its own name and the sort is skipped.
	seen := make(map[string]bool, len(es))
	for _, e := range es {
		n := NormalizeName(e.name)
		if n == "" {
			continue
		}
		if seen[n] {
			resolveNameList(es)
			return es
		}
		seen[n] = true
	}
	return es
}

// blockNames maps the normalized name every present block shows (in the
// view, after the concurrent-names rule) to its id. Every live block shows
// (tree.go), so no hidden block holds a name. While no two blocks share a
// name and the operation has written nothing, every block shows its stored
// name and the index answers each lookup; otherwise the set is computed
// over every block.
func (b *builder) blockNames() *nameSet {
	if b.delta.IsEmpty() && b.doc.index().shared == 0 {
		return &nameSet{doc: b.doc}
	}
	names := map[string]string{}
	for _, e := range shownNames(b, b.liveIDs(KindBlock)) {
		if n := NormalizeName(e.name); n != "" {
			names[n] = e.id
		}
	}
	return &nameSet{full: names}
}

// Renamed is a block the view shows under another name than the one stored
// for it: two replicas gave blocks the same name concurrently, and the rule
// for concurrent names suffixed this one.
type Renamed struct {
	// ID is the block.
	ID string
	// Name is the stored name, the one its author asked for.
	Name string
	// ShownAs is the name the view shows, e.g. "Agent 4 2".
	ShownAs string
}

// RenamedBy returns, sorted by block id, the blocks whose name replica
// wrote last (it added or renamed them) and that the view shows under
// another name. Clients report these to their user once per rename.
func RenamedBy(doc *Doc, replica crdt.ReplicaID) []Renamed {
	var ids []string
	mine := false
	doc.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		switch {
		case k.Kind == KindBlock:
			ids = append(ids, k.ID)
		case k.Kind == KindBlockField && k.Sub == FieldName:
			if w, ok := doc.winner(k); ok && w.Dot.Replica == replica {
				mine = true
			}
		}
		return true
	})
	if !mine {
		return nil // the common case: nothing of ours to report, no sort
	}
	var out []Renamed
	for _, e := range shownNames(doc, ids) {
		w, ok := doc.winner(fieldKey(e.id, FieldName))
		if !ok || w.Dot.Replica != replica {
			continue
		}
		if stored := w.Value.Value.asString(); stored != e.name {
			out = append(out, Renamed{ID: e.id, Name: stored, ShownAs: e.name})
		}
	}
	slices.SortFunc(out, func(a, b Renamed) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
