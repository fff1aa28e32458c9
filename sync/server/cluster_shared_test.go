package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/client"
	"github.com/flowsync/flowsync/sync/protocol"
)

// What a cluster shares besides documents: workflow locks, live cursors
// and drags, and the roster of a room a node just loaded.

// rawSession is a hand-driven protocol session joined to wf.
type rawSession struct {
	t  testing.TB
	ws *websocket.Conn
}

func joinRaw(t testing.TB, url, user, wf string) *rawSession {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	s := &rawSession{t: t, ws: ws}
	s.send(&protocol.Hello{ProtocolVersion: protocol.ProtocolVersion, Token: user + ":" + user, ReplicaID: "r-" + user})
	s.until(func(f protocol.Frame) bool { return f.Type() == protocol.FrameWelcome })
	s.send(&protocol.Join{WorkflowID: wf, Context: workflow.New().Encode()})
	s.until(func(f protocol.Frame) bool { return f.Type() == protocol.FrameJoined })
	return s
}

func (s *rawSession) send(f protocol.Frame) {
	s.t.Helper()
	b, err := protocol.Encode(f)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		s.t.Fatal(err)
	}
}

// until reads frames until match accepts one (and returns it), for at most
// 5 s.
func (s *rawSession) until(match func(protocol.Frame) bool) protocol.Frame {
	s.t.Helper()
	_ = s.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, msg, err := s.ws.ReadMessage()
		if err != nil {
			s.t.Fatalf("reading: %v", err)
		}
		f, err := protocol.Decode(msg, protocol.Limits{})
		if err != nil {
			s.t.Fatal(err)
		}
		if match(f) {
			return f
		}
	}
}

// errorFrame matches the Error frame of code.
func errorFrame(code protocol.Code) func(protocol.Frame) bool {
	return func(f protocol.Frame) bool {
		e, ok := f.(*protocol.Error)
		return ok && e.Code == code
	}
}

var backend = rooms.Identity{UserID: "backend", Name: "Backend", Role: protocol.RoleAdmin}

func rename(t testing.TB, n *node, wf, name string) protocol.Code {
	t.Helper()
	res, err := n.srv.Rooms().Apply(context.Background(), wf, backend, []workflow.Op{workflow.UpdateName{ID: "eb-b", NewName: name}})
	if err != nil {
		t.Fatalf("%s: Apply: %v", n.name, err)
	}
	return res.Results[0].Code
}

// A lock set on node A is enforced on node B (edits and drags refused) and
// learned by node C, which loads the room afterwards from a store of its
// own; an unlock on B frees all three.
func TestClusterLockShared(t *testing.T) {
	ns := natsCluster(t, 3)
	const wf = "wf-locked"
	ctx := context.Background()
	a := startNode(t, "a", ns[0].ClientURL(), nodeOpts{})
	b := startNode(t, "b", ns[1].ClientURL(), nodeOpts{})
	eb := startEditor(t, "eb", wf, b.url, nil)
	eb.waitLive(t)
	eb.edit(t, 1)
	// The client applies locally and sends later: until b has the block,
	// a rename of it on b is UNKNOWN_ENTITY, not WORKFLOW_LOCKED.
	testutil.WaitFor(t, "eb's block durable on b", func() bool { return eb.c.Pending() == 0 })
	drag := &protocol.Drag{WorkflowID: wf, Positions: map[string]protocol.Point{"eb-b": {X: 5, Y: 6}}}

	if changed, err := a.srv.Rooms().SetLocked(ctx, wf, true); err != nil || !changed {
		t.Fatalf("lock on a: %v, %v", changed, err)
	}
	start := time.Now()
	testutil.WaitWithin(t, 5*time.Second, "b to enforce a's lock", func() bool { return b.srv.Rooms().Locked(wf) })
	t.Logf("b enforces a's lock %v after it was set", time.Since(start).Round(time.Millisecond))
	if code := rename(t, b, wf, "X"); code != protocol.CodeWorkflowLocked {
		t.Fatalf("edit on b of a workflow locked on a: %v", code)
	}
	s := joinRaw(t, b.url, "dragger", wf)
	s.send(drag)
	s.until(errorFrame(protocol.CodeWorkflowLocked))

	c := startNode(t, "c", ns[2].ClientURL(), nodeOpts{})
	ec := startEditor(t, "ec", wf, c.url, nil)
	ec.waitLive(t)
	testutil.WaitWithin(t, 5*time.Second, "c to learn the lock on load", func() bool { return c.srv.Rooms().Locked(wf) })
	// An operation on a block c has not caught up yet is refused for that
	// (UNKNOWN_ENTITY) before the lock is checked: wait for the document.
	testutil.WaitWithin(t, 5*time.Second, "c to catch up", func() bool { _, ok := ec.c.View().Blocks["eb-b"]; return ok })
	if code := rename(t, c, wf, "Y"); code != protocol.CodeWorkflowLocked {
		t.Fatalf("edit on c of a locked workflow: %v", code)
	}

	if changed, err := b.srv.Rooms().SetLocked(ctx, wf, false); err != nil || !changed {
		t.Fatalf("unlock on b: %v, %v", changed, err)
	}
	for _, n := range []*node{a, c} {
		testutil.WaitWithin(t, 5*time.Second, n.name+" to see the unlock", func() bool {
			locked, err := n.srv.Rooms().IsLocked(ctx, wf)
			return err == nil && !locked
		})
	}
	if code := rename(t, c, wf, "Z"); code != 0 {
		t.Fatalf("edit on c after the unlock: %v", code)
	}
	// The drag after the unlock is relayed, not refused: frames are
	// answered in order, so the first Error is the refusal of the drag or
	// the NOT_JOINED of the presence sent after it.
	s.send(drag)
	s.send(&protocol.Presence{WorkflowID: "not-joined"})
	if e := s.until(func(f protocol.Frame) bool { return f.Type() == protocol.FrameError }).(*protocol.Error); e.Code != protocol.CodeNotJoined {
		t.Fatalf("drag after the unlock: %v", e)
	}
}

