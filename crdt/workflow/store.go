package workflow

import (
	"cmp"
	"slices"
	"sync/atomic"

	"github.com/flowsync/flowsync/crdt"
)

// Store is the document's dot store: the values written under each key,
// each tagged with the dot of its write. It has the semantics of
// crdt.DotMap[Key, Cell] (see there for the join rule) with a layout made
// for the document's whole-state paths:
//
//   - two levels: an id's keys (a block's membership, fields, sub-blocks,
//     ...) live together in one group, sorted by (kind, sub), so a walk of
//     the store visits the ~2 groups of each block or edge instead of a
//     dozen map entries each;
//   - the groups are also kept in id order (order.go), so Encode writes the
//     canonical order without sorting the values;
//   - the dot index is keyed by a replica number interned per store and a
//     counter: a map of small fixed-size keys.
//
// Ownership: a slice returned by Get or passed to Range is never changed
// by the store afterwards. The first change to a key after its slice was
// handed out builds a new slice, which the store then owns and changes in
// place until it hands it out again; so a caller may keep such a slice
// across later Puts, Joins and removals and still read what it read, it
// must not write to it, and a key crowded with values still costs
// amortized O(1) per value added. Clones share these slices for the same
// reason (neither side owns them).
//
// The zero Store is empty and ready to use.
type Store struct {
	groups map[string]*group
	byDot  dotIndex
	reps   replicaTable
	order  groupOrder
	keys   int // slots, i.e. keys holding at least one value
	dots   int
	// kindGroups[k] counts the groups holding a key of kind k: the
	// encoding's (kind, id) groups, which Encode places without counting.
	kindGroups [maxKind + 1]int
	// emptied is a join's scratch (see remove), kept to spare an
	// allocation on every edit.
	emptied []*slot
}

// group holds the keys of one id.
type group struct {
	id    string
	slots []*slot // sorted by (kind, sub); none is empty
	dead  bool    // removed from the store; a new group replaces it
	// nkind[k] counts the slots of kind k: Encode finds the runs of one
	// kind without reading the slots.
	nkind [maxKind + 1]int32
}

// added counts a slot of kind k added to g.
func (m *Store) added(g *group, k Kind) {
	if g.nkind[k]++; g.nkind[k] == 1 {
		m.kindGroups[k]++
	}
}

// slot holds the values under one key, sorted by dot (replica id, then
// counter): the order Encode writes them in.
type slot struct {
	g    *group
	kind Kind
	sub  string
	es   []crdt.Dotted[Cell] // see Store for who may write it
	// own reports that es was never handed out (Get, Range, a clone): the
	// store may then change it in place, so that a key receiving many
	// values costs amortized O(1) per value rather than a copy of the
	// whole slice each. Atomic because readers clear it, and a document
	// may be read by several goroutines at once.
	own atomic.Bool
	// first backs es while the key holds its first value: one allocation
	// per key. Like any backing array it is written only while own (a
	// merge that replaces the key's only value reuses it).
	first [1]crdt.Dotted[Cell]
}

func (s *slot) key() Key { return Key{s.kind, s.g.id, s.sub} }

// rdot is a dot with its replica interned in the store's replicaTable.
type rdot struct {
	r uint32
	c uint64
}

// replicaTable interns replica ids to small numbers. Numbers are never
// reused; a store keeps every replica it ever held a value of (the
// document's context keeps them anyway).
type replicaTable struct {
	ids   map[crdt.ReplicaID]uint32
	names []crdt.ReplicaID
}

func (t *replicaTable) lookup(r crdt.ReplicaID) (uint32, bool) {
	n, ok := t.ids[r]
	return n, ok
}

func (t *replicaTable) intern(r crdt.ReplicaID) uint32 {
	if n, ok := t.ids[r]; ok {
		return n
	}
	if t.ids == nil {
		t.ids = make(map[crdt.ReplicaID]uint32)
	}
	n := uint32(len(t.names))
	t.ids[r] = n
	t.names = append(t.names, r)
	return n
}

