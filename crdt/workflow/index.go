package workflow

import (
	"slices"

	"github.com/flowsync/flowsync/crdt"
)

// docIndex is what lets an operation, and DeltaSince, touch only what they
// concern instead of scanning the document: secondary indexes over the
// document's store, kept up to date by Doc.Merge and rebuilt from the store
// when missing (after Decode, Clone, or a merge too large to follow key by
// key). It is derived state only: never encoded, never compared.
//
// Each index answers with a superset of the right answer, and callers check
// every candidate against the document with the same reads as before, so
// an index can make an operation cheaper but never change what it does:
//
//   - children: the blocks whose winning stored parentId names a block (a
//     block's effective parent is its stored one, or none; tree.go);
//   - names: the blocks whose winning stored name normalizes to a name;
//   - edgesAt: the edges with a value naming a block as an end;
//   - dots: per replica, the counters of the dots held, sorted, and removed,
//     the dots of the context no longer held (both for DeltaSince).
//
// An element's keys need no index: the store keeps each id's keys together
// (Store.entityKeys).
type docIndex struct {
	parent   map[string]string // block → parent its winning parentId names
	children map[string]map[string]struct{}
	name     map[string]string // block → its winning name, normalized
	names    map[string]map[string]struct{}
	// shared counts the normalized names that more than one block holds:
	// while it is 0 every block shows its own name (names.go).
	shared  int
	ends    map[string][]string // edge → the ends its values name
	edgesAt map[string]map[string]struct{}

	dots map[crdt.ReplicaID]*counters
	// removed holds the dots of d's context that d no longer holds, but
	// for those in pending, which merges append to (in no order) and
	// flushRemoved folds in: inserting one dot into the middle of a
	// replica's ranges moves every range after it, a cost that would grow
	// with the edit history on every edit. Read it through removedDots.
	removed crdt.Context
	pending []crdt.Dot
	foldAt  int          // pending dots that trigger a fold: see flushRemoved
	scratch []crdt.Range // flushRemoved's, kept to spare an allocation per fold

	// Scratch for merge, kept to spare the allocations on every edit.
	log joinLog
}

// entity is the element a key belongs to: a block (with its fields,
// sub-blocks and subflow config), an edge or a variable.
type entity struct {
	kind Kind // KindBlock, KindEdge or KindVariable
	id   string
}

func entityOf(k Key) entity {
	switch k.Kind {
	case KindBlock, KindBlockField, KindSubBlock, KindSubBlockType, KindSubflow:
		return entity{KindBlock, k.ID}
	case KindVariable, KindVariableField:
		return entity{KindVariable, k.ID}
	}
	return entity{k.Kind, k.ID}
}

// counters are one replica's held counters, ascending. Removals are lazy:
// a removed counter stays until compaction, and readers skip counters the
// store no longer holds. stale counts them, so compaction is amortized O(1).
type counters struct {
	cs    []uint64
	stale int
}

// index returns d's index, building it if it is missing.
func (d *Doc) index() *docIndex {
	if d.idx == nil {
		d.idx = buildIndex(d)
	}
	return d.idx
}

func buildIndex(d *Doc) *docIndex {
	x := &docIndex{
		parent:   map[string]string{},
		children: map[string]map[string]struct{}{},
		name:     map[string]string{},
		names:    map[string]map[string]struct{}{},
		ends:     map[string][]string{},
		edgesAt:  map[string]map[string]struct{}{},
		dots:     map[crdt.ReplicaID]*counters{},
	}
	var held crdt.Context
	d.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		x.derive(k, es)
		for _, e := range es {
			c := x.dots[e.Dot.Replica]
			if c == nil {
				c = &counters{}
				x.dots[e.Dot.Replica] = c
			}
			c.cs = append(c.cs, e.Dot.Counter)
		}
		return true
	})
	for r, c := range x.dots {
		slices.Sort(c.cs)
		for _, n := range c.cs {
			held.Add(crdt.Dot{Replica: r, Counter: n})
		}
	}
	x.removed = *d.ctx.Missing(&held)
	x.foldAt = max(pendingMin, x.removed.NumRanges()/8)
	x.pending = make([]crdt.Dot, 0, x.foldAt)
	return x
}

