package session_test

import (
	"runtime/metrics"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// goroutinesCreated reads the process's count of goroutines ever created.
func goroutinesCreated(t testing.TB) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("runtime metric %s not supported", s[0].Name)
	}
	return s[0].Value.Uint64()
}

// A connection that keeps editing does not start goroutines per frame:
// its read bursts and writer runs reuse the handler's parked workers, and
// the room's store writes the registry's, whose stacks have already grown
// (a fresh goroutine starts at 2 KiB, and decoding a delta, encoding an
// Acks frame or hashing a log row grew and copied it every time). Each
// edit here is read by a burst, stored by a write and answered by writer
// runs: 4 new goroutines per edit before the pools.
func TestBusyConnectionReusesGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, nil)
		a := e.connect(t, "ua:A", "rep-a", protocol.CapabilityAcks)
		a.join("wf", "")
		a.sendDelta("wf", a.edit(addBlock("b", "B")))
		awaitDurable(a, "op-1")

		const edits = 100
		before := goroutinesCreated(t)
		for i := range edits {
			op := a.sendDelta("wf", a.edit(workflow.UpdatePosition{ID: "b", Position: workflow.Position{X: float64(i), Y: 1}}))
			awaitDurable(a, op)
		}
		created := goroutinesCreated(t) - before
		t.Logf("%d edits, each read, merged, stored and acknowledged: %d goroutines created", edits, created)
		// The pools start a worker when every parked one is busy: a few.
		if created > edits/10 {
			t.Errorf("%d goroutines created for %d edits, want at most %d", created, edits, edits/10)
		}
	})
}

// awaitDurable reads Acks frames until one acknowledges op as durable.
func awaitDurable(c *client, op string) {
	c.t.Helper()
	c.expectWhere(protocol.FrameAcks, func(f protocol.Frame) bool {
		return slices.Contains(f.(*protocol.Acks).Durable, op)
	})
}