// replicaCache remembers the last replica a loop looked up: most runs of
// values share their replica. It is local to one call, so that reads of a
// store never write to it.
type replicaCache struct {
	name crdt.ReplicaID
	n    uint32
	ok   bool
	set  bool
}

func (c *replicaCache) lookup(t *replicaTable, r crdt.ReplicaID) (uint32, bool) {
	if !c.set || r != c.name {
		c.n, c.ok = t.lookup(r)
		c.name, c.set = r, true
	}
	return c.n, c.ok
}

func (c *replicaCache) intern(t *replicaTable, r crdt.ReplicaID) uint32 {
	if !c.set || !c.ok || r != c.name {
		c.n, c.ok, c.name, c.set = t.intern(r), true, r, true
	}
	return c.n
}

// entityKeys calls fn with every key of element ent.
func (m *Store) entityKeys(ent entity, fn func(Key)) {
	if g := m.groups[ent.id]; g != nil {
		for _, s := range g.slots {
			if k := s.key(); entityOf(k) == ent {
				fn(k)
			}
		}
	}
}

func (m *Store) rdotOf(d crdt.Dot) (rdot, bool) {
	n, ok := m.reps.lookup(d.Replica)
	return rdot{n, d.Counter}, ok
}

// Get returns the values held under k, sorted by dot. See Store for who
// owns the slice.
func (m *Store) Get(k Key) []crdt.Dotted[Cell] {
	if s := m.slotOf(k); s != nil {
		s.handOut()
		return s.es
	}
	return nil
}

func (m *Store) slotOf(k Key) *slot {
	g := m.groups[k.ID]
	if g == nil {
		return nil
	}
	if i, found := g.find(k.Kind, k.Sub); found {
		return g.slots[i]
	}
	return nil
}

// find returns where (kind, sub) is or would be in g.slots.
func (g *group) find(kind Kind, sub string) (int, bool) {
	return slices.BinarySearchFunc(g.slots, kind, func(s *slot, kind Kind) int {
		if c := cmp.Compare(s.kind, kind); c != 0 {
			return c
		}
		return cmp.Compare(s.sub, sub)
	})
}

// Has reports whether a value is written under dot d.
func (m *Store) Has(d crdt.Dot) bool {
	rd, ok := m.rdotOf(d)
	if !ok {
		return false
	}
	return ok && m.byDot.get(rd) != nil
}

// KeyOf returns the key that dot d is written under.
func (m *Store) KeyOf(d crdt.Dot) (Key, bool) {
	if rd, ok := m.rdotOf(d); ok {
		if s := m.byDot.get(rd); s != nil {
			return s.key(), true
		}
	}
	return Key{}, false
}

// Len returns the number of keys holding at least one value.
func (m *Store) Len() int { return m.keys }

// NumDots returns the number of values held.
func (m *Store) NumDots() int { return m.dots }

// Range calls fn for every key and its values, in unspecified order, until
// fn returns false. fn must not change m.
func (m *Store) Range(fn func(Key, []crdt.Dotted[Cell]) bool) {
	m.order.each(func(g *group) bool {
		for _, s := range g.slots {
			s.handOut()
			if !fn(Key{s.kind, g.id, s.sub}, s.es) {
				return false
			}
		}
		return true
	})
}

// Dots calls fn for every dot held, in unspecified order.
func (m *Store) Dots(fn func(crdt.Dot)) {
	m.byDot.each(func(rd rdot, _ *slot) {
		fn(crdt.Dot{Replica: m.reps.names[rd.r], Counter: rd.c})
	})
}

// Grow sizes an empty store for n values, so that decoding a document of
// known size does not rehash as it fills.
func (m *Store) Grow(n int) {
	if m.groups == nil && n > 0 {
		m.groups = make(map[string]*group, n/4)
	}
}

func (m *Store) init() {
	if m.groups == nil {
		m.groups = make(map[string]*group)
	}
}

