package client_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/client"
	"github.com/flowsync/flowsync/sync/protocol"
)

// End-to-end recovery: restarts (Config.Dir, Config.Doc), a reused replica
// id, per-edit refusals and deleted workflows, against the real server.

func addBlock(id, name string) workflow.Op {
	pos := workflow.Position{X: 1, Y: 2}
	return workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: name, Position: &pos}}}
}

func mustApply(t *testing.T, p *peer, op workflow.Op) {
	t.Helper()
	if _, err := p.Apply(op); err != nil {
		t.Fatalf("%s: Apply(%s): %v", p.name, op.Name(), err)
	}
}

func goOffline(t *testing.T, p *peer) {
	t.Helper()
	p.dialer.setOffline(true)
	testutil.WaitFor(t, p.name+" offline", func() bool { return p.Status().State != client.StateLive })
}

// A client restarted on its directory sends the edits it made offline
// before it stopped, under the replica id it had.
func TestE2EDirRestartSendsWhatWasNeverDurable(t *testing.T) {
	s := newServer(t)
	dir := t.TempDir()
	bob := startPeer(t, s, "bob", nil)
	a := startPeer(t, s, "alice", func(c *client.Config) { c.Dir = dir; c.ReplicaID = "" })
	a.waitLive(t)
	mustApply(t, a, addBlock("online", "Online"))
	waitConverged(t, s, a, bob)
	replica := a.ReplicaID()
	goOffline(t, a)
	for i := range 20 {
		mustApply(t, a, addBlock(fmt.Sprint("off", i), fmt.Sprint("Offline ", i)))
	}
	mustApply(t, a, workflow.UpdateName{ID: "online", NewName: "Renamed offline"})
	a.Close()

	a2 := startPeer(t, s, "alice", func(c *client.Config) { c.Dir = dir; c.ReplicaID = "" })
	if a2.ReplicaID() != replica {
		t.Fatalf("restarted with replica %q, want %q", a2.ReplicaID(), replica)
	}
	waitConverged(t, s, a2, bob)
	if v := bob.View(); len(v.Blocks) != 21 || v.Blocks["online"].Name != "Renamed offline" {
		t.Fatalf("bob sees %d blocks after the restart", len(v.Blocks))
	}
}

// A program that saved its document (Config.Doc) with offline edits and
// restarts from it with the same replica id gets them to the server.
func TestE2ESavedDocOfflineEditsReachTheServer(t *testing.T) {
	s := newServer(t)
	bob := startPeer(t, s, "bob", nil)
	a := startPeer(t, s, "alice", nil)
	a.waitLive(t)
	mustApply(t, a, addBlock("online", "Online"))
	waitConverged(t, s, a, bob)
	goOffline(t, a)
	for i := range 10 {
		mustApply(t, a, addBlock(fmt.Sprint("off", i), fmt.Sprint("Offline ", i)))
	}
	mustApply(t, a, workflow.RemoveBlock{ID: "online"})
	saved := a.Doc()
	a.Close()

	a2 := startPeer(t, s, "alice", func(c *client.Config) { c.Doc = saved })
	waitConverged(t, s, a2, bob)
	if v := bob.View(); len(v.Blocks) != 10 || v.Blocks["online"] != nil {
		t.Fatalf("bob sees %d blocks after the restart from the saved document", len(v.Blocks))
	}
}

// A replica id reused after its state was lost: a new client with the id
// of one whose writes the server holds, with offline edits of its own
// (more of them than the server holds, so contexts alone look fine).
// Today's server does not refuse it; the client sees it in Joined, takes a
// new id, re-mints its edits and everyone converges.
func TestE2EReusedReplicaIDConverges(t *testing.T) {
	s := newServer(t)
	bob := startPeer(t, s, "bob", nil)
	a := startPeer(t, s, "alice", nil)
	a.waitLive(t)
	for i := range 3 {
		mustApply(t, a, addBlock(fmt.Sprint("first", i), fmt.Sprint("First ", i)))
	}
	waitConverged(t, s, a, bob)
	a.Close()

	a2 := startPeer(t, s, "alice", nil)
	goOffline(t, a2)
	for i := range 8 {
		mustApply(t, a2, addBlock(fmt.Sprint("second", i), fmt.Sprint("Second ", i)))
	}
	a2.dialer.setOffline(false)
	waitConverged(t, s, a2, bob)
	if a2.ReplicaID() == "replica-alice" {
		t.Fatal("the client kept the reused replica id")
	}
	if v := bob.View(); len(v.Blocks) != 11 || v.Blocks["first0"].Name != "First 0" {
		t.Fatalf("bob sees %d blocks: a reused dot overwrote or dropped an edit", len(v.Blocks))
	}
}

