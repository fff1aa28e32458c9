package protocol_test

import (
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// clientDeltaFrame is a Delta frame as a client sends it: one sub-block
// update whose value is a small JSON table (nested maps and arrays, so the
// canonical walk descends three levels).
func clientDeltaFrame(b *testing.B) []byte {
	doc := workflow.New()
	clock := crdt.NewClock("client-7f3a")
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	if _, err := doc.Apply(clock.Now(at), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "blk-1", Type: "agent", Name: "Agent"}}}); err != nil {
		b.Fatal(err)
	}
	rows := make([]any, 8)
	for i := range rows {
		rows[i] = map[string]any{"name": "column", "type": "string", "required": i%2 == 0, "width": 120 + i}
	}
	d, err := doc.Apply(clock.Now(at+1), workflow.UpdateSubBlock{BlockID: "blk-1", SubBlockID: "schema", Value: map[string]any{"rows": rows, "version": 3}})
	if err != nil {
		b.Fatal(err)
	}
	frame, err := protocol.Encode(&protocol.Delta{WorkflowID: "wf-5f0c2b1e", OpID: "op-000123", Delta: d.Encode()})
	if err != nil {
		b.Fatal(err)
	}
	return frame
}

// decodeClientDelta is what a session does with a client's Delta frame
// before the room sees it.
func decodeClientDelta(frame []byte) error {
	f, err := protocol.Decode(frame, protocol.Limits{})
	if err != nil {
		return err
	}
	_, err = workflow.DecodeDelta(f.(*protocol.Delta).Delta)
	return err
}

// BenchmarkDecodeClientDelta is the session's decode of a client delta.
func BenchmarkDecodeClientDelta(b *testing.B) {
	frame := clientDeltaFrame(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := decodeClientDelta(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeClientDeltaFreshGoroutine runs the same decode on a new
// goroutine per operation, so that every frame pushed past the goroutine's
// starting stack costs a stack copy, as on a server whose goroutines come
// and go.
func BenchmarkDecodeClientDeltaFreshGoroutine(b *testing.B) {
	frame := clientDeltaFrame(b)
	done := make(chan error)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		go func() { done <- decodeClientDelta(frame) }()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(stackPerGoroutine(1000, func() { _ = decodeClientDelta(frame) }), "stack-B/goroutine")
}

// stackPerGoroutine runs f on n goroutines that then park, and returns the
// stack bytes each holds: the starting stack, or the larger one a frame
// past it made the runtime copy to. The collector is off meanwhile so that
// it shrinks no stack.
func stackPerGoroutine(n int, f func()) float64 {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var ready sync.WaitGroup
	release := make(chan struct{})
	ready.Add(n)
	for range n {
		go func() {
			f()
			ready.Done()
			<-release
		}()
	}
	ready.Wait()
	runtime.ReadMemStats(&after)
	close(release)
	return float64(after.StackInuse-before.StackInuse) / float64(n)
}