// Put stores v under k with dot d and reports whether it did: it is how a
// mutator builds its delta and how a decoder rebuilds a store. A dot already
// held is left as it is (and Put returns false).
func (m *Store) Put(k Key, d crdt.Dot, v Cell) bool {
	m.init()
	rd := rdot{m.reps.intern(d.Replica), d.Counter}
	if m.byDot.get(rd) != nil {
		return false
	}
	m.insert(m.groupFor(k.ID), k.Kind, k.Sub, rd, crdt.Dotted[Cell]{Dot: d, Value: v}, nil)
	return true
}

// groupFor returns the group of id, making it if needed.
func (m *Store) groupFor(id string) *group {
	g := m.groups[id]
	if g == nil {
		g = &group{id: id}
		m.groups[id] = g
		m.order.add(g)
	}
	return g
}

// insert adds e (whose dot m does not hold) under (kind, sub) of g. A new
// key's slot comes from fresh when it is not nil (a decoder's slab).
func (m *Store) insert(g *group, kind Kind, sub string, rd rdot, e crdt.Dotted[Cell], fresh *slot) *slot {
	i, found := g.find(kind, sub)
	var s *slot
	if found {
		s = g.slots[i]
		j, _ := slices.BinarySearchFunc(s.es, e.Dot, func(x crdt.Dotted[Cell], d crdt.Dot) int { return compareDots(x.Dot, d) })
		s.claim(1)
		s.es = slices.Insert(s.es, j, e)
	} else {
		s = fresh
		if s == nil {
			s = &slot{}
		}
		s.g, s.kind, s.sub = g, kind, sub
		s.first[0] = e
		s.es = s.first[:1:1]
		s.own.Store(true)
		g.slots = slices.Insert(g.slots, i, s)
		m.added(g, kind)
		m.keys++
	}
	m.byDot.set(rd, s)
	m.dots++
	return s
}

// compareDots orders dots by replica id, then counter: the order of a key's
// values in the encoding.
func compareDots(a, b crdt.Dot) int {
	if c := cmp.Compare(a.Replica, b.Replica); c != 0 {
		return c
	}
	return cmp.Compare(a.Counter, b.Counter)
}

// remove drops the value with dot d (interned as rd) from s. A key left
// empty is dropped, or, when emptied is not nil, left in its group with no
// values and appended to *emptied: a join drops those it did not write
// again (dropEmptied), so that replacing a key's only value, what most
// edits do, reuses its slot instead of dropping it and making another.
func (m *Store) remove(rd rdot, d crdt.Dot, s *slot, emptied *[]*slot) {
	m.byDot.del(rd)
	m.dots--
	i := slices.IndexFunc(s.es, func(e crdt.Dotted[Cell]) bool { return e.Dot == d })
	if i < 0 {
		return
	}
	if len(s.es) == 1 {
		if emptied == nil {
			m.dropSlot(s)
			return
		}
		if s.own.Load() {
			clear(s.es) // drop the value's references; the array stays ours
			s.es = s.es[:0]
		} else {
			s.es = nil // handed out: the next value gets a new array
		}
		*emptied = append(*emptied, s)
		return
	}
	s.claim(0)
	s.es = slices.Delete(s.es, i, i+1)
}

// dropEmptied drops the slots remove left empty that are still empty.
func (m *Store) dropEmptied(emptied []*slot) {
	for _, s := range emptied {
		if len(s.es) == 0 && !s.g.dead {
			if i, found := s.g.find(s.kind, s.sub); found && s.g.slots[i] == s {
				m.dropSlot(s)
			}
		}
	}
}

// claim makes s.es a slice the store owns, with room for extra more
// values: a copy when it was handed out (the old one stays as it was).
func (s *slot) claim(extra int) {
	if s.own.Load() {
		return
	}
	es := make([]crdt.Dotted[Cell], len(s.es), 2*len(s.es)+extra)
	copy(es, s.es)
	s.es = es
	s.own.Store(true)
}

// handOut records that s.es leaves the store: the next change copies it.
func (s *slot) handOut() {
	if s.own.Load() {
		s.own.Store(false)
	}
}

