package workflow

import (
	"slices"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
)

// docIndex is what lets an operation, and DeltaSince, touch only what they
// concern instead of scanning the document: secondary indexes over the
// document's store, kept up to date by Doc.Merge and built from the store
// when missing (after Decode or Clone). It is derived state only: never
// encoded, never compared.
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

	// deaths records which merge removed which dots, so that a catch-up
	// names only the removals its replica missed (deaths.go).
	deaths deaths
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

// PrimeIndex builds d's index now if it is missing. The first operation,
// DeltaSince or stepped merge after Decode or Clone builds it otherwise,
// at a cost that grows with the document (tens of milliseconds at 50,000
// blocks): a server primes a document it loads before serving it, so that
// no request pays for it in the room's loop.
func (d *Doc) PrimeIndex() { d.index() }

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
	byReplica := map[crdt.ReplicaID][]uint64{}
	d.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		x.derive(k, es)
		for _, e := range es {
			byReplica[e.Dot.Replica] = append(byReplica[e.Dot.Replica], e.Dot.Counter)
		}
		return true
	})
	for r, cs := range byReplica {
		slices.Sort(cs)
		for _, n := range cs {
			held.Add(crdt.Dot{Replica: r, Counter: n})
		}
		x.dots[r] = countersOf(cs)
	}
	x.removed = *d.ctx.Missing(&held)
	// Who removed what is not encoded: a replica lacking any dot of the
	// context the document was built with is sent every removed dot.
	x.deaths.base = *d.ctx.Clone()
	// pending is made at the first removal (merge): made here, it was
	// 6 KiB (256 dots) in every index, an idle room's included.
	x.foldAt = max(pendingMin, x.removed.NumRanges()/8)
	return x
}

// merge joins delta into d keeping x up to date. The store's join reports
// what it changed (joinLog), so the index looks up nothing the join has not.
//
// The join walks the dots of the context it is given. A delta's context may
// cover far more dots than d holds (the removal of a long history, or a
// replica naming its own counters up to the largest one): then it is given
// only the dots of that context d holds, found through the held-counter
// lists, and the values' dots, and the removed set grows by the rest of the
// context in ranges. Walking the whole store instead and rebuilding the
// index afterwards would cost a turn of the room loop what the document
// holds.
func (x *docIndex) merge(d, delta *Doc) int {
	oc := &delta.ctx
	wide := delta.ctx.Len() > uint64(d.store.NumDots())
	var own *crdt.Context
	if wide {
		own = dotsOf(&delta.store)
		oc = x.heldWithin(d, &delta.ctx)
		oc.Merge(own)
	}
	lg := &x.log
	lg.reset()
	x.deaths.begin(&delta.ctx, &d.ctx)
	n := d.store.join(&delta.store, &d.ctx, oc, lg)
	d.ctx.Merge(&delta.ctx)
	for _, dot := range lg.killed {
		x.deaths.removed(dot)
	}
	for _, dot := range lg.gone {
		// a dot the document had never seen that arrived removed (a
		// value removed by an edit of the same delta, or the edit's own
		// dot): a replica holding that value must be told, too
		if !wide && x.deaths.isFresh(dot) {
			x.deaths.removed(dot)
		}
	}
	if wide {
		for _, f := range x.deaths.fresh {
			var scratch [4]crdt.Range
			for _, rg := range crdt.AppendMissing(scratch[:0], []crdt.Range{f.rg}, own.Ranges(f.replica)) {
				x.deaths.removedRange(f.replica, rg)
			}
		}
	}
	for _, s := range lg.slots {
		x.derive(s.key(), s.es) // es is nil once the key holds nothing
	}
	for _, dot := range lg.added {
		x.addDot(dot)
	}
	if len(lg.gone) > 0 && x.pending == nil {
		x.pending = make([]crdt.Dot, 0, x.foldAt)
	}
	for _, dot := range lg.gone {
		x.pending = append(x.pending, dot)
		if c := x.dots[dot.Replica]; c != nil {
			if c.gone(dot.Counter, d, dot.Replica); c.empty() {
				delete(x.dots, dot.Replica)
			}
		}
	}
	if wide {
		// Every dot of the context but the delta's own values is not held
		// after the merge (see Store.join), and those are either held or
		// were removed before.
		x.removed.Merge(delta.ctx.Missing(own))
	}
	lg.reset()
	if len(x.pending) >= x.foldAt {
		x.flushRemoved()
	}
	return n
}

// heldWithin returns the dots of ctx that d holds, looked up in the
// held-counter lists: it costs ctx's ranges and the counters listed in
// them, not the dots ctx covers.
func (x *docIndex) heldWithin(d *Doc, ctx *crdt.Context) *crdt.Context {
	out := &crdt.Context{}
	for _, r := range ctx.Replicas() {
		c := x.dots[r]
		if c == nil {
			continue
		}
		for _, rg := range ctx.Ranges(r) {
			for cur := c.from(rg.Lo); ; {
				n, ok := cur.next()
				if !ok || n > rg.Hi {
					break
				}
				if dot := (crdt.Dot{Replica: r, Counter: n}); d.store.Has(dot) {
					out.Add(dot)
				}
			}
		}
	}
	return out
}

// dotsOf returns the context of the dots m holds.
func dotsOf(m *Store) *crdt.Context {
	var dots []crdt.Dot
	m.Dots(func(d crdt.Dot) { dots = append(dots, d) })
	slices.SortFunc(dots, compareDots)
	out := &crdt.Context{}
	for _, d := range dots {
		out.Add(d)
	}
	return out
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
	c.add(dot.Counter)
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
//
// With lean set (CatchUp), the removed dots are only those have may still
// hold (deaths.go) instead of all of them.
func (x *docIndex) since(d *Doc, have *crdt.Context, lean bool) *Doc {
	out := &Doc{}
	missing := d.ctx.Missing(have)
	for _, r := range missing.Replicas() {
		c := x.dots[r]
		if c == nil {
			continue
		}
		for _, rg := range missing.Ranges(r) {
			for cur := c.from(rg.Lo); ; {
				n, ok := cur.next()
				if !ok || n > rg.Hi {
					break
				}
				dot := crdt.Dot{Replica: r, Counter: n}
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
	// The removed dots have may still hold: those removed by the edits it
	// lacks (deaths.go), or all of them when that is cheaper to send or
	// cannot be told.
	var texts *map[crdt.Dot][]text.Dead // nil: every text delete
	if !lean {
		missing.Merge(x.removedDots())
	} else if extra, deleted, all := x.deaths.lacking(missing, 8*x.foldAt); all {
		missing.Merge(x.removedDots())
		missing.Merge(&x.deaths.sticky)
	} else {
		missing.Merge(extra)
		texts = &deleted
	}
	out.ctx = *missing
	out.texts = d.textsSince(have, "", nil, texts)
	return out
}
