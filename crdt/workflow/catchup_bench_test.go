package workflow

import (
	"fmt"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// catchUpFixture returns a document of n blocks that a server has loaded
// and then served churn (mixed edits with removals, which leave dead-dot
// ranges), a replica that has everything but one last edit of each kind
// the churn makes, and that edit applied to the document.
func catchUpFixture(tb testing.TB, n int, lastOp func(d *Doc, ids []string) Op) (ahead, behind *Doc) {
	tb.Helper()
	base, ids := cachedDoc(tb, n)
	ahead = base.Clone()
	ids = mixedOps(tb, ahead, ids, 2000, 23)
	behind = ahead.Clone()
	clock := newBenchClock("late")
	clock.wall += 10_000_000
	if _, err := ahead.Apply(clock.now(), lastOp(ahead, ids)); err != nil {
		tb.Fatal(err)
	}
	return ahead, behind
}

// catchUpEdits are the single edits a catching-up replica misses in the
// catch-up benchmarks and tests: a one-field write and a block removal.
var catchUpEdits = []struct {
	name string
	op   func(d *Doc, ids []string) Op
}{
	{"position", func(d *Doc, ids []string) Op {
		return UpdatePosition{ID: ids[len(ids)/2], Position: Position{X: 3, Y: 4}}
	}},
	{"remove", func(d *Doc, ids []string) Op {
		for _, id := range ids[len(ids)/3:] {
			if blockType(d, id) != TypeLoop {
				return BatchRemoveBlocks{IDs: []string{id}}
			}
		}
		panic("no block to remove")
	}},
}

// BenchmarkCatchUpOneEdit computes the catch-up of a replica that missed
// one edit of a document with a history of removals and text deletes:
// with CatchUp its bytes should be those of the edit, whatever the
// document's size and history; DeltaSince names every removed dot.
func BenchmarkCatchUpOneEdit(b *testing.B) {
	fns := []struct {
		name string
		fn   func(d *Doc, have *crdt.Context) *Doc
	}{
		{"DeltaSince", (*Doc).DeltaSince},
		{"CatchUp", (*Doc).CatchUp},
	}
	for _, n := range []int{1000, 10000} {
		for _, e := range catchUpEdits {
			for _, f := range fns {
				b.Run(fmt.Sprintf("fn=%s/edit=%s/blocks=%d", f.name, e.name, n), func(b *testing.B) {
					benchCatchUp(b, n, e.op, f.fn)
				})
			}
		}
	}
}

func benchCatchUp(b *testing.B, n int, op func(d *Doc, ids []string) Op, fn func(d *Doc, have *crdt.Context) *Doc) {
	ahead, behind := catchUpFixture(b, n, op)
	delta := fn(ahead, behind.Context())
	check := behind.Clone()
	check.Merge(delta)
	if !check.Equal(ahead) {
		b.Fatal("the replica merged with its catch-up differs from the document")
	}
	size := len(delta.Encode())
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU(b)
	for b.Loop() {
		fn(ahead, behind.Context())
	}
	cpu.report()
	b.ReportMetric(float64(size), "delta-bytes")
	b.ReportMetric(float64(delta.Context().NumRanges()), "ctx-ranges")
}
