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
	byKey map[K][]Dotted[V]
	byDot map[Dot]K
}

// Get returns the values held under k. The slice belongs to the map.
func (m *DotMap[K, V]) Get(k K) []Dotted[V] { return m.byKey[k] }

// Has reports whether a value is written under dot d.
func (m *DotMap[K, V]) Has(d Dot) bool {
	_, ok := m.byDot[d]
	return ok
}

// KeyOf returns the key that dot d is written under.
func (m *DotMap[K, V]) KeyOf(d Dot) (K, bool) {
	k, ok := m.byDot[d]
	return k, ok
}

// Len returns the number of keys holding at least one value.
func (m *DotMap[K, V]) Len() int { return len(m.byKey) }

// NumDots returns the number of values held.
func (m *DotMap[K, V]) NumDots() int { return len(m.byDot) }

// Range calls fn for every key and its values, in unspecified order, until fn
// returns false. fn must not change m.
func (m *DotMap[K, V]) Range(fn func(K, []Dotted[V]) bool) {
	for k, es := range m.byKey {
		if !fn(k, es) {
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

// Put stores v under k with dot d. It is how a mutator builds its delta and
// how a decoder rebuilds a store; a dot already held is left as it is.
func (m *DotMap[K, V]) Put(k K, d Dot, v V) {
	if _, ok := m.byDot[d]; ok {
		return
	}
	if m.byKey == nil {
		m.byKey = make(map[K][]Dotted[V])
		m.byDot = make(map[Dot]K)
	}
	m.byKey[k] = append(m.byKey[k], Dotted[V]{d, v})
	m.byDot[d] = k
}

func (m *DotMap[K, V]) remove(d Dot, k K) {
	delete(m.byDot, d)
	es := m.byKey[k]
	i := slices.IndexFunc(es, func(e Dotted[V]) bool { return e.Dot == d })
	if i < 0 {
		return
	}
	last := len(es) - 1
	es[i] = es[last]
	var zero Dotted[V]
	es[last] = zero
	if last == 0 {
		delete(m.byKey, k)
		return
	}
	m.byKey[k] = es[:last]
}

// Join merges o, whose causal context is oc, into m, whose causal context is
// mc. It does not change either context: the caller merges oc into mc after
// joining every store that shares it. It returns how many values were added or
// removed.
func (m *DotMap[K, V]) Join(o *DotMap[K, V], mc, oc *Context) int {
	changed := 0
	// Add what o holds and m has never seen. Adding first lets a key keep its
	// slice when a write replaces the value it covers.
	for k, es := range o.byKey {
		for _, e := range es {
			if _, ok := m.byDot[e.Dot]; ok || mc.Contains(e.Dot) {
				continue
			}
			m.Put(k, e.Dot, e.Value)
			changed++
		}
	}
	// Remove what o has seen and does not hold. Walk whichever side is smaller:
	// a delta's context has a handful of dots, a full state's covers them all.
	if oc.Len() <= uint64(len(m.byDot)) {
		oc.ForEach(func(d Dot) bool {
			if k, ok := m.byDot[d]; ok && !o.Has(d) {
				m.remove(d, k)
				changed++
			}
			return true
		})
		return changed
	}
	for d, k := range m.byDot {
		if oc.Contains(d) && !o.Has(d) {
			m.remove(d, k)
			changed++
		}
	}
	return changed
}

// Since returns the values of m whose dots have lacks, and the causal context
// a delta carrying them must have so that joining it into a replica at have
// also removes what m has removed: every dot of mc except those of values that
// m still holds and have has already seen.
func (m *DotMap[K, V]) Since(mc, have *Context) (*DotMap[K, V], *Context) {
	out := &DotMap[K, V]{}
	kept := make(map[ReplicaID][]uint64)
	for k, es := range m.byKey {
		for _, e := range es {
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
	out.byKey = make(map[K][]Dotted[V], len(m.byKey))
	out.byDot = make(map[Dot]K, len(m.byDot))
	for k, es := range m.byKey {
		out.byKey[k] = slices.Clone(es)
	}
	for d, k := range m.byDot {
		out.byDot[d] = k
	}
	return out
}
