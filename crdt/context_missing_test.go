package crdt

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// AppendMissing (the binary-searching difference the workflow's merge uses
// per edit) agrees with Missing, counters near the top of the counter space
// included, and appends to what dst holds.
func TestAppendMissingMatchesMissing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var a, b Context
		for range rapid.IntRange(0, 12).Draw(t, "a ranges") {
			a.AddRange("r", rangeGen.Draw(t, "a"))
		}
		for range rapid.IntRange(0, 12).Draw(t, "b ranges") {
			b.AddRange("r", rangeGen.Draw(t, "b"))
		}
		want := a.Missing(&b).Ranges("r")
		prefix := []Range{{1, 1}}
		got := AppendMissing(slices.Clone(prefix), a.Ranges("r"), b.Ranges("r"))
		if !slices.Equal(got[:1], prefix) || !slices.Equal(got[1:], want) {
			t.Fatalf("AppendMissing(%v, %v) = %v, want %v after the prefix", a.Ranges("r"), b.Ranges("r"), got, want)
		}
	})
}
