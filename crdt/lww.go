package crdt

// LWWMap is a delta-state map of last-writer-wins registers. Each key holds
// the values of concurrent writes until a writer that has seen them all writes
// again; Get resolves them by hybrid logical time, so every replica reads the
// same value. Delete removes the values it has seen: a concurrent Set survives
// it.
//
// Mutators change the map and return the delta that carries the change to
// other replicas; a delta is itself an LWWMap. The zero LWWMap is empty and
// ready to use.
type LWWMap[K comparable, V any] struct {
	ctx   Context
	store DotMap[K, Register[V]]
}

// Context returns the map's causal context. It belongs to the map.
func (m *LWWMap[K, V]) Context() *Context { return &m.ctx }

// Store returns the map's dot store. It belongs to the map.
func (m *LWWMap[K, V]) Store() *DotMap[K, Register[V]] { return &m.store }

// Get returns the winning value under k.
func (m *LWWMap[K, V]) Get(k K) (V, bool) {
	es := m.store.Get(k)
	if i := Winner(es); i >= 0 {
		return es[i].Value.Value, true
	}
	var zero V
	return zero, false
}

// Keys calls fn for every key holding a value, in unspecified order.
func (m *LWWMap[K, V]) Keys(fn func(K)) {
	m.store.Range(func(k K, _ []Dotted[Register[V]]) bool { fn(k); return true })
}

// Len returns the number of keys holding a value.
func (m *LWWMap[K, V]) Len() int { return m.store.Len() }

// Set writes v under k at time ts, authored by ts.Replica, and returns the
// delta. The delta's context covers the values it replaces.
func (m *LWWMap[K, V]) Set(k K, v V, ts Timestamp) *LWWMap[K, V] {
	d := Dot{ts.Replica, m.ctx.Max(ts.Replica) + 1}
	delta := &LWWMap[K, V]{}
	delta.store.Put(k, d, Register[V]{Wall: ts.Wall, Logical: ts.Logical, Value: v})
	delta.ctx.Add(d)
	for _, e := range m.store.Get(k) {
		delta.ctx.Add(e.Dot)
	}
	m.Join(delta)
	return delta
}

// Delete removes the values under k that this replica has seen, authored by
// replica, and returns the delta, or nil if k holds nothing. Like every
// mutation it spends a fresh dot (recorded in the delta's context only), so a
// replica that missed the delete can tell from causal contexts alone that it
// is behind.
func (m *LWWMap[K, V]) Delete(k K, replica ReplicaID) *LWWMap[K, V] {
	es := m.store.Get(k)
	if len(es) == 0 {
		return nil
	}
	delta := &LWWMap[K, V]{}
	delta.ctx.Add(Dot{replica, m.ctx.Max(replica) + 1})
	for _, e := range es {
		delta.ctx.Add(e.Dot)
	}
	m.Join(delta)
	return delta
}

// Join merges o into m.
func (m *LWWMap[K, V]) Join(o *LWWMap[K, V]) {
	m.store.Join(&o.store, &m.ctx, &o.ctx)
	m.ctx.Merge(&o.ctx)
}

// DeltaSince returns what a replica whose causal context is have lacks: the
// values it has not seen and the removals it has not seen.
func (m *LWWMap[K, V]) DeltaSince(have *Context) *LWWMap[K, V] {
	store, ctx := m.store.Since(&m.ctx, have)
	return &LWWMap[K, V]{ctx: *ctx, store: *store}
}

// Clone returns an independent copy of m.
func (m *LWWMap[K, V]) Clone() *LWWMap[K, V] {
	return &LWWMap[K, V]{ctx: *m.ctx.Clone(), store: *m.store.Clone()}
}
