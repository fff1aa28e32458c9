package session_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// While a Join waits for its room's first load, the session's memberships
// are not locked: a role change for the user returns at once, and one for
// the workflow being joined is applied when the room has answered (the
// session joins again with the new role).
func TestJoinDoesNotLockMembershipsDuringLoad(t *testing.T) {
	e := newEnv(t, nil)
	e.store.holdWF, e.store.held = "slow", make(chan struct{})
	a := e.connect(t, "ua:A", "rep-a")
	a.send(&protocol.Join{WorkflowID: "slow"})
	testutil.WaitFor(t, "the load of the room being joined", func() bool { return e.store.loads.Load() == 1 })

	changed := make(chan error, 1)
	go func() {
		_, err := e.h.SetRole(context.Background(), "ua", "slow", protocol.RoleRead)
		changed <- err
	}()
	select {
	case err := <-changed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		close(e.store.held)
		t.Fatal("a role change waited for another room's load")
	}
	close(e.store.held)
	a.expectWhere(protocol.FrameJoined, func(f protocol.Frame) bool { return f.(*protocol.Joined).Role == protocol.RoleRead })
	op := a.sendDelta("slow", a.edit(addBlock("b", "B")))
	if n := nackFor(a, op); n.Code != protocol.CodePermissionDenied {
		t.Fatalf("edit after the role change: %+v", n)
	}
}

// A catch-up far larger than the session's queue bound arrives whole and in
// order while another member's edits are relayed meanwhile: the chunks do
// not take the room in the queue that the relays need, so the joiner is not
// cut as a slow consumer.
func TestJoinReplyPastQueueBound(t *testing.T) {
	e := newEnv(t, func(s *session.Config, r *rooms.Config) {
		r.MaxCatchUpChunk = 4 << 10
		s.MaxQueueBytes = 16 << 10
		s.MaxQueueFrames = 64
	})
	a := e.connect(t, "ua:A", "rep-a")
	a.join("wf", "")
	big := func(i int) string { return fmt.Sprintf("%d %s", i, strings.Repeat("x", 2<<10)) }
	for i := range 60 {
		id := fmt.Sprintf("b%d", i)
		a.sendDelta("wf", a.edit(addBlock(id, "Agent "+id)))
		a.expect(protocol.FrameApplied)
		a.sendDelta("wf", a.edit(workflow.UpdateSubBlock{BlockID: id, SubBlockID: "prompt", Value: big(i)}))
		a.expect(protocol.FrameApplied)
	}
	// One edit at a time, each relayed in a frame of its own, while b's
	// catch-up is being sent.
	edits := make([][]byte, 30)
	for i := range edits {
		edits[i] = mustEncode(t, &protocol.Delta{WorkflowID: "wf", OpID: fmt.Sprint("e", i),
			Delta: a.edit(workflow.UpdateSubBlock{BlockID: fmt.Sprintf("b%d", i), SubBlockID: "prompt", Value: big(-i)})})
	}
	b := e.connect(t, "ub:B", "rep-b")
	b.send(&protocol.Join{WorkflowID: "wf"})
	edited := make(chan error, 1)
	go func() {
		for _, frame := range edits {
			// An editor's pace, not a flood: the server answers at once, and
			// a flood of 2 KiB relays would outrun b's reading however the
			// server queued them.
			time.Sleep(5 * time.Millisecond)
			if err := a.conn.WriteMessage(websocket.BinaryMessage, frame); err != nil {
				edited <- err
				return
			}
			for {
				f, err := a.next()
				if err != nil {
					edited <- err
					return
				}
				if f.Type() == protocol.FrameApplied {
					break
				}
			}
		}
		edited <- nil
	}()
	var joined *protocol.Joined
	var seq uint64
	for joined == nil || seq < joined.CatchUpChunks {
		f, err := b.next()
		if err != nil {
			t.Fatalf("after %d chunks: %v", seq, err)
		}
		b.absorb(f)
		switch f := f.(type) {
		case *protocol.Joined:
			joined = f
		case *protocol.CatchUp:
			if joined == nil || f.Seq != seq || f.Last != (seq == joined.CatchUpChunks-1) {
				t.Fatalf("CatchUp %d (last %v) after %d chunks of %v", f.Seq, f.Last, seq, joined)
			}
			seq++
		case *protocol.RemoteDelta:
			if joined == nil {
				t.Fatal("a RemoteDelta before Joined")
			}
		}
	}
	if joined.CatchUpChunks < 8 {
		t.Fatalf("catch-up in %d chunks, want several queue bounds' worth", joined.CatchUpChunks)
	}
	if err := <-edited; err != nil {
		t.Fatalf("a's edits: %v", err)
	}
	// b reads on until it has every edit: none was dropped, b is not cut.
	for !b.doc.Equal(a.doc) {
		f, err := b.next()
		if err != nil {
			t.Fatalf("b, before it has every edit: %v", err)
		}
		b.absorb(f)
	}
}
