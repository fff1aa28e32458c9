package text

import (
	"testing"

	"pgregory.net/rapid"
)

// TestLeafTable checks the chunked table against a plain slice through
// pushes and range writes that cross chunk boundaries, then a reset
// (rapid prints a failing seed; -rapid.seed replays it).
func TestLeafTable(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var tab leafTable
		var model []int32
		check := func() {
			if tab.n != len(model) {
				t.Fatalf("%d entries, want %d", tab.n, len(model))
			}
			for lv, want := range model {
				if got := tab.at(int32(lv)); got != want {
					t.Fatalf("entry %d = %d, want %d", lv, got, want)
				}
			}
		}
		steps := rapid.IntRange(1, 30).Draw(t, "steps")
		for step := range steps {
			id := int32(step)
			if len(model) == 0 || rapid.Bool().Draw(t, "push") {
				n := rapid.IntRange(1, 3*leafChunk/2).Draw(t, "n")
				tab.push(int32(n), id)
				for range n {
					model = append(model, id)
				}
			} else {
				lo := rapid.IntRange(0, len(model)-1).Draw(t, "lo")
				hi := rapid.IntRange(lo, len(model)).Draw(t, "hi")
				tab.set(int32(lo), int32(hi), id)
				for i := lo; i < hi; i++ {
					model[i] = id
				}
			}
		}
		check()
		n := rapid.IntRange(0, 2*leafChunk+5).Draw(t, "reset")
		tab.reset(n)
		tab.set(0, int32(n), 7)
		model = model[:0]
		for range n {
			model = append(model, 7)
		}
		check()
	})
}
