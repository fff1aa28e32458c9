package workflow

import (
	"errors"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// vetReplica is one replica editing its own copy, for the vetting tests.
type vetReplica struct {
	t     *testing.T
	doc   *Doc
	clock *crdt.Clock
	wall  int64
}

func newVetReplica(t *testing.T, id crdt.ReplicaID) *vetReplica {
	return &vetReplica{t: t, doc: New(), clock: crdt.NewClock(id), wall: 1_000}
}

func (r *vetReplica) apply(op Op) *Doc {
	r.t.Helper()
	r.wall += 10
	delta, err := r.doc.Apply(r.clock.Now(r.wall), op)
	if err != nil {
		r.t.Fatalf("%s: %v", op.Name(), err)
	}
	return delta
}

func addBlock(id string, x float64) AddBlock {
	return AddBlock{Block: BlockInput{ID: id, Type: "agent", Name: "Agent " + id, Position: &Position{X: x, Y: 0}}}
}

// The case a crash produces: the server lost A's add, and B's move of A's
// block names A's position dot. B's own entries are taken, A's dot is left
// out of the context (the server cannot tell it from a forged removal).
func TestVetLeavesOutUnseenDotsOfOtherReplicas(t *testing.T) {
	a, b := newVetReplica(t, "A"), newVetReplica(t, "B")
	server := New()
	addX := a.apply(addBlock("x", 10))
	b.doc.Merge(addX)
	move := b.apply(UpdatePosition{ID: "x", Position: Position{X: 99, Y: 1}})
	addY := b.apply(addBlock("y", 20))
	folded := New()
	folded.Merge(move)
	folded.Merge(addY)

	v, err := server.Vet(folded, "B")
	if err != nil {
		t.Fatal(err)
	}
	if !v.Changed || v.Dead != 0 {
		t.Fatalf("Changed=%v Dead=%d, want a changed delta and no dead entries", v.Changed, v.Dead)
	}
	if v.Unverified.Replicas()[0] != "A" || v.Unverified.NumReplicas() != 1 {
		t.Fatalf("unverified %v, want only A's dots", v.Unverified.Replicas())
	}
	if !folded.Context().Covers(v.Delta.Context()) || v.Delta.Context().Max("A") != 0 {
		t.Fatalf("vetted context names A: %v", v.Delta.Context().Ranges("A"))
	}
	if v.Delta.Store().NumDots() != folded.Store().NumDots() {
		t.Fatalf("vetted delta holds %d values, want all %d of B's", v.Delta.Store().NumDots(), folded.Store().NumDots())
	}
	// Once A's add arrives (A re-sends it), B's move is taken whole and
	// overwrites it, as on B.
	server.Merge(v.Delta)
	server.Merge(addX)
	v2, err := server.Vet(folded, "B")
	if err != nil || v2.Changed {
		t.Fatalf("after A's add: changed=%v err=%v, want the delta unchanged", v2.Changed, err)
	}
	server.Merge(v2.Delta)
	if !server.Equal(b.doc) {
		t.Fatal("server and B differ after A's re-send and B's re-send")
	}
}

func TestVetTakesOwnAndSeenDotsUnchanged(t *testing.T) {
	a, b := newVetReplica(t, "A"), newVetReplica(t, "B")
	addX := a.apply(addBlock("x", 10))
	server := New()
	server.Merge(addX)
	b.doc.Merge(addX)
	move := b.apply(UpdatePosition{ID: "x", Position: Position{X: 5, Y: 5}})
	v, err := server.Vet(move, "B")
	if err != nil || v.Changed || v.Delta != move || !v.Unverified.IsEmpty() {
		t.Fatalf("changed=%v err=%v unverified=%v, want the delta itself", v.Changed, err, v.Unverified.Replicas())
	}
	// Re-sending what the server already holds is fine too.
	v, err = server.Vet(addX, "B")
	if err != nil || v.Changed {
		t.Fatalf("re-send of held content: changed=%v err=%v", v.Changed, err)
	}
}

// Case 4 of the forgery tests: a delta that carries a held dot with other
// content, or a held dot under another key, is refused whole.
func TestVetRefusesHeldDotWithOtherContent(t *testing.T) {
	a := newVetReplica(t, "A")
	addX := a.apply(addBlock("x", 10))
	server := New()
	server.Merge(addX)

	forged := addX.Clone()
	nameKey := fieldKey("x", FieldName)
	es := forged.store.Get(nameKey)
	if len(es) != 1 {
		t.Fatalf("%d name values", len(es))
	}
	forgedDot := es[0].Dot
	cell := es[0].Value
	cell.Value = stringValue("Mallory")
	replaced := &Doc{ctx: *forged.ctx.Clone()}
	forged.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			if e.Dot == forgedDot {
				replaced.store.Put(k, e.Dot, cell)
			} else {
				replaced.store.Put(k, e.Dot, e.Value)
			}
		}
		return true
	})
	if _, err := server.Vet(replaced, "M"); !errors.Is(err, ErrForgedContent) {
		t.Fatalf("other content under a held dot: %v, want ErrForgedContent", err)
	}

	otherKey := &Doc{ctx: *ctxOfPtr(forgedDot)}
	otherKey.store.Put(fieldKey("x", FieldType), forgedDot, es[0].Value)
	if _, err := server.Vet(otherKey, "M"); !errors.Is(err, ErrForgedContent) {
		t.Fatalf("held dot under another key: %v, want ErrForgedContent", err)
	}
}