// merge joins delta into d keeping x up to date, and reports false (having
// done nothing) when delta is too large to follow dot by dot: the caller
// then merges and drops the index. The store's join reports what it
// changed (joinLog), so the index looks up nothing the join has not.
func (x *docIndex) merge(d, delta *Doc) (int, bool) {
	if delta.ctx.Len() > uint64(d.store.NumDots()) {
		return 0, false
	}
	lg := &x.log
	lg.reset()
	n := d.store.join(&delta.store, &d.ctx, &delta.ctx, lg)
	d.ctx.Merge(&delta.ctx)
	for _, s := range lg.slots {
		x.derive(s.key(), s.es) // es is nil once the key holds nothing
	}
	for _, dot := range lg.added {
		x.addDot(dot)
	}
	for _, dot := range lg.gone {
		x.pending = append(x.pending, dot)
		if c := x.dots[dot.Replica]; c != nil {
			// Overcounts a dot that was never held; compaction recounts.
			if c.stale++; c.stale > len(c.cs)/2 {
				x.compact(d, dot.Replica, c)
			}
		}
	}
	lg.reset()
	if len(x.pending) >= x.foldAt {
		x.flushRemoved()
	}
	return n, true
}

// pendingMin is the fewest pending removed dots folded in at once: below
// it a fold costs more than the searches it saves.
const pendingMin = 256

// flushRemoved folds the pending dots into removed: sorted, they make a
// context in one pass, and one linear merge adds it. Folding once the
// pending dots are an eighth of removed's ranges costs O(1) amortized per
// dot on top of the sort.
func (x *docIndex) flushRemoved() {
	if len(x.pending) == 0 {
		return
	}
	slices.SortFunc(x.pending, compareDots)
	for ps := x.pending; len(ps) > 0; {
		r := ps[0].Replica
		rs := x.scratch[:0]
		for len(ps) > 0 && ps[0].Replica == r {
			c := ps[0].Counter
			ps = ps[1:]
			if n := len(rs); n > 0 && rs[n-1].Hi+1 >= c { // sorted: c ≥ Hi
				rs[n-1].Hi = c
				continue
			}
			rs = append(rs, crdt.Range{Lo: c, Hi: c})
		}
		x.scratch = rs
		if len(x.removed.Ranges(r)) == 0 {
			rs = slices.Clone(rs) // AddRanges keeps a new replica's slice
		}
		x.removed.AddRanges(r, rs)
	}
	clear(x.pending) // drop the replica ids until the next fold
	x.pending = x.pending[:0]
	x.foldAt = max(pendingMin, x.removed.NumRanges()/8)
}

// removedDots returns the dots of d's context that d no longer holds.
func (x *docIndex) removedDots() *crdt.Context {
	x.flushRemoved()
	return &x.removed
}

func (x *docIndex) addDot(dot crdt.Dot) {
	c := x.dots[dot.Replica]
	if c == nil {
		c = &counters{}
		x.dots[dot.Replica] = c
	}
	if n := len(c.cs); n == 0 || c.cs[n-1] < dot.Counter {
		c.cs = append(c.cs, dot.Counter) // the common case: a replica's next write
		return
	}
	if i, found := slices.BinarySearch(c.cs, dot.Counter); !found {
		c.cs = slices.Insert(c.cs, i, dot.Counter)
	}
}

// compact drops the counters of replica r that d no longer holds.
func (x *docIndex) compact(d *Doc, r crdt.ReplicaID, c *counters) {
	c.cs = slices.DeleteFunc(c.cs, func(n uint64) bool { return !d.store.Has(crdt.Dot{Replica: r, Counter: n}) })
	c.stale = 0
	if len(c.cs) == 0 {
		delete(x.dots, r)
	}
}

