package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

func TestHelloWelcome(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(t, nil)
	c.send(&protocol.Hello{ProtocolVersion: 1, Token: "u1:Ada Lovelace", ReplicaID: "rep-a"})
	w := c.expect(protocol.FrameWelcome).(*protocol.Welcome)
	if w.User.ID != "u1" || w.User.Name != "Ada Lovelace" || w.SessionID == "" || w.ProtocolVersion != 1 {
		t.Fatalf("welcome = %+v", w)
	}
	if w.Limits.MaxFrameBytes != 1<<20 || w.Limits.MaxClockSkewMs != 300000 || w.ServerTimeMs == 0 {
		t.Fatalf("welcome limits = %+v", w.Limits)
	}
}

func TestHelloRefusals(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name  string
		frame protocol.Frame
		code  protocol.Code
		close int
	}{
		{"unsupported version", &protocol.Hello{ProtocolVersion: 99, Token: "u"}, protocol.CodeUnsupportedProtocolVersion, 4502},
		{"join before hello", &protocol.Join{WorkflowID: "wf"}, protocol.CodeAuthenticationRequired, 4504},
		{"identity too long", &protocol.Hello{ProtocolVersion: 1, Token: string(bytes.Repeat([]byte("x"), 300))}, protocol.CodeAuthenticationFailed, 4500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dial(t, nil)
			c.send(tc.frame)
			er := c.expect(protocol.FrameError).(*protocol.Error)
			if er.Code != tc.code {
				t.Fatalf("error code = %s, want %s", er.Code, tc.code)
			}
			if got := c.expectClose(); got != tc.close {
				t.Fatalf("close = %d, want %d", got, tc.close)
			}
		})
	}
}

func TestAuthDeadline(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) { s.AuthTimeout = 150 * time.Millisecond })
	c := e.dial(t, nil)
	start := time.Now()
	if got := c.expectClose(); got != int(protocol.CloseAuthTimeout) {
		t.Fatalf("close = %d, want 4001", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %v", d)
	}
	if e.reg.Len() != 0 {
		t.Fatal("a pre-auth connection reached a room")
	}
}

func TestOriginCheck(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) { s.AllowedOrigins = []string{"https://app.example.com"} })
	for _, tc := range []struct {
		origin string
		ok     bool
	}{{"https://evil.example", false}, {"https://app.example.com", true}, {"HTTPS://APP.example.com", true}, {"", true}} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		conn, resp, err := websocket.DefaultDialer.Dial(e.url, h)
		if tc.ok != (err == nil) {
			t.Fatalf("origin %q: err = %v, want ok=%v", tc.origin, err, tc.ok)
		}
		if err == nil {
			conn.Close()
		} else if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("origin %q: status %d, want 403", tc.origin, resp.StatusCode)
		}
	}
	// Empty allowlist: same host only.
	e2 := newEnv(t, nil)
	h := http.Header{}
	h.Set("Origin", "https://evil.example")
	if _, _, err := websocket.DefaultDialer.Dial(e2.url, h); err == nil {
		t.Fatal("cross-origin upgrade allowed with an empty allowlist")
	}
	h.Set("Origin", e2.srv.URL)
	conn, _, err := websocket.DefaultDialer.Dial(e2.url, h)
	if err != nil {
		t.Fatalf("same-host origin refused: %v", err)
	}
	conn.Close()
}

func TestJoinCatchUpAndRoster(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:A", "rep-a")
	j := a.join("wf-1", "tab-a")
	if j.Role != protocol.RoleAdmin || j.CatchUpChunks != 0 || len(j.Roster) != 1 || j.Roster[0].SessionID != a.sid {
		t.Fatalf("joined = %+v", j)
	}
	raw := a.edit(addBlock("b1", "Agent 1"))
	op := a.sendDelta("wf-1", raw)
	a.expectWhere(protocol.FrameApplied, func(f protocol.Frame) bool { return f.(*protocol.Applied).OpID == op })

	b := e.connect(t, "ub:B", "rep-b")
	jb := b.join("wf-1", "tab-b")
	if jb.CatchUpChunks != 1 || len(jb.Roster) != 2 {
		t.Fatalf("second join = %+v", jb)
	}
	if !b.doc.Equal(a.doc) {
		t.Fatal("catch-up did not bring B to A's state")
	}
	r := a.expect(protocol.FrameRoster).(*protocol.Roster)
	if len(r.Entries) != 2 {
		t.Fatalf("A's roster after B joined: %d entries", len(r.Entries))
	}
	// A rejoins with its full context: nothing to catch up.
	if j := a.join("wf-1", "tab-a"); j.CatchUpChunks != 0 {
		t.Fatalf("rejoin with a full context got %d chunks", j.CatchUpChunks)
	}
}

