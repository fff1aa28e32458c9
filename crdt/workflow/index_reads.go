package workflow

import (
	"maps"
	"slices"

	"github.com/flowsync/flowsync/crdt"
)

// The reads operations make through the document's index (index.go). An
// operation sees its document with its own writes laid over it, and the
// index covers only the document, so each read adds what the operation's
// delta holds (a handful of keys) and then checks every candidate with the
// same predicate the whole-document scan used: the answers are the scan's.

// entityKeysWhere returns, sorted, the keys of element ent in the document
// or in this operation's writes that match accepts.
func (b *builder) entityKeysWhere(ent entity, match func(Key) bool) []Key {
	seen := map[Key]bool{}
	consider := func(k Key) {
		if !seen[k] && entityOf(k) == ent && match(k) {
			seen[k] = true
		}
	}
	b.doc.store.entityKeys(ent, consider)
	b.delta.store.Range(func(k Key, _ []crdt.Dotted[Cell]) bool {
		consider(k)
		return true
	})
	return slices.SortedFunc(maps.Keys(seen), compareKeys)
}

// childFinder lists a block's present effective children, sorted: the
// children the view shows in it.
type childFinder struct {
	b     *builder
	t     *tree
	extra map[string][]string // parent → blocks whose parentId this operation wrote
}

func (b *builder) childFinder() *childFinder {
	f := &childFinder{b: b, t: treeOf(b), extra: map[string][]string{}}
	b.delta.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		if k.Kind == KindBlockField && k.Sub == FieldParentID {
			p := es[crdt.Winner(es)].Value.Value.asString()
			f.extra[p] = append(f.extra[p], k.ID)
		}
		return true
	})
	return f
}

func (f *childFinder) children(p string) []string {
	held := f.b.doc.index().children[p]
	out := make([]string, 0, len(held)+len(f.extra[p]))
	for c := range held {
		if f.t.parentOf(c) == p && blockExists(f.b, c) {
			out = append(out, c)
		}
	}
	// A block this operation moved may be held under p already; the index
	// set and the extra list hold each block once, so one lookup keeps the
	// result a set without a search per child.
	for _, c := range f.extra[p] {
		if _, dup := held[c]; !dup && f.t.parentOf(c) == p && blockExists(f.b, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// edgeFinder lists the present edges at a block: the document's through its
// index, and those this operation wrote (or writes later, through note).
type edgeFinder struct {
	b     *builder
	extra map[string][]string // block → edges of this operation naming it
}

func (b *builder) edgeFinder() *edgeFinder {
	f := &edgeFinder{b: b, extra: map[string][]string{}}
	b.delta.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		if k.Kind == KindEdge {
			for _, e := range es {
				f.note(k.ID, e.Value.Value.asEdge())
			}
		}
		return true
	})
	return f
}

func (f *edgeFinder) note(id string, e Edge) {
	for _, end := range [2]string{e.Source, e.Target} {
		if !slices.Contains(f.extra[end], id) {
			f.extra[end] = append(f.extra[end], id)
		}
	}
}

// at calls fn with every present edge with an end at block, as the
// operation sees it, in unspecified order, each once.
func (f *edgeFinder) at(block string, fn func(Edge)) {
	seen := map[string]bool{}
	visit := func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		if !f.b.has(edgeKey(id)) {
			return
		}
		e := f.b.get(edgeKey(id)).asEdge()
		if e.Source == block || e.Target == block {
			e.ID = id
			fn(e)
		}
	}
	for id := range f.b.doc.index().edgesAt[block] {
		visit(id)
	}
	for _, id := range f.extra[block] {
		visit(id)
	}
}

// nameSet is the normalized names present blocks show, mapped to their
// block, as the operation found them when it asked, plus the names it adds
// with set. Lookups go through the index while no two blocks share a name
// (then every block shows its own name); otherwise, and when the operation
// has written already, it falls back to the whole computation.
type nameSet struct {
	doc   *Doc
	full  map[string]string
	added map[string]string
}

func (s *nameSet) lookup(n string) (string, bool) {
	if s.full != nil {
		id, ok := s.full[n]
		return id, ok
	}
	if id, ok := s.added[n]; ok {
		return id, true
	}
	for id := range s.doc.index().names[n] {
		if !blockExists(s.doc, id) {
			continue
		}
		if w, ok := s.doc.winner(fieldKey(id, FieldName)); ok && NormalizeName(w.Value.Value.asString()) == n {
			return id, true
		}
	}
	return "", false
}

func (s *nameSet) set(n, id string) {
	if s.full != nil {
		s.full[n] = id
		return
	}
	if s.added == nil {
		s.added = map[string]string{}
	}
	s.added[n] = id
}
