package workflow

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// replicaDoc is one replica's document and clock, for tests that exchange
// deltas between replicas.
type replicaDoc struct {
	t     *testing.T
	d     *Doc
	clock *crdt.Clock
	wall  *int64 // shared, so that replicas' writes are ordered as issued
}

func newReplicaDoc(t *testing.T, id crdt.ReplicaID, wall *int64) *replicaDoc {
	return &replicaDoc{t: t, d: New(), clock: crdt.NewClock(id), wall: wall}
}

func (r *replicaDoc) apply(op Op) *Doc {
	r.t.Helper()
	delta, _ := r.applyMinted(op)
	return delta
}

// applyMinted applies op and also returns the dots it minted: the counters
// after the replica's previous maximum (a delta's context also holds the
// older dots it covers, which are not its own).
func (r *replicaDoc) applyMinted(op Op) (*Doc, crdt.Range) {
	r.t.Helper()
	*r.wall += 10
	before := r.d.Context().Max(r.clock.Replica())
	delta, err := r.d.Apply(r.clock.Now(*r.wall), op)
	if err != nil {
		r.t.Fatalf("%s: %v", op.Name(), err)
	}
	return delta, crdt.Range{Lo: before + 1, Hi: delta.Context().Max(r.clock.Replica())}
}

func addAgent(id, name string) Op {
	return BatchAddBlocks{Blocks: []BlockInput{{ID: id, Type: "agent", Name: name, Position: &Position{X: 1, Y: 2}}}}
}

func ctxOfDeltas(ds ...*Doc) *crdt.Context {
	c := crdt.NewContext()
	for _, d := range ds {
		c.Merge(d.Context())
	}
	return c
}

func mergeAll(ds ...*Doc) *Doc {
	out := New()
	for _, d := range ds {
		out.Merge(d)
	}
	return out
}

// A reminted edit is the same edit by another replica: merged where the
// original would have been, it gives the same view, covers the same foreign
// dots, and no dot of the old replica in the reminted set survives.
func TestRemintKeepsTheEditUnderANewReplica(t *testing.T) {
	wall := int64(1000)
	a, b := newReplicaDoc(t, "a", &wall), newReplicaDoc(t, "b", &wall)
	base := []*Doc{a.apply(addAgent("a1", "First")), b.apply(addAgent("b1", "Other"))}
	a.d.Merge(base[1])
	b.d.Merge(base[0])
	// Unsent edits of a: one overwrites b's field, one removes b's block
	// after renaming it, one adds a block and an edge.
	which := crdt.NewContext()
	var unsent []*Doc
	for _, op := range []Op{
		UpdateName{ID: "b1", NewName: "Renamed"},
		UpdatePosition{ID: "a1", Position: Position{X: 9, Y: 9}},
		addAgent("a2", "Second"),
		AddEdge{Edge: EdgeInput{ID: "e1", Source: "a1", Target: "a2"}},
		RemoveBlock{ID: "b1"},
	} {
		d, minted := a.applyMinted(op)
		unsent = append(unsent, d)
		which.AddRange("a", minted)
	}
	doc, err := a.d.Remint("a", "fresh", which, 1)
	if err != nil {
		t.Fatal(err)
	}
	reminted := make([]*Doc, len(unsent))
	for i, d := range unsent {
		if reminted[i], err = d.Remint("a", "fresh", which, 1); err != nil {
			t.Fatal(err)
		}
	}
	// Reminting commutes with merging: the reminted document is the base
	// plus the reminted deltas.
	if !doc.Equal(mergeAll(append(append([]*Doc{}, base...), reminted...)...)) {
		t.Fatal("Remint(doc) differs from the merge of the reminted parts")
	}
	if !reflect.DeepEqual(doc.View(), a.d.View()) {
		t.Fatal("the reminted document renders differently")
	}
	for _, rg := range doc.Context().Ranges("a") {
		for c := rg.Lo; c <= rg.Hi; c++ {
			if which.Contains(crdt.Dot{Replica: "a", Counter: c}) {
				t.Fatalf("a:%d survived the remint", c)
			}
		}
	}
	if got, want := doc.Context().Ranges("fresh"), []crdt.Range{{Lo: 1, Hi: which.Len()}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("fresh ranges = %v, want %v", got, want)
	}
	// The position update covers a1's first position, a dot of the base:
	// it is not reminted, so the reminted edit still overwrites it.
	first := base[0].Store().Get(fieldKey("a1", FieldPosition))[0].Dot
	if !reminted[1].Context().Contains(first) {
		t.Fatalf("the reminted position update no longer covers %s", first)
	}
	// b, which never saw the unsent edits, merges the reminted ones and
	// converges with a: the removal of b1 and the overwrite of its name
	// still cover b's dots.
	for _, d := range reminted {
		b.d.Merge(d)
	}
	if !reflect.DeepEqual(b.d.View(), a.d.View()) {
		t.Fatalf("b after the reminted edits = %+v, a = %+v", b.d.View().Blocks, a.d.View().Blocks)
	}
	if _, ok := b.d.View().Blocks["b1"]; ok {
		t.Fatal("the reminted removal of b1 did not remove it")
	}
}