// A removal of a block the server lost is left out; a removal of one it
// holds is taken (any writer may remove what it has seen).
func TestVetRemovals(t *testing.T) {
	a, b := newVetReplica(t, "A"), newVetReplica(t, "B")
	addX := a.apply(addBlock("x", 10))
	b.doc.Merge(addX)
	remove := b.apply(RemoveBlock{ID: "x"})

	server := New()
	v, err := server.Vet(remove, "B")
	if err != nil || !v.Changed || v.Unverified.Len() == 0 {
		t.Fatalf("removal of unseen dots: changed=%v err=%v unverified=%d", v.Changed, err, v.Unverified.Len())
	}
	server.Merge(addX)
	v, err = server.Vet(remove, "B")
	if err != nil || v.Changed {
		t.Fatalf("removal of held dots: changed=%v err=%v", v.Changed, err)
	}
	server.Merge(v.Delta)
	if !server.Equal(b.doc) {
		t.Fatal("server differs from the remover")
	}
}

// An entry whose dot the server has seen removed adds nothing and is not
// relayed.
func TestVetLeavesOutDeadEntries(t *testing.T) {
	a, b := newVetReplica(t, "A"), newVetReplica(t, "B")
	addX := a.apply(addBlock("x", 10))
	server := New()
	server.Merge(addX)
	b.doc.Merge(addX)
	server.Merge(b.apply(RemoveBlock{ID: "x"}))
	v, err := server.Vet(addX, "C")
	if err != nil || !v.Changed || v.Dead != addX.Store().NumDots() || v.Delta.Store().NumDots() != 0 {
		t.Fatalf("changed=%v dead=%d err=%v, want every entry left out", v.Changed, v.Dead, err)
	}
}

func ctxOfPtr(d crdt.Dot) *crdt.Context {
	c := ctxOf(d)
	return &c
}

// Values under another replica's unseen dots are never part of a replica's
// own delta: the whole delta is refused (a receipt is the way to hand such
// values back).
func TestVetRefusesForeignContent(t *testing.T) {
	a, b := newVetReplica(t, "A"), newVetReplica(t, "B")
	addX := a.apply(addBlock("x", 10))
	b.doc.Merge(addX)
	addY := b.apply(addBlock("y", 20))
	both := New()
	both.Merge(addX)
	both.Merge(addY)
	if _, err := New().Vet(both, "B"); !errors.Is(err, ErrForeignContent) {
		t.Fatalf("B sending A's unseen values: %v, want ErrForeignContent", err)
	}
	if _, err := New().Vet(addX, "B"); !errors.Is(err, ErrForeignContent) {
		t.Fatalf("B sending only A's values: %v, want ErrForeignContent", err)
	}
}