// derive brings the parent, name and edge indexes up to date for key k,
// whose values are now es.
func (x *docIndex) derive(k Key, es []crdt.Dotted[Cell]) {
	switch {
	case k.Kind == KindBlockField && k.Sub == FieldParentID:
		p := ""
		if w := crdt.Winner(es); w >= 0 {
			p = es[w].Value.Value.asString()
		}
		x.setParent(k.ID, p)
	case k.Kind == KindBlockField && k.Sub == FieldName:
		n := ""
		if w := crdt.Winner(es); w >= 0 {
			n = NormalizeName(es[w].Value.Value.asString())
		}
		x.setName(k.ID, n)
	case k.Kind == KindEdge:
		// Sorted and deduplicated in one pass: a key crowded with
		// concurrent values must not cost a search per end.
		ends := make([]string, 0, 2*len(es))
		for _, e := range es {
			ed := e.Value.Value.asEdge()
			ends = append(ends, ed.Source, ed.Target)
		}
		slices.Sort(ends)
		x.setEnds(k.ID, slices.Compact(ends))
	}
}

func (x *docIndex) setParent(id, p string) {
	old := x.parent[id]
	if old == p {
		return
	}
	unlink(x.children, old, id)
	delete(x.parent, id)
	if p != "" {
		link(x.children, p, id)
		x.parent[id] = p
	}
}

func (x *docIndex) setName(id, n string) {
	old := x.name[id]
	if old == n {
		return
	}
	if old != "" {
		if len(x.names[old]) == 2 {
			x.shared--
		}
		unlink(x.names, old, id)
		delete(x.name, id)
	}
	if n != "" {
		link(x.names, n, id)
		if len(x.names[n]) == 2 {
			x.shared++
		}
		x.name[id] = n
	}
}

// setEnds records the ends (sorted, distinct) of edge id.
func (x *docIndex) setEnds(id string, ends []string) {
	for _, end := range x.ends[id] {
		if _, still := slices.BinarySearch(ends, end); !still {
			unlink(x.edgesAt, end, id)
		}
	}
	for _, end := range ends {
		link(x.edgesAt, end, id)
	}
	if len(ends) == 0 {
		delete(x.ends, id)
	} else {
		x.ends[id] = ends
	}
}

func link(m map[string]map[string]struct{}, at, id string) {
	s := m[at]
	if s == nil {
		s = map[string]struct{}{}
		m[at] = s
	}
	s[id] = struct{}{}
}

func unlink(m map[string]map[string]struct{}, at, id string) {
	if s := m[at]; s != nil {
		delete(s, id)
		if len(s) == 0 {
			delete(m, at)
		}
	}
}

// since is DeltaSince. The values have lacks are those whose dots are in
// d's context and not in have: each replica's missing ranges, looked up in
// its sorted counters. The delta's context must let a replica at have
// remove what d removed without removing what d still holds: it is every
// dot of d's context except the held ones have has seen, which is the dots
// have lacks plus the dots d no longer holds (x.removed).
func (x *docIndex) since(d *Doc, have *crdt.Context) *Doc {
	out := &Doc{}
	missing := d.ctx.Missing(have)
	for _, r := range missing.Replicas() {
		c := x.dots[r]
		if c == nil {
			continue
		}
		for _, rg := range missing.Ranges(r) {
			i, _ := slices.BinarySearch(c.cs, rg.Lo)
			for ; i < len(c.cs) && c.cs[i] <= rg.Hi; i++ {
				dot := crdt.Dot{Replica: r, Counter: c.cs[i]}
				k, ok := d.store.KeyOf(dot)
				if !ok {
					continue // removed; compaction has not dropped it yet
				}
				for _, e := range d.store.Get(k) {
					if e.Dot == dot {
						out.store.Put(k, dot, e.Value)
					}
				}
			}
		}
	}
	missing.Merge(x.removedDots())
	out.ctx = *missing
	out.texts = d.textsSince(have, "", nil)
	return out
}
