package client

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/protocol"
)

// ---- a document saved by the program (Config.Doc) --------------------------

// A program that saved its document with offline edits and restarts from it
// with the same replica id gets those edits to the server: after the join
// the client sends its own writes that the server's context lacks.
func TestSavedDocOfflineEditsSentOnJoin(t *testing.T) {
	f := newFakeServer(t)
	a := startClient(t, f, "alice", nil)
	a.waitLive(t)
	mustApply(t, a.Client, addBlock("online", "Online"))
	a.waitSaved(t)
	f.set(func(f *fakeServer) { f.refuseDials = true })
	f.dropAll(protocol.CloseGoingAway)
	testutil.WaitFor(t, "offline", func() bool { return a.Status().State != StateLive })
	for i := range 10 {
		mustApply(t, a.Client, addBlock(fmt.Sprint("b", i), fmt.Sprint("Block ", i)))
	}
	mustApply(t, a.Client, workflow.UpdateName{ID: "online", NewName: "Renamed offline"})
	mustApply(t, a.Client, workflow.RemoveBlock{ID: "b3"})
	saved := a.Doc()
	a.Close()

	f.set(func(f *fakeServer) { f.refuseDials = false })
	b := startClient(t, f, "alice", func(cfg *Config) { cfg.Doc = saved })
	b.waitLive(t)
	testutil.WaitFor(t, "the saved edits reach the server", func() bool { return f.snapshot().Equal(b.Doc()) && b.Pending() == 0 })
	v := f.snapshot().View()
	if len(v.Blocks) != 10 || v.Blocks["online"].Name != "Renamed offline" || v.Blocks["b3"] != nil {
		t.Fatalf("server view after the restart: %d blocks, %+v", len(v.Blocks), v.Blocks["online"])
	}
	if !b.Status().Saved() {
		t.Errorf("status %s", b.Status())
	}
}

// ---- refusals ----------------------------------------------------------------

// refuseBlock makes the fake server refuse, for good, any delta that adds
// block id.
func refuseBlock(f *fakeServer, id string) {
	f.set(func(f *fakeServer) {
		f.nack = func(opID string, d *workflow.Doc) *protocol.Nack {
			if len(d.Store().Get(workflow.Key{Kind: workflow.KindBlock, ID: id})) > 0 {
				return &protocol.Nack{OpID: opID, Code: protocol.CodeBlockLocked, Message: "locked", Retryable: false}
			}
			return nil
		}
	})
}

