package workflow

import (
	"fmt"
	"testing"
)

// A replica that missed one edit catches up with a delta the size of that
// edit: the context of CatchUp names the edit's dots and the dots it
// removed, and its texts the items it deleted, not every dot and item the
// document's history removed (which a replica that has seen the removals
// has removed already). DeltaSince, the catch-up before, carries every
// dead-dot range and every text delete of the document: 908 ranges and
// 7.6 KB for one edit at 300 blocks, 4,660 ranges and 10.7 KB at 3,000.
func TestCatchUpOneEditIsTheEditsSize(t *testing.T) {
	for _, n := range []int{300, 3000} {
		for _, e := range catchUpEdits {
			t.Run(fmt.Sprintf("edit=%s/blocks=%d", e.name, n), func(t *testing.T) {
				ahead, behind := catchUpFixture(t, n, e.op)
				delta := ahead.CatchUp(behind.Context())
				check := behind.Clone()
				check.Merge(delta)
				if !check.Equal(ahead) {
					t.Fatal("the replica merged with its catch-up differs from the document")
				}
				// One block's removal removes its fields, sub-blocks and
				// edges: a few dozen dots of a few replicas.
				if got := delta.Context().NumRanges(); got > 64 {
					t.Errorf("the catch-up of one %s edit has %d context ranges, want at most 64", e.name, got)
				}
				if got := len(delta.Encode()); got > 2048 {
					t.Errorf("the catch-up of one %s edit encodes to %d bytes, want at most 2048", e.name, got)
				}
			})
		}
	}
}
