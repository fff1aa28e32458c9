package workflow

import (
	"fmt"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
	"github.com/flowsync/flowsync/crdt/text"
)

// Op is one operation of the editor vocabulary. Implementations live in the
// ops_*.go files; ParseOp builds them from the reference wire form.
type Op interface {
	// Name is the reference operation name, e.g. "batch-add-blocks".
	Name() string
	prepare(b *builder) error
}

// Prepare computes the delta of op, authored at ts by ts.Replica, without
// changing d. It returns a typed error and no delta when op is refused,
// ErrInvalid among others when ts is older than the add of a block or
// variable op writes to (see checkStamps). The
// delta's dots continue ts.Replica's counter in d, so merge it (or drop it)
// before preparing the next operation for the same replica.
func (d *Doc) Prepare(ts crdt.Timestamp, op Op) (*Doc, error) {
	b, err := d.newBuilder(ts)
	if err != nil {
		return nil, err
	}
	if err := op.prepare(b); err != nil {
		return nil, err
	}
	return b.finish(op)
}

// newBuilder checks ts and returns a builder of an operation authored at
// ts, its dots continuing ts.Replica's counter in d.
func (d *Doc) newBuilder(ts crdt.Timestamp) (*builder, error) {
	if ts.Replica == "" {
		return nil, errorf(ErrInvalid, "timestamp has no replica")
	}
	if !crdt.ValidWall(ts.Wall) {
		return nil, errorf(ErrInvalid, "wall time %d beyond ±%d", ts.Wall, int64(crdt.MaxWall))
	}
	if d.ctx.Max(ts.Replica) >= crdt.MaxCounter-1<<20 {
		return nil, errorf(ErrInvalid, "replica %q has spent its counters; use a new replica id", ts.Replica)
	}
	return &builder{doc: d, ts: ts, next: d.ctx.Max(ts.Replica) + 1, delta: &Doc{}}, nil
}

// finish checks what op wrote and returns its delta.
func (b *builder) finish(op Op) (*Doc, error) {
	if err := b.checkStamps(); err != nil {
		return nil, err
	}
	if b.delta.ctx.IsEmpty() && len(b.delta.texts) == 0 {
		return nil, errorf(ErrNoEffect, "%s changes nothing", op.Name())
	}
	if err := b.delta.checkValues(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, op.Name(), err)
	}
	return b.delta, nil
}

// checkValues holds every value of a delta to what Decode accepts, so that
// no replica stores or sends a value another refuses: a NaN or infinity
// that reached a field (a position, a height, a payload number) is refused
// here rather than in every peer's decoder. A value with more msgpack nodes
// than DeltaCaps.MaxValueNodes is refused too: no cut into several deltas
// can carry it (a chunk holds a key whole), so a client could never send
// it and a cluster peer would refuse it.
func (d *Doc) checkValues() error {
	var err error
	d.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			if v := e.Value.Value; len(v) > 0 && !(len(v) == 1 && v[0] == 0xc0) {
				if err = msgpackx.CheckCanonical(v, msgpackx.Limits{MaxBytes: len(v), MaxDepth: 64}); err != nil {
					err = fmt.Errorf("%s of %q: %w", k.Sub, k.ID, err)
					return false
				}
				if _, err = msgpackx.CheckCanonicalNodes(v, DeltaCaps.MaxValueNodes); err != nil {
					err = fmt.Errorf("%s of %q: a value past the per-delta work caps: %w", k.Sub, k.ID, err)
					return false
				}
			}
		}
		return true
	})
	return err
}

// Apply prepares op and merges its delta into d, returning the delta to send
// to other replicas.
func (d *Doc) Apply(ts crdt.Timestamp, op Op) (*Doc, error) {
	delta, err := d.Prepare(ts, op)
	if err != nil {
		return nil, err
	}
	d.Merge(delta)
	return delta, nil
}

// builder accumulates one operation's delta. Reads go to doc merged with
// what the operation already wrote (so a batch sees its own earlier items);
// writes mint consecutive dots for the author.
type builder struct {
	doc   *Doc
	ts    crdt.Timestamp
	next  uint64
	delta *Doc
	spent bool
	// work holds the texts this operation edited more than once, with its
	// edits (ops_text.go).
	work map[crdt.Dot]*text.Text
}

