package crdt

// ORSet is a delta-state add-wins observed-remove set. An add writes a fresh
// dot; a remove carries, in its causal context, the dots it observed, so an
// add concurrent with a remove survives it. No tombstone is kept per removed
// element: the causal context says which dots were seen.
//
// Mutators change the set and return the delta that carries the change; a
// delta is itself an ORSet. The zero ORSet is empty and ready to use.
type ORSet[E comparable] struct {
	ctx   Context
	store DotMap[E, struct{}]
}

// Context returns the set's causal context. It belongs to the set.
func (s *ORSet[E]) Context() *Context { return &s.ctx }

// Contains reports whether e is in the set.
func (s *ORSet[E]) Contains(e E) bool { return len(s.store.Get(e)) > 0 }

// Len returns the number of elements.
func (s *ORSet[E]) Len() int { return s.store.Len() }

// Elements calls fn for every element, in unspecified order.
func (s *ORSet[E]) Elements(fn func(E)) {
	s.store.Range(func(e E, _ []Dotted[struct{}]) bool { fn(e); return true })
}

// Add inserts e, authored by replica, and returns the delta. The delta also
// covers the dots of earlier adds of e, so the set keeps one dot per element.
func (s *ORSet[E]) Add(e E, replica ReplicaID) *ORSet[E] {
	d := Dot{replica, s.ctx.Max(replica) + 1}
	delta := &ORSet[E]{}
	delta.store.Put(e, d, struct{}{})
	delta.ctx.Add(d)
	for _, old := range s.store.Get(e) {
		delta.ctx.Add(old.Dot)
	}
	s.Join(delta)
	return delta
}

// Remove deletes e as observed here, authored by replica, and returns the
// delta, or nil if e is not in the set. The delta spends a fresh dot that only
// its context records, so a replica that missed the remove can tell from
// causal contexts alone that it is behind.
func (s *ORSet[E]) Remove(e E, replica ReplicaID) *ORSet[E] {
	es := s.store.Get(e)
	if len(es) == 0 {
		return nil
	}
	delta := &ORSet[E]{}
	delta.ctx.Add(Dot{replica, s.ctx.Max(replica) + 1})
	for _, old := range es {
		delta.ctx.Add(old.Dot)
	}
	s.Join(delta)
	return delta
}

// Join merges o into s.
func (s *ORSet[E]) Join(o *ORSet[E]) {
	s.store.Join(&o.store, &s.ctx, &o.ctx)
	s.ctx.Merge(&o.ctx)
}

// DeltaSince returns what a replica whose causal context is have lacks: the
// adds and the removes it has not seen.
func (s *ORSet[E]) DeltaSince(have *Context) *ORSet[E] {
	store, ctx := s.store.Since(&s.ctx, have)
	return &ORSet[E]{ctx: *ctx, store: *store}
}

// Clone returns an independent copy of s.
func (s *ORSet[E]) Clone() *ORSet[E] {
	return &ORSet[E]{ctx: *s.ctx.Clone(), store: *s.store.Clone()}
}