func TestTwoSessionsConverge(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:A", "rep-a")
	b := e.connect(t, "ub:B", "rep-b")
	a.join("wf", "ta")
	b.join("wf", "tb")
	a.expect(protocol.FrameRoster)

	op := a.sendDelta("wf", a.edit(addBlock("b1", "Agent 1")))
	if ap := a.expect(protocol.FrameApplied).(*protocol.Applied); ap.OpID != op {
		t.Fatalf("applied %q, want %q", ap.OpID, op)
	}
	du := a.expect(protocol.FrameDurable).(*protocol.Durable)
	if !slices.Contains(du.OpIDs, op) {
		t.Fatalf("durable %v lacks %q", du.OpIDs, op)
	}
	rd := b.expect(protocol.FrameRemoteDelta).(*protocol.RemoteDelta)
	if rd.Origin.UserID != "ua" || rd.Origin.ReplicaID != "rep-a" || rd.Origin.SessionID != a.sid {
		t.Fatalf("origin = %+v", rd.Origin)
	}
	if !b.doc.Equal(a.doc) {
		t.Fatal("B differs from A after the relay")
	}
	// B edits back.
	b.sendDelta("wf", b.edit(workflow.UpdateName{ID: "b1", NewName: "Writer"}))
	b.expect(protocol.FrameApplied)
	a.expect(protocol.FrameRemoteDelta)
	if !b.doc.Equal(a.doc) {
		t.Fatal("A differs from B")
	}
	if !e.stored(t, "wf").Equal(a.doc) {
		// Durable for B's op may not have arrived yet; wait for it.
		b.expect(protocol.FrameDurable)
		if !e.stored(t, "wf").Equal(a.doc) {
			t.Fatal("the store differs from the replicas")
		}
	}
}

func TestOperationFrame(t *testing.T) {
	e := newEnv(t, nil)
	thin := e.connect(t, "thin:Thin", "")
	full := e.connect(t, "ub:B", "rep-b")
	thin.join("wf", "")
	full.join("wf", "")
	thin.send(&protocol.Operation{WorkflowID: "wf", OpID: "op-1", Name: "batch-add-blocks", Target: "blocks",
		Payload: map[string]any{"blocks": []any{map[string]any{"id": "b1", "type": "agent", "name": "Agent 1",
			"position": map[string]any{"x": 1.0, "y": 2.0}}}}})
	own := thin.expect(protocol.FrameRemoteDelta).(*protocol.RemoteDelta)
	if own.Origin.ReplicaID != "" {
		t.Fatalf("operation relayed with replica %q", own.Origin.ReplicaID)
	}
	thin.expect(protocol.FrameApplied)
	full.expect(protocol.FrameRemoteDelta)
	if _, ok := full.doc.View().Blocks["b1"]; !ok || !full.doc.Equal(thin.doc) {
		t.Fatal("operation not applied on the full client")
	}
	// A bad operation is refused with a typed nack.
	thin.send(&protocol.Operation{WorkflowID: "wf", OpID: "op-2", Name: "update-name", Target: "block",
		Payload: map[string]any{"id": "nope", "name": "X"}})
	n := thin.expect(protocol.FrameNack).(*protocol.Nack)
	if n.OpID != "op-2" || n.Code != protocol.CodeUnknownEntity {
		t.Fatalf("nack = %+v", n)
	}
	// A thin client may not send deltas of its own.
	other := workflow.New()
	d, _ := other.Apply(crdt.NewClock("rep-x").Now(1_700_000_000_000), addBlock("b9", "X"))
	thin.send(&protocol.Delta{WorkflowID: "wf", OpID: "op-3", Delta: d.Encode()})
	if n := thin.expect(protocol.FrameNack).(*protocol.Nack); n.Code != protocol.CodeForgedDot {
		t.Fatalf("thin delta nack = %+v", n)
	}
}