func TestRemintRefusesCollisionsAndBadArguments(t *testing.T) {
	wall := int64(1000)
	a := newReplicaDoc(t, "a", &wall)
	d := a.apply(addAgent("a1", "First"))
	which := ctxOfDeltas(d)
	for name, call := range map[string]func() (*Doc, error){
		"same replica":  func() (*Doc, error) { return d.Remint("a", "a", which, 1) },
		"empty to":      func() (*Doc, error) { return d.Remint("a", "", which, 1) },
		"start 0":       func() (*Doc, error) { return d.Remint("a", "b", which, 0) },
		"to holds dots": func() (*Doc, error) { return a.d.Remint("x", "a", which, 1) },
		"past the limit": func() (*Doc, error) {
			return d.Remint("a", "b", which, crdt.MaxCounter)
		},
	} {
		if out, err := call(); !errors.Is(err, ErrInvalid) || out != nil {
			t.Errorf("%s: Remint = %v, %v; want ErrInvalid", name, out, err)
		}
	}
	// Counters of which that d does not hold still take their place in the
	// numbering, so two deltas reminted apart agree on every dot.
	sparse := crdt.NewContext()
	sparse.AddRange("a", crdt.Range{Lo: 1, Hi: 3})
	sparse.AddRange("a", crdt.Range{Lo: 7, Hi: 8})
	part := New()
	part.Context().Add(crdt.Dot{Replica: "a", Counter: 7})
	got, err := part.Remint("a", "b", sparse, 10)
	if err != nil {
		t.Fatal(err)
	}
	if r := got.Context().Ranges("b"); len(r) != 1 || r[0] != (crdt.Range{Lo: 13, Hi: 13}) {
		t.Fatalf("a:7 of {1-3, 7-8} from 10 became %v, want b:13", r)
	}
}

// Seeded: remint a random suffix of one replica's history; the reminted
// document equals the merge of the reminted deltas and renders the same.
func TestRemintSeeded(t *testing.T) {
	seed := uint64(42)
	for i := range 30 {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		wall := int64(1000)
		a := newReplicaDoc(t, "a", &wall)
		var deltas []*Doc
		var minted []crdt.Range
		ids := []string{}
		for n := range 40 {
			var op Op
			switch k := rng.IntN(4); {
			case len(ids) == 0 || k == 0:
				id := fmt.Sprint("b", n)
				ids = append(ids, id)
				op = addAgent(id, "Name "+id)
			case k == 1:
				op = UpdatePosition{ID: ids[rng.IntN(len(ids))], Position: Position{X: float64(n), Y: 1}}
			case k == 2:
				op = ToggleEnabled{ID: ids[rng.IntN(len(ids))]}
			default:
				j := rng.IntN(len(ids))
				op = RemoveBlock{ID: ids[j]}
				ids = append(ids[:j], ids[j+1:]...)
			}
			d, m := a.applyMinted(op)
			deltas = append(deltas, d)
			minted = append(minted, m)
		}
		cut := rng.IntN(len(deltas))
		which := crdt.NewContext()
		for _, m := range minted[cut:] {
			which.AddRange("a", m)
		}
		doc, err := a.d.Remint("a", "z", which, 1)
		if err != nil {
			t.Fatal(err)
		}
		parts := append([]*Doc{}, deltas[:cut]...)
		for _, d := range deltas[cut:] {
			r, err := d.Remint("a", "z", which, 1)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, r)
		}
		if !doc.Equal(mergeAll(parts...)) {
			t.Fatalf("seed %d/%d: Remint does not commute with merge", seed, i)
		}
		if !reflect.DeepEqual(doc.View(), a.d.View()) {
			t.Fatalf("seed %d/%d: reminted view differs", seed, i)
		}
	}
}

