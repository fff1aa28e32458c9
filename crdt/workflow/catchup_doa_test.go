package workflow

import (
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// A server that learns of a value only through its removal (a node whose
// catch-up from a peer brought A's write and B's removal of it at once)
// must still tell a replica that holds the value, and has not seen the
// removal, that it is removed: the catch-up's context names the value's
// dot although the server never held it.
func TestCatchUpRemovesValueTheServerNeverHeld(t *testing.T) {
	base, ids := buildDoc(t, 200)
	a := base.Clone()
	a.PrimeIndex()
	clockA := newBenchClock("a")
	write, err := a.Apply(clockA.now(), UpdateName{ID: ids[5], NewName: "Written by A"})
	if err != nil {
		t.Fatal(err)
	}
	b := a.Clone()
	clockB := newBenchClock("b")
	clockB.wall = clockA.wall + 1000
	_, err = b.Apply(clockB.now(), BatchRemoveBlocks{IDs: []string{ids[5]}})
	if err != nil {
		t.Fatal(err)
	}
	server := base.Clone()
	server.PrimeIndex() // a live room: its index is kept by merges
	server.Merge(b.DeltaSince(server.Context()))
	late := base.Clone()
	late.Merge(write)
	late.Merge(server.CatchUp(late.Context()))
	if !late.Equal(server) {
		dumpDiff(t, late, server)
		dumpDiff(t, server, late)
		t.Fatalf("the late replica still holds A's write after its catch-up: %v", late.Store().Get(fieldKey(ids[5], FieldName)))
	}
}

func dumpDiff(t *testing.T, x, y *Doc) {
	x.Store().Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			if _, ok := y.cellAt(k, e.Dot); !ok {
				t.Logf("only in first: %v %v", k, e.Dot)
			}
		}
		return true
	})
	t.Logf("ctx equal %v: %d vs %d", x.Context().Equal(y.Context()), x.Context().NumRanges(), y.Context().NumRanges())
}
