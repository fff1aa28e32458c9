package text

import (
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

func TestLiveReadsVisiblePieces(t *testing.T) {
	x := New()
	mustDelta(t)(x.Insert("a", 0, "héllo"))   // a1..a5
	mustDelta(t)(x.Insert("b", 2, "XY"))      // hé XY llo: b's items cut a's run
	if _, err := x.Delete(4, 1); err != nil { // deletes a3 (the first l)
		t.Fatal(err)
	}
	got := x.Live(Dead{Replica: "a", Range: crdt.Range{Lo: 1, Hi: 5}})
	want := []Piece{{ID: crdt.Dot{Replica: "a", Counter: 1}, Len: 2, Text: "hé"}, {ID: crdt.Dot{Replica: "a", Counter: 4}, Len: 2, Text: "lo"}}
	if len(got) != len(want) {
		t.Fatalf("Live = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Live = %+v, want %+v", got, want)
		}
	}
	if p := x.Live(Dead{Replica: "b", Range: crdt.Range{Lo: 2, Hi: 9}}); len(p) != 1 || p[0].Text != "Y" {
		t.Fatalf("Live(b2..9) = %+v, want one piece Y", p)
	}
	if p := x.Live(Dead{Replica: "z", Range: crdt.Range{Lo: 1, Hi: 3}}); p != nil {
		t.Fatalf("Live of an unknown replica = %+v", p)
	}
}

func mustDelta(t *testing.T) func(Delta, error) {
	return func(_ Delta, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}
