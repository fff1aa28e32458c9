package workflow

import (
	"fmt"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// TestOverwriteSizeReport checks, with real operations, that overwriting
// fields does not grow the document: after 100,000 position updates over 10
// blocks the encoding stays within twice its initial size plus one context
// entry per writing replica.
func TestOverwriteSizeReport(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 operations")
	}
	const nBlocks, nOps = 10, 100_000
	base := New()
	setup := newBenchClock("setup")
	var add BatchAddBlocks
	for i := range nBlocks {
		add.Blocks = append(add.Blocks, benchBlock(i, "agent"))
	}
	if _, err := base.Apply(setup.now(), add); err != nil {
		t.Fatal(err)
	}
	sizeA := len(base.Encode())
	t.Logf("A: %d blocks added once: %d bytes, %d stored entries, %d keys", nBlocks, sizeA, base.Store().NumDots(), base.Store().Len())

	for _, nReplicas := range []int{1, 3} {
		t.Run(fmt.Sprintf("replicas=%d", nReplicas), func(t *testing.T) {
			docs := make([]*Doc, nReplicas)
			clocks := make([]*benchClock, nReplicas)
			ctxBytes := 0
			for r := range docs {
				docs[r] = base.Clone()
				replica := crdt.ReplicaID(fmt.Sprintf("user-%d", r))
				clocks[r] = newBenchClock(replica)
				// One context entry of this replica, encoded alone, minus the
				// encoding of an empty document.
				var one Doc
				one.ctx.AddRange(replica, crdt.Range{Lo: 1, Hi: nOps})
				ctxBytes += len(one.Encode()) - len(New().Encode())
			}
			for i := range nOps {
				r := i % nReplicas
				// Every replica has seen every earlier write: its clock
				// reads after all of them.
				clocks[r].wall = benchWall + int64(i)
				id := benchID(i % nBlocks)
				delta, err := docs[r].Apply(clocks[r].now(), UpdatePosition{ID: id, Position: Position{X: float64(i), Y: float64(-i)}})
				if err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
				for o := range docs {
					if o != r {
						docs[o].Merge(delta)
					}
				}
			}
			for r := 1; r < nReplicas; r++ {
				if !docs[r].Equal(docs[0]) {
					t.Fatalf("replica %d differs from replica 0", r)
				}
			}
			d := docs[0]
			sizeB := len(d.Encode())
			limit := 2*sizeA + ctxBytes
			t.Logf("B: after %d position updates by %d replica(s): %d bytes (B/A = %.3f; limit 2A + %d context bytes = %d)",
				nOps, nReplicas, sizeB, float64(sizeB)/float64(sizeA), ctxBytes, limit)
			t.Logf("stored entries %d (A had %d), keys %d, context ranges %d over %d replicas, dots seen %d",
				d.Store().NumDots(), base.Store().NumDots(), d.Store().Len(), d.Context().NumRanges(), d.Context().NumReplicas(), d.Context().Len())
			if sizeB > limit {
				t.Errorf("encoded size %d bytes exceeds 2A + context = %d", sizeB, limit)
			}
			if d.Store().NumDots() != base.Store().NumDots() {
				t.Errorf("stored entries %d, want %d: overwrites leave values behind", d.Store().NumDots(), base.Store().NumDots())
			}
		})
	}
}