// A final refusal of a folded frame refuses no edit by itself: the client
// re-sends the edits one per frame, the server refuses only the bad one,
// and the client says so (OnReject with that edit's op id, Status.Rejected,
// not "saved") while the others are stored.
func TestFoldedRefusalIsAnsweredPerEdit(t *testing.T) {
	f := newFakeServer(t)
	refuseBlock(f, "bad")
	var mu sync.Mutex
	var rejects []*RejectError
	c := startClient(t, f, "alice", func(cfg *Config) {
		cfg.OnReject = func(e *RejectError) {
			mu.Lock()
			rejects = append(rejects, e)
			mu.Unlock()
		}
	})
	c.waitLive(t)
	f.set(func(f *fakeServer) { f.refuseDials = true })
	f.dropAll(protocol.CloseGoingAway)
	testutil.WaitFor(t, "offline", func() bool { return c.Status().State != StateLive })
	mustApply(t, c.Client, addBlock("good1", "Good 1"))
	bad := mustApply(t, c.Client, addBlock("bad", "Bad"))
	mustApply(t, c.Client, addBlock("good2", "Good 2"))
	f.set(func(f *fakeServer) { f.refuseDials = false })
	testutil.WaitFor(t, "answered", func() bool { s := c.Status(); return s.State == StateLive && s.Pending == 0 && s.Rejected == 1 })

	v := f.snapshot().View()
	if v.Blocks["good1"] == nil || v.Blocks["good2"] == nil || v.Blocks["bad"] != nil {
		t.Fatalf("server blocks after the refusal: %v", v.Blocks)
	}
	s := c.Status()
	if s.Saved() || !strings.Contains(s.String(), "1 refused") {
		t.Errorf("status after a refusal = %q (saved %v)", s, s.Saved())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(rejects) != 1 || rejects[0].Code != protocol.CodeBlockLocked || rejects[0].Delta != bad {
		t.Fatalf("OnReject calls = %+v, want one for the bad edit", rejects)
	}
	if got := c.Rejected(); len(got) != 1 || got[0].OpID != rejects[0].OpID {
		t.Errorf("Rejected() = %+v", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nacks < 2 {
		t.Errorf("server refused %d frames; the folded frame was not refused first", f.nacks)
	}
}

// With Config.Dir, refused edits survive a restart: the status still says
// so, and the refused edit is not offered to the server again.
func TestRejectedKeptAcrossRestartAndNotResent(t *testing.T) {
	f := newFakeServer(t)
	refuseBlock(f, "bad")
	dir := t.TempDir()
	a := startClient(t, f, "alice", withDir(dir))
	a.waitLive(t)
	mustApply(t, a.Client, addBlock("bad", "Bad"))
	mustApply(t, a.Client, addBlock("good", "Good"))
	testutil.WaitFor(t, "refused", func() bool { s := a.Status(); return s.Rejected == 1 && s.Pending == 0 })
	a.Close()
	f.mu.Lock()
	nacks := f.nacks
	f.mu.Unlock()

	b := startClient(t, f, "", withDir(dir))
	b.waitLive(t)
	mustApply(t, b.Client, addBlock("after", "After"))
	testutil.WaitFor(t, "after durable", func() bool { return b.Pending() == 0 && f.snapshot().View().Blocks["after"] != nil })
	if s := b.Status(); s.Rejected != 1 || s.Saved() {
		t.Errorf("status after restart = %+v", s)
	}
	if r := b.Rejected(); len(r) != 1 || r[0].Code != protocol.CodeBlockLocked {
		t.Errorf("Rejected after restart = %+v", r)
	}
	f.mu.Lock()
	if f.nacks != nacks {
		t.Errorf("the refused edit was offered again after the restart (%d refusals, was %d)", f.nacks, nacks)
	}
	f.mu.Unlock()
	if err := b.Reset("alice-2"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "saved after Reset", func() bool { return b.Status().String() == "saved" && b.Doc().Equal(f.snapshot()) })
	want := b.Doc()
	b.Close()
	c := openOffline(t, dir, "")
	if c.ReplicaID() != "alice-2" || len(c.Rejected()) != 0 || !c.Doc().Equal(want) {
		t.Errorf("after Reset and a restart: replica %q, %d refused, document equal %v", c.ReplicaID(), len(c.Rejected()), c.Doc().Equal(want))
	}
}

// ---- deleted workflow -----------------------------------------------------

// A client that was offline while its workflow was deleted learns it from
// the refused Join: deleted state, outbox dropped (stored one too), edits
// refused, OnEvent called, and Run returns ErrWorkflowDeleted, also after a
// restart on the same directory, without dialing.
func TestDeletedAtJoinWhileOffline(t *testing.T) {
	f := newFakeServer(t)
	dir := t.TempDir()
	f.set(func(f *fakeServer) {
		f.refuseDials = true
		f.joinError = protocol.NewError(protocol.CodeWorkflowDeleted, "deleted by admin")
	})
	events := make(chan protocol.Event, 4)
	c, err := New(Config{URL: f.url(), ReplicaID: "alice", WorkflowID: "wf-1", Dir: dir,
		Backoff: Backoff{Base: 5 * time.Millisecond, Cap: 20 * time.Millisecond},
		OnEvent: func(e protocol.Event) { events <- e }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 3 {
		mustApply(t, c, addBlock(fmt.Sprint("b", i), fmt.Sprint("B ", i)))
	}
	f.set(func(f *fakeServer) { f.refuseDials = false })
	err = c.Run(t.Context())
	var pe *protocol.Error
	if !errors.Is(err, ErrWorkflowDeleted) || !errors.As(err, &pe) || pe.Code != protocol.CodeWorkflowDeleted {
		t.Fatalf("Run = %v, want ErrWorkflowDeleted wrapping WORKFLOW_DELETED", err)
	}
	if s := c.Status(); s.State != StateDeleted || s.Pending != 0 || s.String() != "deleted" || s.Saved() {
		t.Errorf("status = %+v (%s)", s, s)
	}
	if _, err := c.Apply(addBlock("late", "Late")); !errors.Is(err, ErrWorkflowDeleted) {
		t.Errorf("Apply after delete = %v", err)
	}
	select {
	case e := <-events:
		if e.Kind != protocol.EventWorkflowDeleted || e.WorkflowID != "wf-1" || e.Message != "deleted by admin" {
			t.Errorf("event = %+v", e)
		}
	default:
		t.Error("no workflow-deleted event")
	}
	c.Close()

	f.mu.Lock()
	hellos := len(f.hellos)
	f.mu.Unlock()
	again := openOffline(t, dir, "")
	if s := again.Status(); s.State != StateDeleted || s.Pending != 0 {
		t.Errorf("restarted status = %+v", s)
	}
	if err := again.Run(t.Context()); !errors.Is(err, ErrWorkflowDeleted) {
		t.Errorf("Run after restart = %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.hellos) != hellos {
		t.Error("a client that knows its workflow is deleted dialed the server")
	}
}

// ---- replica reset ----------------------------------------------------------

// seedReplica has replica write n blocks (r0..r{n-1}) through a client, so
// that the server holds its dots, and closes that client: its local state
// is lost.
func seedReplica(t *testing.T, f *fakeServer, replica string, n int) *workflow.Doc {
	t.Helper()
	a := startClient(t, f, replica, nil)
	a.waitLive(t)
	for i := range n {
		mustApply(t, a.Client, addBlock(fmt.Sprint("r", i), fmt.Sprint("Kept ", i)))
	}
	a.waitSaved(t)
	a.Close()
	return f.snapshot()
}

// A replica id reused after losing local state (a fresh client with the id
// of one whose writes the server holds) mints dots the server already has.
// The client must notice (REPLICA_BEHIND from the server, or Joined.ctx),
// switch to a new id, re-mint its unsent edits under it and converge,
// without overwriting anything the server held.
func TestReplicaReuseIsReminted(t *testing.T) {
	for _, tc := range []struct {
		name          string
		serverChecks  bool
		seed, offline int
	}{
		// The client's context lacks the server's dots of alice: the
		// server refuses the Join (REPLICA_BEHIND), or, when it does not
		// check, the client sees it in Joined.ctx.
		{"REPLICA_BEHIND", true, 5, 2},
		{"Joined.ctx, fewer", false, 5, 2},
		// The client minted more than the server holds: only the client
		// can tell (the server's dots are not beyond its context).
		{"Joined.ctx, more", true, 2, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.set(func(f *fakeServer) { f.checkBehind = tc.serverChecks })
			before := seedReplica(t, f, "alice", tc.seed)
			dir := t.TempDir()

			f.set(func(f *fakeServer) { f.refuseDials = true })
			c := startClient(t, f, "alice", func(cfg *Config) {
				cfg.Dir = dir
				if testing.Verbose() {
					cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
				}
			})
			// Offline edits: their dots alice:1.. collide with the
			// server's.
			for i := range tc.offline {
				mustApply(t, c.Client, addBlock(fmt.Sprint("new", i), fmt.Sprint("New ", i)))
			}
			f.set(func(f *fakeServer) { f.refuseDials = false })
			testutil.WaitFor(t, "converged", func() bool {
				s := c.Status()
				return s.State == StateLive && s.Pending == 0 && f.snapshot().Equal(c.Doc())
			})
			if c.ReplicaID() == "alice" {
				t.Fatal("the client kept the reused replica id")
			}
			v := f.snapshot().View()
			for i := range tc.seed {
				want := before.View().Blocks[fmt.Sprint("r", i)]
				if got := v.Blocks[fmt.Sprint("r", i)]; got == nil || !reflect.DeepEqual(got, want) {
					t.Errorf("r%d on the server = %+v, want %+v", i, got, want)
				}
			}
			for i := range tc.offline {
				if v.Blocks[fmt.Sprint("new", i)] == nil {
					t.Errorf("new%d never reached the server", i)
				}
			}
			// No new write went out under the reused id.
			if got, was := f.snapshot().Context().Ranges("alice"), before.Context().Ranges("alice"); !reflect.DeepEqual(got, was) {
				t.Errorf("alice's dots on the server went from %v to %v", was, got)
			}
			f.mu.Lock()
			last := f.hellos[len(f.hellos)-1].ReplicaID
			refused := f.behindErrors
			f.mu.Unlock()
			if wantRefused := tc.serverChecks && tc.seed > tc.offline; wantRefused != (refused > 0) {
				t.Errorf("%d Joins refused with REPLICA_BEHIND", refused)
			}
			if last != c.ReplicaID() {
				t.Errorf("last hello names %q, the client writes as %q", last, c.ReplicaID())
			}
			// The new id is what the directory holds now.
			fresh := c.ReplicaID()
			c.Close()
			again := openOffline(t, dir, "alice")
			if again.ReplicaID() != fresh || !again.Doc().Equal(f.snapshot()) {
				t.Errorf("restart after the replica reset: id %q (want %q), document equal %v", again.ReplicaID(), fresh, again.Doc().Equal(f.snapshot()))
			}
		})
	}
}

// group and fold keep one entry per edit and refold after a refusal: solo
// entries travel alone, the others are joined by Merge within the limit.
func TestGroupAndFold(t *testing.T) {
	doc := workflow.New()
	var es []*entry
	for i := range 5 {
		d, err := doc.Apply(crdt.Timestamp{Wall: int64(i + 1), Replica: "a"}, addBlock(fmt.Sprint("b", i), fmt.Sprint("B ", i)))
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, &entry{id: fmt.Sprint("op", i), delta: d, enc: d.Encode()})
	}
	es[2].solo = true
	var shape []int
	runs := group(es, 1<<20, true)
	for _, r := range runs {
		shape = append(shape, len(r))
	}
	if !reflect.DeepEqual(shape, []int{2, 1, 2}) {
		t.Fatalf("runs = %v", shape)
	}
	n := 0
	newID := func() string { n++; return fmt.Sprint("fold", n) }
	first := fold(runs[0], 1<<20, newID)
	if len(first) != 1 || first[0].id != "fold1" || len(first[0].entries) != 2 {
		t.Fatalf("folded run = %+v", first)
	}
	merged := workflow.New()
	merged.Merge(es[0].delta)
	merged.Merge(es[1].delta)
	if got, err := workflow.Decode(first[0].enc, workflow.DocLimits); err != nil || !got.Equal(merged) {
		t.Fatal("a folded frame is not the merge of its entries")
	}
	if solo := fold(runs[1], 1<<20, newID); len(solo) != 1 || solo[0].id != "op2" {
		t.Fatalf("a run of one is sent under the entry's own id: %+v", solo)
	}
	if parts := fold(runs[2], len(es[3].enc)+len(es[4].enc)/2, newID); len(parts) != 2 || parts[1].id != "op4" {
		t.Fatalf("a join over the limit is not sent as its parts: %d frames", len(parts))
	}
	if runs := group(es, 1<<20, false); len(runs) != 5 {
		t.Fatalf("folding off: %d runs", len(runs))
	}
}

// Callbacks may edit while the client resets its replica: OnStatus calls
// Apply from inside Reset's and the replica reset's notifications.
func TestStatusCallbackMayApplyDuringResets(t *testing.T) {
	f := newFakeServer(t)
	seedReplica(t, f, "alice", 3)
	var self atomic.Pointer[Client]
	var applied atomic.Int32
	c := startClient(t, f, "alice", func(cfg *Config) {
		cfg.OnStatus = func(s Status) {
			// Not once the test is over: the Client closing is a status
			// change too, and Apply then rightly refuses.
			if c := self.Load(); c != nil && s.State != StateLive && s.State != StateClosed && applied.Load() < 3 {
				n := applied.Add(1)
				_, err := c.Apply(addBlock(fmt.Sprint("cb", n), fmt.Sprint("Callback ", n)))
				if err != nil && !errors.Is(err, workflow.ErrNameConflict) && !errors.Is(err, ErrClosed) {
					t.Errorf("Apply from OnStatus: %v", err)
				}
			}
		}
	})
	self.Store(c.Client)
	testutil.WaitFor(t, "the replica reset", func() bool { return c.ReplicaID() != "alice" && c.Status().State == StateLive })
	if err := c.Reset("alice-3"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "saved", func() bool { return c.Status().String() == "saved" })
}
