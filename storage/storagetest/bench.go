package storagetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
)

// Benchmark fixtures and bodies shared by the store packages' benchmarks
// (BENCHMARKS.md "Storage"). Fixtures are deterministic.

const benchWall = 1_700_000_000_000

func benchID(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i) }

// BigDoc returns a document of nBlocks agent blocks (UUID-shaped ids, a
// name, a position, 3 sub-blocks; added by replica "builder" with
// BatchAddBlocks, 100 per batch) and nLog deltas of a second replica that
// alternate UpdatePosition and UpdateSubBlock over the blocks: the shape of
// a stored snapshot plus the log written after it.
func BigDoc(tb testing.TB, nBlocks, nLog int) (base *workflow.Doc, log []storage.Delta) {
	tb.Helper()
	base = workflow.New()
	clock := crdt.NewClock("builder")
	wall := int64(benchWall)
	for start := 0; start < nBlocks; start += 100 {
		var op workflow.BatchAddBlocks
		for i := start; i < min(start+100, nBlocks); i++ {
			op.Blocks = append(op.Blocks, workflow.BlockInput{
				ID: benchID(i), Type: "agent", Name: fmt.Sprintf("Agent %d", i),
				Position: &workflow.Position{X: float64(i%50) * 250, Y: float64(i/50) * 150},
				SubBlocks: map[string]workflow.SubBlockInput{
					"model":        {ID: "model", Type: "combobox", Value: "gpt-4o"},
					"systemPrompt": {ID: "systemPrompt", Type: "long-input", Value: fmt.Sprintf("You are agent %d.", i)},
					"temperature":  {ID: "temperature", Type: "slider", Value: 0.7},
				},
			})
		}
		wall++
		if _, err := base.Apply(clock.Now(wall), op); err != nil {
			tb.Fatalf("BigDoc: %v", err)
		}
	}
	return base, Typical(tb, base, nLog)
}

// Typical returns n typical deltas (about 150 bytes: one position or one
// sub-block value) of replica "editor" over the blocks of doc, which is
// left unchanged.
func Typical(tb testing.TB, doc *workflow.Doc, n int) []storage.Delta {
	tb.Helper()
	d := doc.Clone()
	var ids []string
	for _, b := range d.View().Blocks {
		ids = append(ids, b.ID)
	}
	if len(ids) == 0 {
		tb.Fatal("Typical: document has no blocks")
	}
	clock := crdt.NewClock("editor-7f3a9c2e")
	wall := int64(benchWall + 1_000_000)
	out := make([]storage.Delta, 0, n)
	for i := range n {
		wall++
		id := ids[i%len(ids)]
		var op workflow.Op
		if i%2 == 0 {
			op = workflow.UpdatePosition{ID: id, Position: workflow.Position{X: float64(i), Y: float64(2 * i)}}
		} else {
			op = workflow.UpdateSubBlock{BlockID: id, SubBlockID: "systemPrompt", Value: fmt.Sprintf("You are agent %d, edit %d.", i%len(ids), i)}
		}
		delta, err := d.Apply(clock.Now(wall), op)
		if err != nil {
			tb.Fatalf("Typical: %v", err)
		}
		out = append(out, storage.NewDelta(delta.Encode()))
	}
	return out
}

// BenchAppend measures Append of batches of size batch (typical deltas,
// keyed by NewDelta beforehand, as a room hands them over).
// Each batch is new (re-sends would be skipped): when the pool of
// prepared deltas is used up, the benchmark moves to a fresh workflow id.
// It reports µs/delta and deltas/s.
func BenchAppend(b *testing.B, s storage.Store, batch int) {
	const pool = 20_000
	doc, _ := BigDoc(b, 100, 0)
	deltas := Typical(b, doc, pool)
	ctx := context.Background()
	wf, next := 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if next+batch > pool {
			wf, next = wf+1, 0
		}
		if err := s.Append(ctx, fmt.Sprintf("bench-append-%d", wf), deltas[next:next+batch]); err != nil {
			b.Fatal(err)
		}
		next += batch
	}
	perDelta := b.Elapsed().Seconds() / float64(b.N*batch)
	b.ReportMetric(perDelta*1e6, "µs/delta")
	b.ReportMetric(1/perDelta, "deltas/s")
}

// PrepareColdLoad stores a snapshot of a nBlocks document and a log of nLog
// typical deltas after it under workflowID, and returns the document a
// Load must return.
func PrepareColdLoad(b *testing.B, s storage.Store, workflowID string, nBlocks, nLog int) *workflow.Doc {
	b.Helper()
	ctx := context.Background()
	base, log := BigDoc(b, nBlocks, nLog)
	if _, err := s.Snapshot(ctx, workflowID, base); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(log); i += 1000 {
		if err := s.Append(ctx, workflowID, log[i:min(i+1000, len(log))]); err != nil {
			b.Fatal(err)
		}
	}
	want := base.Clone()
	for _, d := range log {
		x, err := workflow.Decode(d.Bytes(), workflow.DeltaLimits)
		if err != nil {
			b.Fatal(err)
		}
		want.Merge(x)
	}
	return want
}

// BenchColdLoad measures Load of a workflow prepared by PrepareColdLoad.
func BenchColdLoad(b *testing.B, s storage.Store, workflowID string, want *workflow.Doc) {
	ctx := context.Background()
	got, err := s.Load(ctx, workflowID)
	if err != nil {
		b.Fatal(err)
	}
	if !got.Equal(want) {
		b.Fatal("cold load returned another document")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Load(ctx, workflowID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchSnapshotTrim measures a snapshot that trims rows rows the caller
// wrote (typical one-operation deltas, appended one per Append as a room's
// writes are), their join being the snapshot's document; with held the
// caller names them (Snapshot's held), so the store trims them unread.
// Each iteration appends its rows untimed, on a workflow of its own, then
// takes the snapshot.
func BenchSnapshotTrim(b *testing.B, s storage.Store, rows int, held bool) {
	ctx := context.Background()
	doc, _ := BigDoc(b, 100, 0)
	deltas := Typical(b, doc, rows)
	snap := workflow.New()
	keys := make([]storage.RowKey, len(deltas))
	for i, d := range deltas {
		x, err := workflow.Decode(d.Bytes(), workflow.DeltaLimits)
		if err != nil {
			b.Fatal(err)
		}
		snap.Merge(x)
		keys[i] = d.Hash()
	}
	if !held {
		keys = nil
	}
	b.ReportAllocs()
	wf := 0
	for b.Loop() {
		b.StopTimer()
		wf++
		id := fmt.Sprintf("bench-trim-%d", wf)
		for _, d := range deltas {
			if err := s.Append(ctx, id, []storage.Delta{d}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if _, err := s.Snapshot(ctx, id, snap, keys...); err != nil {
			b.Fatal(err)
		}
	}
}