// dropSlot removes an emptied key from its group, and the group from the
// store when it was its last key.
func (m *Store) dropSlot(s *slot) {
	g := s.g
	if i, found := g.find(s.kind, s.sub); found && g.slots[i] == s {
		g.slots = slices.Delete(g.slots, i, i+1)
		if g.nkind[s.kind]--; g.nkind[s.kind] == 0 {
			m.kindGroups[s.kind]--
		}
	}
	s.es = nil // the slot's own field: the slice itself is left as it was
	m.keys--
	if len(g.slots) == 0 {
		delete(m.groups, g.id)
		g.dead = true
		m.order.died()
	}
}

// crowdedSlot is how many values a key may hold before Join stops removing
// them one linear search at a time.
const crowdedSlot = 8

// compact drops from s the values whose dots byDot no longer points at s.
// The dots were already counted out.
func (m *Store) compact(s *slot) {
	kept := make([]crdt.Dotted[Cell], 0, len(s.es))
	for _, e := range s.es {
		if rd, ok := m.rdotOf(e.Dot); ok && m.byDot.get(rd) == s {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		m.dropSlot(s)
		return
	}
	s.es = kept
	s.own.Store(true)
}

// Join merges o, whose causal context is oc, into m, whose causal context is
// mc, with the rule and the costs of crdt.DotMap.Join. It does not change
// either context. It returns how many values were added or removed.
func (m *Store) Join(o *Store, mc, oc *crdt.Context) int { return m.join(o, mc, oc, nil) }

// joinLog is what a join changed, for the document index to follow.
type joinLog struct {
	// slots are the keys the index derives from (names, parents, edges)
	// that gained or lost values, in the order they changed: a key emptied
	// and written again appears as its old slot (no values), then its new.
	slots []*slot
	added []crdt.Dot // values added
	gone  []crdt.Dot // dots of the joined context that m does not hold after
	// killed are the dots of gone that m held before the join: the values
	// it removed (the catch-up records them: deaths.go).
	killed []crdt.Dot
}

func (l *joinLog) reset() {
	clear(l.slots) // drop the pointers until the next join
	l.slots, l.added, l.gone, l.killed = l.slots[:0], l.added[:0], l.gone[:0], l.killed[:0]
}

func (l *joinLog) touch(s *slot) {
	if s.kind == KindEdge || s.kind == KindBlockField && (s.sub == FieldName || s.sub == FieldParentID) {
		l.slots = append(l.slots, s)
	}
}

// join is Join, recording what it changed in log when log is not nil. With
// a log it walks oc's dots (the caller keeps oc no larger than m), so that
// every dot of oc is looked up once.
func (m *Store) join(o *Store, mc, oc *crdt.Context, log *joinLog) int {
	changed := 0
	var crowded map[*slot]struct{}
	drop := func(rd rdot, d crdt.Dot, s *slot) {
		changed++
		if log != nil {
			log.gone = append(log.gone, d)
			log.killed = append(log.killed, d)
			log.touch(s)
		}
		if len(s.es) <= crowdedSlot {
			m.remove(rd, d, s, &m.emptied)
			return
		}
		m.byDot.del(rd)
		m.dots--
		if crowded == nil {
			crowded = make(map[*slot]struct{})
		}
		crowded[s] = struct{}{}
	}
	// Removals first, walking the smaller side (see crdt.DotMap.Join).
	if log != nil || oc.Len() <= uint64(m.dots) {
		var rc replicaCache
		oc.ForEach(func(d crdt.Dot) bool {
			n, ok := rc.lookup(&m.reps, d.Replica)
			var s *slot
			if ok {
				s = m.byDot.get(rdot{n, d.Counter})
			}
			switch {
			case s != nil && !o.Has(d):
				drop(rdot{n, d.Counter}, d, s)
			case s == nil && log != nil && (mc.Contains(d) || !o.Has(d)):
				log.gone = append(log.gone, d) // not held, and the adds below skip it
			}
			return true
		})
	} else {
		m.byDot.each(func(rd rdot, s *slot) {
			d := crdt.Dot{Replica: m.reps.names[rd.r], Counter: rd.c}
			if oc.Contains(d) && !o.Has(d) {
				drop(rd, d, s)
			}
		})
	}
	for s := range crowded {
		m.compact(s)
	}
	// Add what o holds and m has never seen. m holds only dots mc has
	// seen, so mc alone decides; the dot index still refuses a dot m holds.
	m.reserve(len(o.groups), o.dots)
	m.init()
	var rc replicaCache
	// A delta mostly writes the keys whose values it removed: their groups
	// are found without a lookup by id.
	var near *group
	if len(m.emptied) > 0 {
		near = m.emptied[len(m.emptied)-1].g
	}
	o.order.each(func(og *group) bool {
		var g *group
		for _, os := range og.slots {
			for _, e := range os.es {
				if mc.Contains(e.Dot) {
					continue
				}
				rd := rdot{rc.intern(&m.reps, e.Dot.Replica), e.Dot.Counter}
				if m.byDot.get(rd) != nil {
					continue
				}
				if g == nil {
					if near != nil && !near.dead && near.id == og.id {
						g = near
					} else {
						g = m.groupFor(og.id)
					}
				}
				s := m.insert(g, os.kind, os.sub, rd, e, nil)
				changed++
				if log != nil {
					log.added = append(log.added, e.Dot)
					log.touch(s)
				}
			}
		}
		return true
	})
	m.dropEmptied(m.emptied)
	clear(m.emptied) // drop the pointers until the next join
	m.emptied = m.emptied[:0]
	return changed
}

// reserve makes room for up to groups more groups when the values would
// more than double m: rebuilding the map at its final size once costs less
// than the rehashing of growing it step by step. (The dot index grows per
// replica, and a large join is mostly one replica's values.)
func (m *Store) reserve(groups, dots int) {
	if dots <= m.dots || dots < 1024 {
		return
	}
	byGroup := make(map[string]*group, len(m.groups)+groups)
	for k, g := range m.groups {
		byGroup[k] = g
	}
	m.groups = byGroup
}

// Since returns the values of m whose dots have lacks, and the causal
// context a delta carrying them must have (see crdt.DotMap.Since). It walks
// the whole store: Doc.DeltaSince uses the index instead, and tests use
// this as its reference.
func (m *Store) Since(mc, have *crdt.Context) (*Store, *crdt.Context) {
	out := &Store{}
	var kept crdt.Context
	m.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			if have.Contains(e.Dot) {
				kept.Add(e.Dot)
				continue
			}
			out.Put(k, e.Dot, e.Value)
		}
		return true
	})
	return out, mc.Missing(&kept)
}

