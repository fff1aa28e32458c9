package crdt

import "slices"

// Dotted is a value written under a unique dot.
type Dotted[V any] struct {
	Dot   Dot
	Value V
}

// DotMap is the dot store shared by every type in this package: a map from
// keys to the values written under them, each value tagged with the dot of its
// write. A key usually holds one value; it holds several only while writes to
// it are concurrent (no writer has seen the others yet), and the next write by
// a replica that has seen them all folds them back into one.
//
// A DotMap means nothing without the causal context it lives in: a dot that
// the context has seen but the map does not hold was removed. The join of two
// (map, context) pairs keeps a value when both sides hold it, or when the side
// that lacks it has never seen its dot. Types built on DotMap pair it with a
// context; the workflow document pairs one with a context shared by all its
// parts.
//
// The zero DotMap is empty and ready to use.
type DotMap[K comparable, V any] struct {
	byKey map[K]*slot[K, V]
	// byDot points at the slot, not the key, so that a removal by dot (what
	// every overwrite does) costs one lookup instead of two.
	byDot map[Dot]*slot[K, V]
}

// slot holds the values under one key. A key almost always holds one value,
// so the first lives inside the slot: one allocation per key, not two.
type slot[K comparable, V any] struct {
	key     K
	entries []Dotted[V]
	first   [1]Dotted[V]
}

// Get returns the values held under k. The slice belongs to the map.
func (m *DotMap[K, V]) Get(k K) []Dotted[V] {
	if s := m.byKey[k]; s != nil {
		return s.entries
	}
	return nil
}

// Has reports whether a value is written under dot d.
func (m *DotMap[K, V]) Has(d Dot) bool {
	_, ok := m.byDot[d]
	return ok
}

// KeyOf returns the key that dot d is written under.
func (m *DotMap[K, V]) KeyOf(d Dot) (K, bool) {
	if s := m.byDot[d]; s != nil {
		return s.key, true
	}
	var zero K
	return zero, false
}

// Len returns the number of keys holding at least one value.
func (m *DotMap[K, V]) Len() int { return len(m.byKey) }

// NumDots returns the number of values held.
func (m *DotMap[K, V]) NumDots() int { return len(m.byDot) }

// Range calls fn for every key and its values, in unspecified order, until fn
// returns false. fn must not change m.
func (m *DotMap[K, V]) Range(fn func(K, []Dotted[V]) bool) {
	for k, s := range m.byKey {
		if !fn(k, s.entries) {
			return
		}
	}
}

// Dots calls fn for every dot held, in unspecified order.
func (m *DotMap[K, V]) Dots(fn func(Dot)) {
	for d := range m.byDot {
		fn(d)
	}
}

// Put stores v under k with dot d and reports whether it did: it is how a
// mutator builds its delta and how a decoder rebuilds a store. A dot already
// held is left as it is (and Put returns false).
func (m *DotMap[K, V]) Put(k K, d Dot, v V) bool {
	if m.byKey == nil {
		m.byKey = make(map[K]*slot[K, V])
		m.byDot = make(map[Dot]*slot[K, V])
	}
	if _, ok := m.byDot[d]; ok {
		return false
	}
	s := m.byKey[k]
	if s == nil {
		s = &slot[K, V]{key: k}
		s.first[0] = Dotted[V]{d, v}
		s.entries = s.first[:1:1]
		m.byKey[k] = s
	} else {
		s.entries = append(s.entries, Dotted[V]{d, v})
	}
	m.byDot[d] = s
	return true
}

// Grow sizes the map for n more values, so that decoding a document of known
// size does not rehash as it fills.
func (m *DotMap[K, V]) Grow(n int) {
	if m.byKey == nil && n > 0 {
		m.byKey = make(map[K]*slot[K, V], n)
		m.byDot = make(map[Dot]*slot[K, V], n)
	}
}

func (m *DotMap[K, V]) remove(d Dot, s *slot[K, V]) {
	delete(m.byDot, d)
	es := s.entries
	i := slices.IndexFunc(es, func(e Dotted[V]) bool { return e.Dot == d })
	if i < 0 {
		return
	}
	last := len(es) - 1
	es[i] = es[last]
	var zero Dotted[V]
	es[last] = zero
	s.entries = es[:last]
	if last == 0 {
		delete(m.byKey, s.key)
	}
}