func TestRefusedDeltas(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:A", "rep-a")
	b := e.connect(t, "ub:B", "rep-b")
	a.join("wf", "")
	b.join("wf", "")
	a.expect(protocol.FrameRoster)

	// Forged: a delta authored by another replica.
	forger := workflow.New()
	fd, _ := forger.Apply(crdt.NewClock("rep-b").Now(1_700_000_000_000), addBlock("f1", "Forged"))
	a.send(&protocol.Delta{WorkflowID: "wf", OpID: "forged", Delta: fd.Encode()})
	if n := a.expect(protocol.FrameNack).(*protocol.Nack); n.OpID != "forged" || n.Code != protocol.CodeForgedDot || n.Retryable {
		t.Fatalf("forged nack = %+v", n)
	}
	// Far future HLC.
	future := workflow.New()
	xd, _ := future.Apply(crdt.NewClock("rep-a").Now(time.Now().Add(time.Hour).UnixMilli()), addBlock("f2", "Future"))
	a.send(&protocol.Delta{WorkflowID: "wf", OpID: "future", Delta: xd.Encode()})
	if n := a.expect(protocol.FrameNack).(*protocol.Nack); n.OpID != "future" || n.Code != protocol.CodeClockSkew {
		t.Fatalf("skew nack = %+v", n)
	}
	// Not a delta at all.
	a.send(&protocol.Delta{WorkflowID: "wf", OpID: "garbage", Delta: []byte{0x01, 0x93, 0xc1}})
	if n := a.expect(protocol.FrameNack).(*protocol.Nack); n.Code != protocol.CodeInvalidDelta {
		t.Fatalf("garbage nack = %+v", n)
	}
	// Not joined.
	a.send(&protocol.Delta{WorkflowID: "other", OpID: "nj", Delta: fd.Encode()})
	if n := a.expect(protocol.FrameNack).(*protocol.Nack); n.Code != protocol.CodeNotJoined || !n.Retryable {
		t.Fatalf("not joined nack = %+v", n)
	}
	// Then a good delta: B sees only it.
	op := a.sendDelta("wf", a.edit(addBlock("ok", "OK")))
	a.expectWhere(protocol.FrameApplied, func(f protocol.Frame) bool { return f.(*protocol.Applied).OpID == op })
	rd := b.expect(protocol.FrameRemoteDelta).(*protocol.RemoteDelta)
	d, _ := workflow.Decode(rd.Delta, workflow.DeltaLimits)
	if _, ok := d.View().Blocks["ok"]; !ok {
		t.Fatal("B's first relayed delta is not the admitted one")
	}
	if v := e.stored(t, "wf").View(); len(v.Blocks) > 1 {
		t.Fatalf("refused deltas reached the store: %d blocks", len(v.Blocks))
	}
}

func TestReadRoleRefused(t *testing.T) {
	e := newEnvAuth(t, session.DevAuthenticator{Role: protocol.RoleRead}, nil)
	r := e.connect(t, "reader:R", "rep-r")
	if j := r.join("wf", ""); j.Role != protocol.RoleRead {
		t.Fatalf("role = %s", j.Role)
	}
	r.sendDelta("wf", r.edit(addBlock("b", "B")))
	if n := r.expect(protocol.FrameNack).(*protocol.Nack); n.Code != protocol.CodePermissionDenied {
		t.Fatalf("nack = %+v", n)
	}
}

// A caret inside a text travels with presence: relayed as sent, kept in the
// roster a later joiner receives, and cleared by a presence without it.
func TestPresenceTextCaret(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:Ada", "rep-a")
	a.join("wf", "tab-a")
	b := e.connect(t, "ub:Bob", "rep-b")
	b.join("wf", "tab-b")
	a.expect(protocol.FrameRoster)
	caret := protocol.TextCaret{ID: "b1", Sub: "prompt",
		Anchor: protocol.TextPos{Replica: "rep-a", Counter: 17}, Head: &protocol.TextPos{Replica: "rep-b", Counter: 4}}
	b.send(&protocol.Presence{WorkflowID: "wf", Selection: protocol.Selection{Type: protocol.SelectBlock, ID: "b1"}, Caret: caret})
	if pu := a.expect(protocol.FramePresenceUpdate).(*protocol.PresenceUpdate); pu.SessionID != b.sid || !reflect.DeepEqual(pu.Caret, caret) {
		t.Fatalf("presence update = %+v, want caret %+v", pu, caret)
	}
	c := e.connect(t, "uc:Cy", "rep-c")
	j := c.join("wf", "tab-c")
	i := slices.IndexFunc(j.Roster, func(r protocol.RosterEntry) bool { return r.SessionID == b.sid })
	if i < 0 || !reflect.DeepEqual(j.Roster[i].Caret, caret) {
		t.Fatalf("a later joiner's roster = %+v, want B's caret %+v", j.Roster, caret)
	}
	b.send(&protocol.Presence{WorkflowID: "wf"})
	pu := a.expectWhere(protocol.FramePresenceUpdate, func(f protocol.Frame) bool { return f.(*protocol.PresenceUpdate).SessionID == b.sid })
	if !pu.(*protocol.PresenceUpdate).Caret.IsZero() {
		t.Fatalf("caret not cleared: %+v", pu)
	}
}

