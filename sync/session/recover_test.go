package session_test

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// TestPanicRecovered: a panic while a frame is handled closes that
// connection with 1011, is counted and logged, and another session on the
// same server keeps working.
func TestPanicRecovered(t *testing.T) {
	e := newEnv(t, nil)
	var armed atomic.Bool
	session.SetFrameHook(e.h, func([]byte) {
		if armed.CompareAndSwap(true, false) {
			panic("injected by the test")
		}
	})
	victim := e.connect(t, "u1", "r1")
	other := e.connect(t, "u2", "r2")
	other.join("wf", "tab")

	armed.Store(true)
	victim.send(&protocol.Join{WorkflowID: "wf", Context: workflow.New().Encode(), TabSessionID: "tab"})
	if code := victim.expectClose(); code != int(protocol.CloseInternalError) {
		t.Fatalf("close code %d, want 1011", code)
	}
	if got := counterValue(e.metrics.Panics); got != 1 {
		t.Fatalf("panics metric = %v, want 1", got)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "session reader panicked") || !strings.Contains(logs, "injected by the test") {
		t.Fatalf("the panic was not logged:\n%s", logs)
	}

	op := other.sendDelta("wf", other.edit(addBlock("b1", "after the panic")))
	other.expectWhere(protocol.FrameApplied, func(f protocol.Frame) bool { return f.(*protocol.Applied).OpID == op })
}
