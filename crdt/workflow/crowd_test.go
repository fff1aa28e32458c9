package workflow

import (
	"errors"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// TestVetRefusesCrowdedKey: a delta may not carry two values of one
// replica under one key, nor a new value beside a newer one of its replica
// the document holds; a new value beside an older one supersedes it (the
// case of a client whose earlier write there was refused: it overwrote its
// own refused value, not the server's). Honest edits pass, and a refusal
// takes nothing.
func TestVetRefusesCrowdedKey(t *testing.T) {
	a := newVetReplica(t, "A")
	server := New()
	add := a.apply(addBlock("x", 10))
	server.Merge(add)
	key := Key{KindBlockField, "x", FieldName}
	value := func(counter uint64, name string, covers ...crdt.Dot) *Doc {
		d := New()
		dot := crdt.Dot{Replica: "A", Counter: counter}
		d.ctx.Add(dot)
		for _, c := range covers {
			d.ctx.Add(c)
		}
		d.store.Put(key, dot, Cell{Wall: 5_000 + int64(counter), Value: Value(append([]byte{0xa0 | byte(len(name))}, name...))})
		return d
	}
	held := server.store.Get(key)
	if len(held) != 1 {
		t.Fatalf("the add wrote %d names", len(held))
	}
	heldDot := held[0].Dot

	// An honest overwrite covers the value it replaces.
	if v, err := server.Vet(value(100, "ok", heldDot), "A"); err != nil || v.Changed {
		t.Fatalf("overwrite: changed=%v, %v", v.Changed, err)
	}
	// A value beside A's older held one, which the delta does not cover
	// (A overwrote a write of its own the server refused): it supersedes
	// the held one, whose dot joins the context.
	v, err := server.Vet(value(100, "later", crdt.Dot{Replica: "A", Counter: 99}), "A")
	if err != nil || !v.Changed || !v.Delta.ctx.Contains(heldDot) {
		t.Fatalf("a value beside A's older one: changed=%v, %v", v.Changed, err)
	}
	merged := server.Clone()
	merged.Merge(v.Delta)
	if got := merged.store.Get(key); len(got) != 1 || got[0].Dot.Counter != 100 {
		t.Fatalf("after the merge the key holds %v, want only A:100", got)
	}
	// A new value beside a newer held one of A: refused.
	newer := server.Clone()
	newer.Merge(value(200, "newest", heldDot))
	if _, err := newer.Vet(value(150, "older"), "A"); !errors.Is(err, ErrCrowdedKey) {
		t.Fatalf("a value beside A's newer one: %v, want ErrCrowdedKey", err)
	}
	// Two new values of A in one delta, the held one covered.
	two := value(100, "p", heldDot)
	two.Merge(value(101, "q"))
	if _, err := server.Vet(two, "A"); !errors.Is(err, ErrCrowdedKey) {
		t.Fatalf("two values of A in one delta: %v, want ErrCrowdedKey", err)
	}
	// Another replica's concurrent value is no crowd.
	b := New()
	bDot := crdt.Dot{Replica: "B", Counter: 1}
	b.ctx.Add(bDot)
	b.store.Put(key, bDot, Cell{Wall: 6_000, Value: Value{0xa1, 'b'}})
	if v, err := server.Vet(b, "B"); err != nil || v.Changed {
		t.Fatalf("B's concurrent value: changed=%v, %v", v.Changed, err)
	}
	// Nothing of a refused delta, nor of a vetted one, reached the
	// document: Vet changes neither.
	if got := server.store.Get(key); len(got) != 1 || got[0].Dot != heldDot {
		t.Fatalf("the document changed: %v", got)
	}
}
