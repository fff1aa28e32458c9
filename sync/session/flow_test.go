package session_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// encodeDeltas returns n Delta frames of c moving block b, op ids op-1…op-n.
func encodeDeltas(t *testing.T, c *client, wf string, n int) [][]byte {
	t.Helper()
	frames := make([][]byte, n)
	for i := range frames {
		raw := c.edit(workflow.UpdatePosition{ID: "b", Position: workflow.Position{X: float64(i), Y: 1}})
		b, err := protocol.Encode(&protocol.Delta{WorkflowID: wf, OpID: fmt.Sprintf("op-%d", i+1), Delta: raw})
		if err != nil {
			t.Fatal(err)
		}
		frames[i] = b
	}
	return frames
}

// sendAll writes frames from a goroutine of its own: the server may stop
// reading (backpressure) until the client reads its answers. The channel
// yields the first write error, or nil.
func sendAll(c *client, frames [][]byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		for _, b := range frames {
			if err := c.conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// A client that sends many more deltas than the outbound queue holds
// frames, without waiting for their answers, gets every Applied and
// Durable on the same connection: the answers to its own frames never make
// it a slow consumer.
func TestBacklogLargerThanQueueIsAnswered(t *testing.T) {
	const n = 3000
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) {
		s.MaxQueueFrames = 32
		s.FramesPerSecond, s.BytesPerSecond = -1, -1
	})
	a := e.connect(t, "ua:A", "rep-a")
	a.join("wf", "")
	a.sendDelta("wf", a.edit(addBlock("b", "Agent")))
	a.expect(protocol.FrameApplied)
	frames := encodeDeltas(t, a, "wf", n)
	sent := sendAll(a, frames)

	applied, durable := map[string]bool{}, map[string]bool{}
	for len(applied) < n || len(durable) < n {
		f, err := a.next()
		if err != nil {
			t.Fatalf("after %d Applied and %d durable: %v", len(applied), len(durable), err)
		}
		switch f := f.(type) {
		case *protocol.Applied:
			applied[f.OpID] = true
		case *protocol.Durable:
			for _, op := range f.OpIDs {
				durable[op] = true
			}
		case *protocol.Nack:
			t.Fatalf("Nack %s: %s %s", f.OpID, f.Code, f.Message)
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("write: %v", err)
	}
	want := workflow.Position{X: n - 1, Y: 1}
	if got := e.stored(t, "wf").View().Blocks["b"].Position; got != want {
		t.Fatalf("stored position %+v, want %+v", got, want)
	}
}

// A client that floods its own deltas and never reads is still cut as a
// slow consumer by the relays of another member's edits: backpressure on
// its submissions does not shield it from what it does not cause itself.
func TestNonReadingSubmitterIsStillCut(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) {
		// The byte bound cuts slow (A's edits are 100 KiB each); the frame
		// bound leaves A, which reads, room for the relays of slow's flood.
		s.MaxQueueBytes = 512 << 10
		s.FramesPerSecond, s.BytesPerSecond = -1, -1
	})
	a := e.connect(t, "ua:A", "rep-a")
	slow := e.dialSmallBuffer(t)
	a.join("wf", "")
	slow.join("wf", "")
	a.sendDelta("wf", a.edit(addBlock("b", "Agent")))
	a.expect(protocol.FrameApplied)
	slow.expect(protocol.FrameRemoteDelta)
	sendAll(slow, encodeDeltas(t, slow, "wf", 5000)) // never read

	big := string(bytes.Repeat([]byte("x"), 100<<10))
	cut := false
	for i := 0; i < 400 && !cut; i++ {
		op := a.sendDelta("wf", a.edit(workflow.UpdateSubBlock{BlockID: "b", SubBlockID: "prompt", Value: big + string(rune('a'+i%26))}))
		// Read to the Applied, watching for the roster without slow.
		for {
			f, err := a.next()
			if err != nil {
				t.Fatal(err)
			}
			if r, ok := f.(*protocol.Roster); ok && len(r.Entries) == 1 {
				cut = true
			}
			if ap, ok := f.(*protocol.Applied); ok && ap.OpID == op {
				break
			}
		}
	}
	if cut {
		if got := slow.expectClose(); got != int(protocol.CloseSlowConsumer) {
			t.Fatalf("non-reading client closed with %d, want %d", got, protocol.CloseSlowConsumer)
		}
		return
	}
	t.Fatal("the non-reading client was never cut")
}