// watcher is a client that records the live presence and drags it sees.
type watcher struct {
	c        *client.Client
	presence chan protocol.PresenceUpdate
	drags    chan protocol.DragUpdate
}

func startWatcher(t testing.TB, name, wf, url string) *watcher {
	t.Helper()
	w := &watcher{presence: make(chan protocol.PresenceUpdate, 256), drags: make(chan protocol.DragUpdate, 256)}
	c, err := client.New(client.Config{
		URL: url, Token: name + ":" + name, ReplicaID: "r-" + name, WorkflowID: wf, DialTimeout: 3 * time.Second,
		OnPresence: func(u protocol.PresenceUpdate) {
			select {
			case w.presence <- u:
			default:
			}
		},
		OnDrag: func(u protocol.DragUpdate) {
			select {
			case w.drags <- u:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	w.c = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		c.Close()
		<-done
	})
	testutil.WaitWithin(t, 10*time.Second, name+" live", func() bool { return c.Status().State == client.StateLive })
	return w
}

// Cursors, selections and drags cross nodes: a browser on node A sees the
// cursor and the drag of a browser on node B.
func TestClusterCursorsCrossNodes(t *testing.T) {
	ns := natsCluster(t, 2)
	const wf = "wf-cursors"
	a := startNode(t, "a", ns[0].ClientURL(), nodeOpts{})
	b := startNode(t, "b", ns[1].ClientURL(), nodeOpts{})
	wa := startWatcher(t, "wa", wf, a.url)
	wb := startWatcher(t, "wb", wf, b.url)
	// Both rooms host the workflow before the cursor moves (a room hears
	// the bus from its Host on).
	testutil.WaitWithin(t, 10*time.Second, "rosters", func() bool { return len(wa.c.Roster()) == 2 && len(wb.c.Roster()) == 2 })

	start := time.Now()
	if err := wb.c.SetCursor(12, 34); err != nil {
		t.Fatal(err)
	}
	if err := wb.c.SetSelection(protocol.SelectBlock, "blk"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for got := false; !got; {
		select {
		case u := <-wa.presence:
			got = u.UserID == "wb" && u.Cursor != nil && *u.Cursor == (protocol.Point{X: 12, Y: 34}) && u.Selection.ID == "blk"
		case <-deadline:
			t.Fatal("a's client never saw b's cursor and selection")
		}
	}
	t.Logf("cursor crossed nodes in %v", time.Since(start).Round(time.Millisecond))
	if err := wb.c.Drag(map[string]client.Point{"blk": {X: 7, Y: 8}}); err != nil {
		t.Fatal(err)
	}
	for got := false; !got; {
		select {
		case u := <-wa.drags:
			got = u.UserID == "wb" && u.Positions["blk"] == (protocol.Point{X: 7, Y: 8})
		case <-deadline:
			t.Fatal("a's client never saw b's drag")
		}
	}
}

// A node that loads a room asks its peers, which answer with their roster:
// the joiner sees the other node's members at once, not after their next
// presence heartbeat (a minute here).
func TestClusterRosterPromptOnLoad(t *testing.T) {
	ns := natsCluster(t, 2)
	const wf = "wf-roster"
	const beat = time.Minute
	a := startNode(t, "a", ns[0].ClientURL(), nodeOpts{beat: beat})
	b := startNode(t, "b", ns[1].ClientURL(), nodeOpts{beat: beat})
	ea := startEditor(t, "ea", wf, a.url, nil)
	ea.waitLive(t)
	waitRoster(t, ea, "ea")
	start := time.Now()
	eb := startEditor(t, "eb", wf, b.url, nil)
	eb.waitLive(t)
	waitRoster(t, eb, "ea", "eb")
	if took := time.Since(start); took >= beat {
		t.Fatalf("b's roster showed a's member after %v, a heartbeat", took)
	} else {
		t.Logf("b's roster shows a's member %v after its client started (heartbeat %v)", took.Round(time.Millisecond), beat)
	}
	waitRoster(t, ea, "ea", "eb")
}