func TestPresenceRosterAndSameTab(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:Ada", "rep-a")
	a.join("wf", "tab-a")
	b1 := e.connect(t, "ub:Bob", "rep-b")
	b1.join("wf", "tab-b")
	if r := a.expect(protocol.FrameRoster).(*protocol.Roster); len(r.Entries) != 2 {
		t.Fatalf("roster after B joined: %+v", r.Entries)
	}
	// Cursor relayed with identity.
	b1.send(&protocol.Presence{WorkflowID: "wf", Cursor: &protocol.Point{X: 3, Y: 4},
		Selection: protocol.Selection{Type: protocol.SelectBlock, ID: "b1"}})
	pu := a.expect(protocol.FramePresenceUpdate).(*protocol.PresenceUpdate)
	if pu.SessionID != b1.sid || pu.UserID != "ub" || pu.Name != "Bob" || pu.Cursor == nil || pu.Cursor.X != 3 || pu.Selection.ID != "b1" {
		t.Fatalf("presence update = %+v", pu)
	}
	// Same tab rejoins on a new connection: its old entry is replaced.
	b2 := e.connect(t, "ub:Bob", "rep-b")
	j := b2.join("wf", "tab-b")
	if len(j.Roster) != 2 || !slices.ContainsFunc(j.Roster, func(r protocol.RosterEntry) bool { return r.SessionID == b2.sid }) ||
		slices.ContainsFunc(j.Roster, func(r protocol.RosterEntry) bool { return r.SessionID == b1.sid }) {
		t.Fatalf("roster after same-tab rejoin: %+v", j.Roster)
	}
	r := a.expect(protocol.FrameRoster).(*protocol.Roster)
	if len(r.Entries) != 2 {
		t.Fatalf("A's roster after same-tab rejoin: %+v", r.Entries)
	}
	// Leave.
	b2.send(&protocol.Leave{WorkflowID: "wf"})
	if r := a.expect(protocol.FrameRoster).(*protocol.Roster); len(r.Entries) != 1 {
		t.Fatalf("roster after leave: %+v", r.Entries)
	}
	// Disconnect.
	c := e.connect(t, "uc:Cy", "rep-c")
	c.join("wf", "tab-c")
	a.expectWhere(protocol.FrameRoster, func(f protocol.Frame) bool { return len(f.(*protocol.Roster).Entries) == 2 })
	c.conn.Close()
	a.expectWhere(protocol.FrameRoster, func(f protocol.Frame) bool { return len(f.(*protocol.Roster).Entries) == 1 })
}

func TestDragRelayedNotStored(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:A", "rep-a")
	b := e.connect(t, "ub:B", "rep-b")
	a.join("wf", "")
	b.join("wf", "")
	a.sendDelta("wf", a.edit(addBlock("b1", "Agent")))
	a.expect(protocol.FrameDurable)
	before := e.stored(t, "wf")
	a.send(&protocol.Drag{WorkflowID: "wf", Positions: map[string]protocol.Point{"b1": {X: 500, Y: 600}}})
	du := b.expect(protocol.FrameDragUpdate).(*protocol.DragUpdate)
	if du.SessionID != a.sid || du.UserID != "ua" || du.Positions["b1"].X != 500 {
		t.Fatalf("drag update = %+v", du)
	}
	rm := e.reg.Room("wf")
	snap, err := rm.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !e.stored(t, "wf").Equal(before) || !snap.Equal(before) {
		t.Fatal("a drag changed the document or the store")
	}
}