func (b *builder) mint() crdt.Dot {
	d := crdt.Dot{Replica: b.ts.Replica, Counter: b.next}
	b.next++
	b.spent = true
	return d
}

// put writes v under k, covering every value k held before.
func (b *builder) put(k Key, v Value) {
	b.cover(k)
	d := b.mint()
	b.delta.ctx.Add(d)
	b.delta.store.Put(k, d, Cell{Wall: b.ts.Wall, Logical: b.ts.Logical, Value: v})
}

// putUnlessDefault writes v under k unless v is the field's default and k
// holds nothing the write would have to override. The view reads an absent
// field as its default, so a new block costs only the fields that say
// something (half of a typical block's fields are defaults).
func (b *builder) putUnlessDefault(k Key, v Value, isDefault bool) {
	if isDefault && !b.has(k) {
		return
	}
	b.put(k, v)
}

// remove deletes every value under k that this replica has seen.
func (b *builder) remove(k Key) {
	if !b.spent {
		// A removal must spend a dot of its own, or a replica that missed it
		// could not tell from its causal context that it is behind.
		b.delta.ctx.Add(b.mint())
	}
	b.cover(k)
}

// appendEntityDots appends the dots of every value of element ent to dots.
// It reads the element's group directly: one map lookup for all its keys
// instead of one search per key.
func (m *Store) appendEntityDots(dots []crdt.Dot, ent entity) []crdt.Dot {
	if g := m.groups[ent.id]; g != nil {
		for _, s := range g.slots {
			if entityOf(Key{s.kind, g.id, s.sub}) == ent {
				for _, e := range s.es {
					dots = append(dots, e.Dot)
				}
			}
		}
	}
	return dots
}

// appendGraphDots appends the dots of every key of group id but a
// variable's to dots (ReplaceState's removal, removeGraph).
func (m *Store) appendGraphDots(dots []crdt.Dot, id string) []crdt.Dot {
	if g := m.groups[id]; g != nil {
		for _, s := range g.slots {
			if s.kind != KindVariable && s.kind != KindVariableField {
				for _, e := range s.es {
					dots = append(dots, e.Dot)
				}
			}
		}
	}
	return dots
}

// cover adds the dots under k (in the document and in this delta) to the
// delta's context and drops the delta's own values under k.
func (b *builder) cover(k Key) {
	for _, e := range b.doc.store.Get(k) {
		b.delta.ctx.Add(e.Dot)
	}
	for _, e := range append([]crdt.Dotted[Cell](nil), b.delta.store.Get(k)...) {
		b.delta.Merge(&Doc{ctx: ctxOf(e.Dot)}) // removes the superseded value
	}
}

func ctxOf(d crdt.Dot) crdt.Context {
	var c crdt.Context
	c.Add(d)
	return c
}

// get reads the winning value under k as the operation sees it.
func (b *builder) get(k Key) Value {
	if w, ok := current(b, k); ok {
		return w.Value.Value
	}
	return nil
}

// has reports whether k holds a current value as the operation sees it.
func (b *builder) has(k Key) bool {
	_, ok := current(b, k)
	return ok
}

// rawWinner returns the winner under k as the operation sees it, whatever
// its incarnation: the operation's own writes cover every value of k in
// doc, so they alone count once there are any.
func (b *builder) rawWinner(k Key) (crdt.Dotted[Cell], bool) {
	if !b.spent && b.delta.ctx.IsEmpty() {
		// Nothing written yet (an operation's reads before its first
		// write, a removal's walk of what it removes): the document alone.
		return b.doc.rawWinner(k)
	}
	if es := b.delta.store.Get(k); len(es) > 0 {
		return es[crdt.Winner(es)], true
	}
	if b.covered(k) {
		return crdt.Dotted[Cell]{}, false
	}
	return b.doc.rawWinner(k)
}

// covered reports whether this operation removed every value k held in doc.
func (b *builder) covered(k Key) bool {
	es := b.doc.store.Get(k)
	if len(es) == 0 {
		return false
	}
	for _, e := range es {
		if !b.delta.ctx.Contains(e.Dot) {
			return false
		}
	}
	return true
}