// WritesSince carries a replica's own unsent writes, overwrites and
// removals included, and nothing else; skip leaves out what is sent
// another way.
func TestWritesSince(t *testing.T) {
	wall := int64(1000)
	a, b := newReplicaDoc(t, "a", &wall), newReplicaDoc(t, "b", &wall)
	server := New()
	for _, d := range []*Doc{a.apply(addAgent("a1", "First")), b.apply(addAgent("b1", "Other")), b.apply(addAgent("b2", "Gone"))} {
		server.Merge(d)
	}
	a.d.Merge(server)
	b.d.Merge(server)
	if w := a.d.WritesSince("a", server.Context(), nil); !w.IsEmpty() {
		t.Fatal("WritesSince is not empty when the server has everything")
	}
	// Offline, a renames b's block and removes another of b's; b makes a
	// write a has merged but the server lacks (a lost relay).
	lost := b.apply(UpdatePosition{ID: "b1", Position: Position{X: 5, Y: 5}})
	a.d.Merge(lost)
	rename := a.apply(UpdateName{ID: "b1", NewName: "Renamed"})
	remove := a.apply(RemoveBlock{ID: "b2"})
	add := a.apply(addAgent("a2", "Second"))

	w := a.d.WritesSince("a", server.Context(), nil)
	if lostDot := (crdt.Dot{Replica: "b", Counter: lost.Context().Max("b")}); w.Context().Contains(lostDot) {
		t.Fatal("WritesSince carries b's dot the server lacks")
	}
	w.Store().Range(func(_ Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			if e.Dot.Replica != "a" {
				t.Fatalf("WritesSince carries a value of %s", e.Dot)
			}
		}
		return true
	})
	// The removal of b1's old position by b's lost write cannot be told
	// from a's own removals, so it is carried too: once the lost write
	// arrives (its author re-sends it), the server is where a is.
	got := server.Clone()
	got.Merge(w)
	if got.Store().Has(crdt.Dot{Replica: "b", Counter: lost.Context().Max("b")}) {
		t.Fatal("WritesSince carried b's value")
	}
	got.Merge(lost)
	want := server.Clone()
	for _, d := range []*Doc{lost, rename, remove, add} {
		want.Merge(d)
	}
	if !got.Equal(want) || !got.Equal(a.d) {
		t.Fatalf("server + WritesSince + lost = %+v\nwant %+v", got.View().Blocks, want.View().Blocks)
	}

	// Skip the removal (sent another way, or refused): b2 stays, the rest
	// arrives.
	w = a.d.WritesSince("a", server.Context(), remove.Context())
	got = server.Clone()
	got.Merge(w)
	v := got.View()
	if _, ok := v.Blocks["b2"]; !ok {
		t.Error("a skipped removal reached the server")
	}
	if v.Blocks["b1"].Name != "Renamed" || v.Blocks["a2"] == nil {
		t.Errorf("the unskipped writes did not arrive: %+v", v.Blocks)
	}
	if w := a.d.WritesSince("a", server.Context(), ctxOfDeltas(rename, remove, add)); !w.IsEmpty() {
		t.Error("WritesSince is not empty when skip covers every unsent write")
	}
}