// Join merges o, whose causal context is oc, into m, whose causal context is
// mc. It does not change either context: the caller merges oc into mc after
// joining every store that shares it. It returns how many values were added or
// removed.
//
// Its cost is a few map operations per value of the smaller side, plus one
// per value o adds: a delta of any size or shape costs what its values cost.
func (m *DotMap[K, V]) Join(o *DotMap[K, V], mc, oc *Context) int {
	changed := 0
	// Remove what o has seen and does not hold, before adding what it
	// brings: the removals then walk whichever side is smaller without
	// visiting o's new values (a delta's context has a handful of dots, a
	// full state's covers them all, and a delta adding 70,000 values would
	// otherwise have each looked up twice more).
	//
	// A key holding many concurrent values (any client may write thousands
	// under one key) is compacted once at the end rather than searched per
	// removed value, which would be quadratic in its values.
	var crowded map[*slot[K, V]]struct{}
	drop := func(d Dot, s *slot[K, V]) {
		changed++
		if len(s.entries) <= crowdedSlot {
			m.remove(d, s)
			return
		}
		delete(m.byDot, d)
		if crowded == nil {
			crowded = make(map[*slot[K, V]]struct{})
		}
		crowded[s] = struct{}{}
	}
	if oc.Len() <= uint64(len(m.byDot)) {
		oc.ForEach(func(d Dot) bool {
			if s := m.byDot[d]; s != nil && !o.Has(d) {
				drop(d, s)
			}
			return true
		})
	} else {
		for d, s := range m.byDot {
			if oc.Contains(d) && !o.Has(d) {
				drop(d, s)
			}
		}
	}
	for s := range crowded {
		m.compact(s)
	}
	// Add what o holds and m has never seen. m holds only dots mc has
	// seen, so mc alone decides; Put still refuses a dot m holds.
	m.reserve(len(o.byKey), len(o.byDot))
	for k, os := range o.byKey {
		for _, e := range os.entries {
			if !mc.Contains(e.Dot) && m.Put(k, e.Dot, e.Value) {
				changed++
			}
		}
	}
	return changed
}

// reserve makes room for up to keys more keys and dots more values when
// the values would more than double m: rebuilding both maps at their final
// size once costs less than the rehashing of growing them step by step.
func (m *DotMap[K, V]) reserve(keys, dots int) {
	if dots <= len(m.byDot) || dots < 1024 {
		return
	}
	byKey := make(map[K]*slot[K, V], len(m.byKey)+keys)
	byDot := make(map[Dot]*slot[K, V], len(m.byDot)+dots)
	for k, s := range m.byKey {
		byKey[k] = s
	}
	for d, s := range m.byDot {
		byDot[d] = s
	}
	m.byKey, m.byDot = byKey, byDot
}

// crowdedSlot is how many values a key may hold before Join stops removing
// them one linear search at a time.
const crowdedSlot = 8

// compact drops from s the values whose dots byDot no longer holds.
func (m *DotMap[K, V]) compact(s *slot[K, V]) {
	kept := s.entries[:0]
	for _, e := range s.entries {
		if m.byDot[e.Dot] == s {
			kept = append(kept, e)
		}
	}
	clear(s.entries[len(kept):])
	s.entries = kept
	if len(kept) == 0 {
		delete(m.byKey, s.key)
	}
}

// Since returns the values of m whose dots have lacks, and the causal context
// a delta carrying them must have so that joining it into a replica at have
// also removes what m has removed: every dot of mc except those of values that
// m still holds and have has already seen.
func (m *DotMap[K, V]) Since(mc, have *Context) (*DotMap[K, V], *Context) {
	out := &DotMap[K, V]{}
	kept := make(map[ReplicaID][]uint64)
	for k, s := range m.byKey {
		for _, e := range s.entries {
			if have.Contains(e.Dot) {
				kept[e.Dot.Replica] = append(kept[e.Dot.Replica], e.Dot.Counter)
				continue
			}
			out.Put(k, e.Dot, e.Value)
		}
	}
	for _, cs := range kept {
		slices.Sort(cs)
	}
	return out, mc.withoutCounters(kept)
}

// Clone returns a copy of m that shares no maps or slices with it. Values are
// copied shallowly.
func (m *DotMap[K, V]) Clone() *DotMap[K, V] {
	out := &DotMap[K, V]{}
	if len(m.byKey) == 0 {
		return out
	}
	out.byKey = make(map[K]*slot[K, V], len(m.byKey))
	out.byDot = make(map[Dot]*slot[K, V], len(m.byDot))
	for k, s := range m.byKey {
		c := &slot[K, V]{key: k}
		if len(s.entries) == 1 {
			c.first[0] = s.entries[0]
			c.entries = c.first[:1:1]
		} else {
			c.entries = slices.Clone(s.entries)
		}
		out.byKey[k] = c
		for _, e := range c.entries {
			out.byDot[e.Dot] = c
		}
	}
	return out
}