// An edit the server refuses for good is refused alone, even when it
// travelled folded with others: those are stored, the client reports the
// one refusal and is not "saved" until Reset.
func TestE2EFoldedRefusalIsPerEdit(t *testing.T) {
	s := newServer(t, func(cfg *rooms.Config) {
		cfg.Admit = func(_ *workflow.Doc, c *rooms.Change) error {
			if len(c.Delta.Store().Get(workflow.Key{Kind: workflow.KindBlock, ID: "forbidden"})) > 0 {
				return protocol.NewError(protocol.CodeBlockLocked, "no forbidden blocks")
			}
			return nil
		}
	})
	rejected := make(chan *client.RejectError, 4)
	bob := startPeer(t, s, "bob", nil)
	a := startPeer(t, s, "alice", func(c *client.Config) { c.OnReject = func(e *client.RejectError) { rejected <- e } })
	a.waitLive(t)
	goOffline(t, a)
	mustApply(t, a, addBlock("ok1", "Ok 1"))
	mustApply(t, a, addBlock("forbidden", "Forbidden"))
	mustApply(t, a, addBlock("ok2", "Ok 2"))
	a.dialer.setOffline(false)
	testutil.WaitFor(t, "the refusal", func() bool {
		st := a.Status()
		return st.State == client.StateLive && st.Pending == 0 && st.Rejected == 1
	})
	select {
	case e := <-rejected:
		if e.Code != protocol.CodeBlockLocked || len(e.Delta.Store().Get(workflow.Key{Kind: workflow.KindBlock, ID: "forbidden"})) == 0 {
			t.Errorf("reject = %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no OnReject")
	}
	if st := a.Status(); st.Saved() {
		t.Errorf("status %s says saved", st)
	}
	testutil.WaitFor(t, "bob has the accepted edits", func() bool {
		v := bob.View()
		return v.Blocks["ok1"] != nil && v.Blocks["ok2"] != nil
	})
	if v := s.snapshot(t).View(); v.Blocks["forbidden"] != nil || len(v.Blocks) != 2 {
		t.Fatalf("server blocks %v", v.Blocks)
	}
	if err := a.Reset("replica-alice-2"); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, s, a, bob)
}

// A client offline while its workflow is deleted learns it at the next
// join: deleted state, outbox dropped, edits refused, Run returns.
func TestE2EDeletedWhileOffline(t *testing.T) {
	s := newServer(t)
	a := startPeer(t, s, "alice", nil)
	a.waitLive(t)
	mustApply(t, a, addBlock("b1", "B 1"))
	waitConverged(t, s, a)
	goOffline(t, a)
	mustApply(t, a, addBlock("b2", "B 2"))
	if err := s.reg.DeleteWorkflow(t.Context(), e2eWorkflow); err != nil {
		t.Fatal(err)
	}
	a.dialer.setOffline(false)
	checkDeleted(t, a)
}

// A client joined when its workflow is deleted: the event, then close 4503.
func TestE2EDeletedWhileJoined(t *testing.T) {
	s := newServer(t)
	events := make(chan protocol.Event, 4)
	a := startPeer(t, s, "alice", func(c *client.Config) { c.OnEvent = func(e protocol.Event) { events <- e } })
	a.waitLive(t)
	mustApply(t, a, addBlock("b1", "B 1"))
	waitConverged(t, s, a)
	if err := s.reg.DeleteWorkflow(t.Context(), e2eWorkflow); err != nil {
		t.Fatal(err)
	}
	checkDeleted(t, a)
	select {
	case e := <-events:
		if e.Kind != protocol.EventWorkflowDeleted {
			t.Errorf("event %+v", e)
		}
	default:
		t.Error("no workflow-deleted event")
	}
}

func checkDeleted(t *testing.T, p *peer) {
	t.Helper()
	var err error
	select {
	case err = <-p.done:
		p.done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return for a deleted workflow")
	}
	if !errors.Is(err, client.ErrWorkflowDeleted) {
		t.Fatalf("Run = %v, want ErrWorkflowDeleted", err)
	}
	if st := p.Status(); st.State != client.StateDeleted || st.Pending != 0 || st.Saved() {
		t.Errorf("status %+v", st)
	}
	if _, err := p.Apply(addBlock("late", "Late")); !errors.Is(err, client.ErrWorkflowDeleted) {
		t.Errorf("Apply after the deletion = %v", err)
	}
}