func TestSlowConsumer(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) {
		s.MaxQueueBytes = 512 << 10
		s.MaxQueueFrames = 32
		s.BytesPerSecond = -1 // A sends 40 MiB as fast as it can
	})
	a := e.connect(t, "ua:A", "rep-a")
	fast := e.connect(t, "uf:F", "rep-f")
	slow := e.dialSmallBuffer(t)
	for _, c := range []*client{a, fast, slow} {
		c.join("wf", "")
	}
	a.sendDelta("wf", a.edit(addBlock("b", "Agent")))
	a.expect(protocol.FrameApplied)

	// fast reads in the background; slow never reads.
	type result struct {
		remote, afterCut int
		cut              bool
		err              error
	}
	fastDone := make(chan result, 1)
	var seen atomic.Int64 // relays fast has read
	go func() {
		var r result
		for {
			f, err := fast.next()
			if err != nil {
				r.err = err
				fastDone <- r
				return
			}
			switch f := f.(type) {
			case *protocol.RemoteDelta:
				r.remote++
				seen.Add(1)
				if r.cut {
					r.afterCut++
				}
			case *protocol.Roster:
				if len(f.Entries) == 2 {
					r.cut = true
				}
			}
			if r.afterCut >= 3 {
				fastDone <- r
				return
			}
		}
	}()
	big := string(bytes.Repeat([]byte("x"), 100<<10))
	for i := range 400 {
		// fast is a member that keeps up: A, whose acks come at once,
		// waits for it to have read all but a few of its relays (bounded
		// wait: a joined relay counts once for several deltas).
		for deadline := time.Now().Add(2 * time.Second); seen.Load() < int64(i)-3 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		a.sendDelta("wf", a.edit(workflow.UpdateSubBlock{BlockID: "b", SubBlockID: "prompt", Value: big + string(rune('a'+i%26))}))
		a.expect(protocol.FrameApplied)
		select {
		case r := <-fastDone:
			if !r.cut || r.err != nil {
				t.Fatalf("fast member: %+v (%v)", r, r.err)
			}
			if got := slow.expectClose(); got != int(protocol.CloseSlowConsumer) {
				t.Fatalf("slow consumer closed with %d, want 4000", got)
			}
			return
		default:
		}
	}
	t.Fatal("the slow member was never cut, or the fast one stopped receiving")
}

func TestOversizeFrame(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) { s.MaxFrameBytes = 64 << 10 })
	a := e.connect(t, "ua:A", "rep-a")
	other := e.connect(t, "ub:B", "rep-b")
	a.sendRaw(make([]byte, 64<<10+1))
	if got := a.expectClose(); got != websocket.CloseMessageTooBig {
		t.Fatalf("close = %d, want 1009", got)
	}
	other.join("wf", "") // the other connection still works
}

func TestMalformedFrames(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:A", "rep-a")
	b := e.connect(t, "ub:B", "rep-b")
	a.join("wf", "")
	b.join("wf", "")
	cases := []struct {
		name string
		raw  []byte
		code protocol.Code
	}{
		{"garbage", []byte("ping"), protocol.CodeInvalidFrame},
		{"huge declared length", []byte{0xdd, 0xff, 0xff, 0xff, 0xff}, protocol.CodeInvalidFrame},
		{"unknown type", []byte{0x92, 0x3f, 0x80}, protocol.CodeInvalidFrame},
		{"wrong direction", mustEncode(t, &protocol.Applied{OpID: "x"}), protocol.CodeInvalidFrame},
		{"second hello", mustEncode(t, &protocol.Hello{ProtocolVersion: 1, Token: "x"}), protocol.CodeInvalidFrame},
	}
	for _, tc := range cases {
		a.sendRaw(tc.raw)
		er := a.expect(protocol.FrameError).(*protocol.Error)
		if er.Code != tc.code || er.Retryable {
			t.Fatalf("%s: error = %+v", tc.name, er)
		}
	}
	// The connection still works, and so does the other one.
	op := a.sendDelta("wf", a.edit(addBlock("b1", "Agent")))
	a.expectWhere(protocol.FrameApplied, func(f protocol.Frame) bool { return f.(*protocol.Applied).OpID == op })
	b.expect(protocol.FrameRemoteDelta)
	// Past the limit the connection is closed with 4504.
	for range 10 {
		a.sendRaw([]byte{0xc1})
	}
	if got := a.expectClose(); got != int(protocol.CloseInvalidFrames) {
		t.Fatalf("close = %d, want 4504", got)
	}
	// A text message closes at once.
	c := e.connect(t, "uc:C", "rep-c")
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	if er := c.expect(protocol.FrameError).(*protocol.Error); er.Code != protocol.CodeInvalidFrame {
		t.Fatalf("text message error = %+v", er)
	}
	if got := c.expectClose(); got != int(protocol.CloseInvalidFrames) {
		t.Fatalf("text message close = %d, want 4504", got)
	}
	// b is unaffected.
	b.sendDelta("wf", b.edit(addBlock("b2", "Other")))
	b.expect(protocol.FrameApplied)
}

func TestRoomLoadedOnceForConcurrentJoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, nil)
		e.store.loadDelay = 100 * time.Millisecond // fake time
		const n = 8
		clients := make([]*client, n)
		for i := range clients {
			clients[i] = e.connect(t, "u:U", "")
		}
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() { c.send(&protocol.Join{WorkflowID: "wf"}) })
		}
		wg.Wait()
		for _, c := range clients {
			c.expect(protocol.FrameJoined)
		}
		if got := e.store.loads.Load(); got != 1 {
			t.Fatalf("%d joins loaded the document %d times", n, got)
		}
	})
}

func TestIdleRoomEvicted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, nil)
		a := e.connect(t, "ua:A", "rep-a")
		a.join("wf", "")
		a.sendDelta("wf", a.edit(addBlock("b1", "Agent")))
		a.expect(protocol.FrameDurable)
		if e.reg.Len() != 1 {
			t.Fatal("room not live")
		}
		a.send(&protocol.Leave{WorkflowID: "wf"})
		advance(rooms.DefaultIdleTimeout - time.Millisecond)
		if e.reg.Len() != 1 {
			t.Fatal("evicted before IdleTimeout")
		}
		advance(time.Millisecond)
		if e.reg.Len() != 0 {
			t.Fatal("not evicted after IdleTimeout")
		}
		// Rejoining loads it again, with the stored state.
		a2 := e.connect(t, "ub:B", "rep-b")
		a2.join("wf", "")
		if !a2.doc.Equal(a.doc) || e.store.loads.Load() != 2 {
			t.Fatalf("reload after eviction: equal=%v loads=%d", a2.doc.Equal(a.doc), e.store.loads.Load())
		}
	})
}

func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:A", "rep-a")
	idle := e.connect(t, "ub:B", "rep-b") // in no room
	a.join("wf", "")
	op := a.sendDelta("wf", a.edit(addBlock("b1", "Agent")))
	a.expect(protocol.FrameApplied)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The Durable for op came before the close.
	sawDurable := false
	for {
		f, err := a.next()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != int(protocol.CloseServiceRestart) {
				t.Fatalf("a: %v, want close 1012", err)
			}
			break
		}
		if d, ok := f.(*protocol.Durable); ok && slices.Contains(d.OpIDs, op) {
			sawDurable = true
		}
	}
	if !sawDurable {
		t.Fatal("no Durable before the 1012")
	}
	if got := idle.expectClose(); got != int(protocol.CloseServiceRestart) {
		t.Fatalf("idle session closed with %d", got)
	}
	if !e.stored(t, "wf").Equal(a.doc) {
		t.Fatal("the store lacks the flushed delta")
	}
}

func TestCatchUpChunksOverWebsocket(t *testing.T) {
	e := newEnv(t, func(s *session.Config, r *rooms.Config) { r.MaxCatchUpChunk = 4 << 10; s.MaxQueueBytes = 8 << 10 })
	a := e.connect(t, "ua:A", "rep-a")
	a.join("wf", "")
	for i := range 40 {
		a.sendDelta("wf", a.edit(addBlock(fmt.Sprintf("b%d", i), fmt.Sprintf("Agent %d", i))))
		a.expect(protocol.FrameApplied)
	}
	a.sendDelta("wf", a.edit(workflow.BatchRemoveBlocks{IDs: []string{"b1", "b2"}}))
	a.expect(protocol.FrameApplied)
	b := e.connect(t, "ub:B", "rep-b")
	j := b.join("wf", "")
	if j.CatchUpChunks < 2 {
		t.Fatalf("catch-up in %d chunks, want several", j.CatchUpChunks)
	}
	if !b.doc.Equal(a.doc) {
		t.Fatal("chunked catch-up differs from the document")
	}
}

func mustEncode(t *testing.T, f protocol.Frame) []byte {
	t.Helper()
	b, err := protocol.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPongTimeout(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) {
		s.PongTimeout = 300 * time.Millisecond
		s.PingInterval = 100 * time.Millisecond
	})
	c := e.connect(t, "ua:A", "rep-a")
	// A client that does not read cannot answer pings.
	c.conn.SetPingHandler(func(string) error { return nil })
	start := time.Now()
	if got := c.expectClose(); got != int(protocol.ClosePongTimeout) {
		t.Fatalf("close = %d, want 4003", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %v", d)
	}
}
