package workflow

import (
	"fmt"
	"runtime"
	"testing"
)

// Merging an edit that replaces a key's only value (a position, a name, a
// sub-block's text: most edits) reuses the key's slot: no allocation per
// merge beyond the amortized growth of the indexes. Dropping the slot and
// making a new one cost an allocation and two shifts of the group's keys
// on every edit.
func TestReplaceOneValueMergeAllocs(t *testing.T) {
	base, ids := buildDoc(t, 200)
	writer := base.Clone()
	clock := newBenchClock("writer")
	const n = 2000
	deltas := make([]*Doc, n)
	for i := range deltas {
		id := ids[(i*7)%len(ids)]
		d, err := writer.Apply(clock.now(), UpdatePosition{ID: id, Position: Position{X: float64(i), Y: 1}})
		if err != nil {
			t.Fatal(err)
		}
		deltas[i] = d
	}
	for _, indexed := range []bool{true, false} {
		reader := base.Clone()
		if indexed {
			warmIndex(reader)
		}
		// Slices handed out before the merges must not change under them.
		held := reader.Store().Get(fieldKey(ids[0], FieldPosition))
		before := fmt.Sprint(held)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mallocs := ms.Mallocs
		for _, d := range deltas {
			reader.Merge(d)
		}
		runtime.ReadMemStats(&ms)
		// n/8 for the indexes' amortized growth, and a few dozen for the
		// deaths' records (deaths.go), which grow by doubling too: a merge
		// that allocated would make n.
		if got := ms.Mallocs - mallocs; got > n/8+32 {
			t.Errorf("indexed=%v: %d one-field merges made %d allocations, want at most %d", indexed, n, got, n/8+32)
		}
		if fmt.Sprint(held) != before {
			t.Errorf("indexed=%v: a handed-out slice changed: %s → %s", indexed, before, fmt.Sprint(held))
		}
		if !reader.Equal(writer) {
			t.Errorf("indexed=%v: the reader differs from the writer after merging its deltas", indexed)
		}
	}
}