// Clone returns a copy of m that shares no maps with it. The values'
// slices are shared: neither store writes to them (see Store).
func (m *Store) Clone() *Store {
	out := &Store{}
	if m.dots == 0 {
		return out
	}
	out.groups = make(map[string]*group, len(m.groups))
	out.reps.ids = make(map[crdt.ReplicaID]uint32, len(m.reps.names))
	for i, r := range m.reps.names {
		out.reps.ids[r] = uint32(i)
	}
	out.reps.names = slices.Clone(m.reps.names)
	out.byDot = m.byDot.cloneShape()
	gs := make([]group, 0, len(m.groups))
	ss := make([]slot, m.keys)
	ptrs := make([]*slot, m.keys)
	order := make([]*group, 0, len(m.groups))
	var rc replicaCache
	m.order.eachSorted(func(g *group) bool {
		gs = append(gs, group{id: g.id, nkind: g.nkind})
		c := &gs[len(gs)-1]
		n := len(g.slots)
		c.slots, ptrs = ptrs[:n:n], ptrs[n:]
		for i, s := range g.slots {
			cs := &ss[0]
			ss = ss[1:]
			cs.g, cs.kind, cs.sub, cs.es = c, s.kind, s.sub, s.es
			s.handOut() // shared with the clone from now on
			c.slots[i] = cs
			for _, e := range s.es {
				n, _ := rc.lookup(&m.reps, e.Dot.Replica)
				out.byDot.set(rdot{n, e.Dot.Counter}, cs)
			}
		}
		out.groups[c.id] = c
		order = append(order, c)
		return true
	})
	out.order.sorted = order
	out.keys, out.dots, out.kindGroups = m.keys, m.dots, m.kindGroups
	return out
}
