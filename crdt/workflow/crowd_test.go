package workflow

import (
	"errors"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// TestVetRefusesCrowdedKey: a delta may not leave two values of one
// replica under one key, neither two of its own nor one beside a value of
// its replica the document holds and the delta does not cover. Honest
// edits (an overwrite, concurrent values of two replicas) pass, and a
// refusal takes nothing.
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
	if _, err := server.Vet(value(100, "ok", heldDot), "A"); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	// A second value of A beside the held one.
	if _, err := server.Vet(value(100, "two"), "A"); !errors.Is(err, ErrCrowdedKey) {
		t.Fatalf("a value beside A's held one: %v, want ErrCrowdedKey", err)
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
	if _, err := server.Vet(b, "B"); err != nil {
		t.Fatalf("B's concurrent value: %v", err)
	}
	// Nothing of a refused delta reached the document.
	if got := server.store.Get(key); len(got) != 1 || got[0].Dot != heldDot {
		t.Fatalf("the document changed: %v", got)
	}
}
