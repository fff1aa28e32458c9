package client

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/protocol"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConfigValidate(t *testing.T) {
	ok := Config{URL: "ws://x/v1/sync", ReplicaID: "r", WorkflowID: "wf"}
	if _, err := New(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, edit := range map[string]func(*Config){
		"no url":      func(c *Config) { c.URL = "" },
		"http url":    func(c *Config) { c.URL = "http://x/v1/sync" },
		"no replica":  func(c *Config) { c.ReplicaID = "" },
		"no workflow": func(c *Config) { c.WorkflowID = "" },
		"long id":     func(c *Config) { c.ReplicaID = string(make([]byte, 300)) },
		"neg timeout": func(c *Config) { c.DialTimeout = -1 },
		"cap < base":  func(c *Config) { c.Backoff = Backoff{Base: time.Second, Cap: time.Millisecond} },
	} {
		cfg := ok
		edit(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
}

func TestBackoffFullJitterCapped(t *testing.T) {
	b := Backoff{Base: 250 * time.Millisecond, Cap: 30 * time.Second}
	top := func(n int64) int64 { return n - 1 } // always the top of the window
	want := []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second,
		4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := b.Delay(i, top); got != w {
			t.Errorf("Delay(%d) at the top of the window = %v, want %v", i, got, w)
		}
	}
	if got := b.Delay(1000, top); got != 30*time.Second {
		t.Errorf("Delay(1000) = %v, want the cap", got)
	}
	if got := b.Delay(5, func(int64) int64 { return 0 }); got != 0 {
		t.Errorf("full jitter reaches 0, got %v", got)
	}
	// Seeded: every delay within [0, window], and the spread covers most
	// of the window (full jitter, not "cap/2 ± something").
	rng := rand.New(rand.NewPCG(1, 2))
	for attempt := range 12 {
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for range 200 {
			d := b.Delay(attempt, rng.Int64N)
			if d < 0 || d > b.Window(attempt) {
				t.Fatalf("Delay(%d) = %v outside [0, %v]", attempt, d, b.Window(attempt))
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if w := b.Window(attempt); lo > w/10 || hi < w*9/10 {
			t.Errorf("attempt %d: delays in [%v, %v] do not spread over [0, %v]", attempt, lo, hi, w)
		}
	}
	if w := (Backoff{}).Window(0); w != DefaultBackoffBase {
		t.Errorf("zero Backoff window = %v, want %v", w, DefaultBackoffBase)
	}
}

func TestApplySendsAndBecomesDurable(t *testing.T) {
	f := newFakeServer(t)
	var mu sync.Mutex
	var local []*workflow.Doc
	c := startClient(t, f, "alice", func(cfg *Config) {
		cfg.OnChange = func(d *workflow.Doc, remote bool) {
			if !remote {
				mu.Lock()
				local = append(local, d)
				mu.Unlock()
			}
		}
	})
	c.waitLive(t)
	d := mustApply(t, c.Client, addBlock("b1", "Agent 1"))
	mustApply(t, c.Client, workflow.UpdateName{ID: "b1", NewName: "Writer"})
	c.waitSaved(t)
	if !f.snapshot().Equal(c.Doc()) {
		t.Fatal("server and client documents differ")
	}
	if got := c.View().Blocks["b1"].Name; got != "Writer" {
		t.Errorf("name = %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(local) != 2 || local[0] != d {
		t.Errorf("OnChange(local) calls = %d", len(local))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if h := f.hellos[0]; h.ReplicaID != "alice" || h.Token != "dev" || h.ProtocolVersion != protocol.ProtocolVersion || h.ClientName != DefaultClientName {
		t.Errorf("hello = %+v", h)
	}
	if j := f.joins[0]; j.WorkflowID != "wf-1" || j.TabSessionID != c.TabSessionID() || j.TabSessionID == "" {
		t.Errorf("join = %+v", j)
	}
}

func TestRefusedOperationChangesNothing(t *testing.T) {
	f := newFakeServer(t)
	c := startClient(t, f, "alice", nil)
	before := c.Doc()
	if _, err := c.Apply(workflow.UpdateName{ID: "missing", NewName: "x"}); !errors.Is(err, workflow.ErrUnknownBlock) {
		t.Fatalf("err = %v", err)
	}
	if !before.Equal(c.Doc()) || c.Pending() != 0 {
		t.Fatal("a refused operation changed the client")
	}
}

func TestTwoClientsRelay(t *testing.T) {
	f := newFakeServer(t)
	var mu sync.Mutex
	remote := 0
	a := startClient(t, f, "alice", nil)
	b := startClient(t, f, "bob", func(cfg *Config) {
		cfg.OnChange = func(_ *workflow.Doc, r bool) {
			if r {
				mu.Lock()
				remote++
				mu.Unlock()
			}
		}
	})
	a.waitLive(t)
	b.waitLive(t)
	mustApply(t, a.Client, addBlock("b1", "A"))
	mustApply(t, b.Client, addBlock("b2", "B"))
	testutil.WaitFor(t, "convergence", func() bool { return a.Doc().Equal(b.Doc()) && len(a.View().Blocks) == 2 })
	if !reflect.DeepEqual(a.View(), b.View()) {
		t.Fatal("views differ")
	}
	mu.Lock()
	defer mu.Unlock()
	if remote == 0 {
		t.Error("OnChange(remote) never called")
	}
}

// The outbox keeps entries that are applied but not durable across a
// disconnect, resends them (same content) after the reconnect, and drops
// them only when Durable arrives.
func TestOutboxKeptUntilDurableAcrossDisconnect(t *testing.T) {
	f := newFakeServer(t)
	f.set(func(f *fakeServer) { f.holdDurable = true })
	c := startClient(t, f, "alice", nil)
	c.waitLive(t)
	for i := range 5 {
		mustApply(t, c.Client, addBlock(fmt.Sprint("b", i), fmt.Sprint("Block ", i)))
	}
	testutil.WaitFor(t, "applied", func() bool { return c.Status().Unacked == 0 })
	// One entry per edit, however the frames folded them.
	if pending := c.Pending(); pending != 5 {
		t.Fatalf("pending = %d before Durable, want 5", pending)
	}
	f.mu.Lock()
	before := f.deltas
	f.mu.Unlock()
	f.set(func(f *fakeServer) { f.held = map[*fakeConn][]string{} }) // those acks die with the connection
	f.dropAll(protocol.CloseServiceRestart)
	testutil.WaitFor(t, "reconnect", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.joins) == 2 })
	c.waitLive(t)
	if got := c.Pending(); got != 5 {
		t.Fatalf("pending = %d after reconnect, want 5", got)
	}
	testutil.WaitFor(t, "resend", func() bool { return c.Status().Unacked == 0 })
	f.mu.Lock()
	deltas := f.deltas
	f.mu.Unlock()
	if deltas <= before {
		t.Fatalf("server received %d delta frames before the drop and %d in all; the outbox was not resent", before, deltas)
	}
	f.releaseDurable()
	c.waitSaved(t)
	if !f.snapshot().Equal(c.Doc()) {
		t.Fatal("documents differ")
	}
}

// Edits made while the server is unreachable stay in the outbox and reach
// the server after the reconnect, folded into few frames by Merge.
func TestOfflineEditsResentAndCoalesced(t *testing.T) {
	f := newFakeServer(t)
	c := startClient(t, f, "alice", nil)
	c.waitLive(t)
	f.set(func(f *fakeServer) { f.refuseDials = true })
	f.dropAll(protocol.CloseGoingAway)
	testutil.WaitFor(t, "offline", func() bool { return c.Status().State != StateLive })
	for i := range 50 {
		mustApply(t, c.Client, addBlock(fmt.Sprint("b", i), fmt.Sprint("Block ", i)))
	}
	mustApply(t, c.Client, workflow.RemoveBlock{ID: "b7"})
	if s := c.Status(); s.Pending != 51 || s.State == StateLive {
		t.Fatalf("status offline = %+v (%s)", s, s)
	}
	f.set(func(f *fakeServer) { f.refuseDials = false })
	c.waitSaved(t)
	if !f.snapshot().Equal(c.Doc()) {
		t.Fatal("documents differ after reconnect")
	}
	if _, ok := c.View().Blocks["b7"]; ok {
		t.Fatal("removed block is back")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deltas >= 51 {
		t.Errorf("server received %d Delta frames for 51 offline edits; want them coalesced", f.deltas)
	}
}

func TestCoalescingDisabledSendsEveryDelta(t *testing.T) {
	f := newFakeServer(t)
	f.set(func(f *fakeServer) { f.refuseDials = true })
	c := startClient(t, f, "alice", func(cfg *Config) { cfg.DisableCoalescing = true })
	for i := range 10 {
		mustApply(t, c.Client, addBlock(fmt.Sprint("b", i), fmt.Sprint("Block ", i)))
	}
	f.set(func(f *fakeServer) { f.refuseDials = false })
	c.waitSaved(t)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deltas != 10 {
		t.Errorf("deltas = %d, want 10", f.deltas)
	}
}

// The announced rate limit paces Delta frames; what waits is folded.
func TestRateLimitPacesAndFolds(t *testing.T) {
	f := newFakeServer(t)
	f.set(func(f *fakeServer) { f.limits = protocol.ServerLimits{MaxOpsPerSecond: 20, OpsBurst: 2} })
	c := startClient(t, f, "alice", nil)
	c.waitLive(t)
	for i := range 100 {
		mustApply(t, c.Client, addBlock(fmt.Sprint("b", i), fmt.Sprint("Block ", i)))
	}
	c.waitSaved(t)
	if !f.snapshot().Equal(c.Doc()) {
		t.Fatal("documents differ")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.deltas > 20 {
		t.Errorf("%d Delta frames for 100 quick edits under 20/s", f.deltas)
	}
}

func TestRetryableNackResent(t *testing.T) {
	f := newFakeServer(t)
	f.set(func(f *fakeServer) {
		f.nack = func(opID string, _ *workflow.Doc) *protocol.Nack {
			if f.opsSeen[opID] <= 2 { // refuse twice, then accept
				return &protocol.Nack{OpID: opID, Code: protocol.CodeOverloaded, Retryable: true}
			}
			return nil
		}
	})
	c := startClient(t, f, "alice", nil)
	c.waitLive(t)
	mustApply(t, c.Client, addBlock("b1", "A"))
	c.waitSaved(t)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nacks != 2 || len(f.opsSeen) != 1 {
		t.Errorf("nacks = %d, op ids = %v; want the same op resent after 2 nacks", f.nacks, f.opsSeen)
	}
	if !f.doc.Equal(c.Doc()) {
		t.Error("documents differ")
	}
}

// A final Nack is reported and the entry dropped; Reset with a new replica
// id then resyncs from an empty context.
func TestNonRetryableNackReportedThenReset(t *testing.T) {
	f := newFakeServer(t)
	rejected := make(chan *RejectError, 1)
	f.set(func(f *fakeServer) {
		f.nack = func(opID string, _ *workflow.Doc) *protocol.Nack {
			return &protocol.Nack{OpID: opID, Code: protocol.CodeClockSkew, Message: "ahead", Retryable: false}
		}
	})
	c := startClient(t, f, "alice", func(cfg *Config) { cfg.OnReject = func(e *RejectError) { rejected <- e } })
	c.waitLive(t)
	f.seed(serverDelta(t, f.snapshot(), 1000, addBlock("s1", "Server")))
	mustApply(t, c.Client, addBlock("b1", "A"))
	var rej *RejectError
	select {
	case rej = <-rejected:
	case <-time.After(10 * time.Second):
		t.Fatal("no OnReject")
	}
	if rej.Code != protocol.CodeClockSkew || rej.Retryable || rej.Delta == nil || rej.Message != "ahead" {
		t.Errorf("reject = %+v", rej)
	}
	c.waitSaved(t) // dropped from the outbox
	if _, ok := c.View().Blocks["b1"]; !ok {
		t.Fatal("the local document lost the write before Reset")
	}
	f.set(func(f *fakeServer) { f.nack = nil })
	if err := c.Reset("alice"); !errors.Is(err, ErrConfig) {
		t.Errorf("Reset with the same replica id: %v", err)
	}
	if err := c.Reset("alice-2"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "resync", func() bool { return c.Doc().Equal(f.snapshot()) && c.Status().State == StateLive })
	if _, ok := c.View().Blocks["b1"]; ok {
		t.Error("refused write survived Reset")
	}
	mustApply(t, c.Client, addBlock("b1", "A"))
	c.waitSaved(t)
	f.mu.Lock()
	defer f.mu.Unlock()
	if h := f.hellos[len(f.hellos)-1]; h.ReplicaID != "alice-2" {
		t.Errorf("hello after Reset names %q", h.ReplicaID)
	}
	if j := f.joins[len(f.joins)-1]; len(j.Context) != 0 && string(j.Context) != string(workflow.New().Encode()) {
		t.Errorf("join after Reset has a non-empty context")
	}
}

func TestCatchUpChunksMerged(t *testing.T) {
	f := newFakeServer(t)
	base := workflow.New()
	for i := range 5 {
		f.seed(serverDelta(t, base, int64(1000+i), addBlock(fmt.Sprint("s", i), fmt.Sprint("S", i))))
	}
	f.seed(serverDelta(t, base, 2000, workflow.RemoveBlock{ID: "s2"}))
	f.set(func(f *fakeServer) { f.splitChunks = true })
	var mu sync.Mutex
	remote := 0
	c := startClient(t, f, "alice", func(cfg *Config) {
		cfg.OnChange = func(_ *workflow.Doc, r bool) {
			mu.Lock()
			remote++
			mu.Unlock()
		}
	})
	c.waitLive(t)
	if !c.Doc().Equal(f.snapshot()) {
		t.Fatal("catch-up did not bring the client to the server's state")
	}
	if n := len(c.View().Blocks); n != 4 {
		t.Errorf("blocks = %d, want 4", n)
	}
	mu.Lock()
	calls := remote
	mu.Unlock()
	if calls != 6 {
		t.Errorf("OnChange called %d times for 6 chunks", calls)
	}
	// The clock moved past the latest merged write: a local write wins.
	mustApply(t, c.Client, workflow.UpdateName{ID: "s1", NewName: "Mine"})
	if got := c.View().Blocks["s1"].Name; got != "Mine" {
		t.Errorf("name = %q", got)
	}
}

func TestClockObservesRemoteTime(t *testing.T) {
	f := newFakeServer(t)
	future := time.Now().Add(time.Hour).UnixMilli()
	f.seed(serverDelta(t, workflow.New(), future, addBlock("s1", "S")))
	c := startClient(t, f, "alice", nil)
	c.waitLive(t)
	d := mustApply(t, c.Client, workflow.UpdateName{ID: "s1", NewName: "Later"})
	var wall int64
	d.Store().Range(func(_ workflow.Key, es []crdtDotted) bool {
		for _, e := range es {
			wall = max(wall, e.Value.Wall)
		}
		return true
	})
	if wall < future {
		t.Errorf("local write at %d does not follow the merged write at %d", wall, future)
	}
	if got := c.View().Blocks["s1"].Name; got != "Later" {
		t.Errorf("name = %q: the later local write lost", got)
	}
}

func TestStatusTransitions(t *testing.T) {
	f := newFakeServer(t)
	var mu sync.Mutex
	var seen []Status
	f.set(func(f *fakeServer) { f.holdDurable = true })
	c := startClient(t, f, "alice", func(cfg *Config) {
		cfg.OnStatus = func(s Status) {
			mu.Lock()
			seen = append(seen, s)
			mu.Unlock()
		}
	})
	c.waitLive(t)
	mustApply(t, c.Client, addBlock("b1", "A"))
	testutil.WaitFor(t, "saving", func() bool { return c.Status().String() == "saving (1)" })
	f.releaseDurable()
	testutil.WaitFor(t, "saved", func() bool { return c.Status().String() == "saved" })
	f.set(func(f *fakeServer) { f.refuseDials = true })
	f.dropAll(protocol.CloseGoingAway)
	testutil.WaitFor(t, "offline", func() bool { return c.Status().State == StateOffline })
	mustApply(t, c.Client, addBlock("b2", "B"))
	if s := c.Status().String(); s != "offline (1 pending)" {
		t.Errorf("status = %q", s)
	}
	f.set(func(f *fakeServer) { f.refuseDials = false })
	c.waitSaved(t)
	testutil.WaitFor(t, "last status delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && seen[len(seen)-1] == c.Status()
	})
	mu.Lock()
	defer mu.Unlock()
	var states []State
	for _, s := range seen {
		if len(states) == 0 || states[len(states)-1] != s.State {
			states = append(states, s.State)
		}
	}
	want := []State{StateConnecting, StateJoining, StateLive, StateOffline}
	if len(states) < len(want) || !reflect.DeepEqual(states[:len(want)], want) || states[len(states)-1] != StateLive {
		t.Errorf("states = %v, want %v ... live", states, want)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] == seen[i-1] {
			t.Errorf("OnStatus repeated %+v", seen[i])
		}
	}
}

func TestPresenceAndDrag(t *testing.T) {
	f := newFakeServer(t)
	presence := make(chan protocol.PresenceUpdate, 10)
	drags := make(chan protocol.DragUpdate, 10)
	var rmu sync.Mutex
	var rosters [][]protocol.RosterEntry
	a := startClient(t, f, "alice", nil)
	a.waitLive(t)
	b := startClient(t, f, "bob", func(cfg *Config) {
		cfg.OnPresence = func(u protocol.PresenceUpdate) { presence <- u }
		cfg.OnDrag = func(u protocol.DragUpdate) { drags <- u }
		cfg.OnRoster = func(es []protocol.RosterEntry) {
			rmu.Lock()
			rosters = append(rosters, es)
			rmu.Unlock()
		}
	})
	b.waitLive(t)
	testutil.WaitFor(t, "roster of 2", func() bool { return len(a.Roster()) == 2 && len(b.Roster()) == 2 })
	if err := a.SetCursor(10, 20); err != nil {
		t.Fatal(err)
	}
	if err := a.SetSelection(protocol.SelectBlock, "b1"); err != nil {
		t.Fatal(err)
	}
	aSID, _ := a.Session()
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case u := <-presence:
			done = u.SessionID == aSID && u.Cursor != nil && *u.Cursor == (Point{X: 10, Y: 20}) && u.Selection == (protocol.Selection{Type: protocol.SelectBlock, ID: "b1"})
		case <-deadline:
			t.Fatal("no presence update")
		}
	}
	testutil.WaitFor(t, "roster cursor", func() bool {
		for _, e := range b.Roster() {
			if e.SessionID == aSID && e.Cursor != nil && e.Cursor.X == 10 {
				return true
			}
		}
		return false
	})
	if err := a.Drag(map[string]Point{"b1": {X: 5, Y: 6}}); err != nil {
		t.Fatal(err)
	}
	select {
	case u := <-drags:
		if u.SessionID != aSID || u.Positions["b1"] != (Point{X: 5, Y: 6}) {
			t.Errorf("drag = %+v", u)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no drag update")
	}
	if err := a.SetCursor(1, nanf()); err == nil {
		t.Error("NaN cursor accepted")
	}
	if err := a.SetSelection(protocol.SelectBlock, ""); err == nil {
		t.Error("block selection without id accepted")
	}
	if a.Doc().Store().NumDots() != 0 {
		t.Error("presence entered the document")
	}
	// Presence survives a reconnect: it is sent again after the rejoin.
	f.mu.Lock()
	before := len(f.presences)
	f.mu.Unlock()
	f.dropAll(protocol.CloseServiceRestart)
	testutil.WaitFor(t, "presence resent", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.presences) <= before {
			return false
		}
		p := f.presences[len(f.presences)-1]
		return p.Cursor != nil && p.Cursor.X == 10
	})
	rmu.Lock()
	defer rmu.Unlock()
	if len(rosters) == 0 {
		t.Error("OnRoster never called")
	}
}

func nanf() float64 { var z float64; return z / z }

func TestTerminalCloseStopsRun(t *testing.T) {
	f := newFakeServer(t)
	f.set(func(f *fakeServer) { f.authFail = true })
	c, err := New(Config{URL: f.url(), ReplicaID: "alice", WorkflowID: "wf-1", Backoff: Backoff{Base: time.Millisecond, Cap: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Run(t.Context())
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != protocol.CloseAuthenticationFailed {
		t.Fatalf("Run = %v, want CloseError 4500", err)
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeAuthenticationFailed {
		t.Errorf("Run error does not carry the Error frame: %v", err)
	}
	if c.Status().State != StateClosed {
		t.Errorf("state = %s", c.Status().State)
	}
}

func TestJoinRefusedStopsRun(t *testing.T) {
	for _, code := range []protocol.Code{protocol.CodeAccessDenied, protocol.CodeUnknownWorkflow, protocol.CodeTooManyRooms} {
		t.Run(code.String(), func(t *testing.T) {
			f := newFakeServer(t)
			f.set(func(f *fakeServer) { f.joinError = protocol.NewError(code, "no") })
			c, err := New(Config{URL: f.url(), ReplicaID: "alice", WorkflowID: "wf-1"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var pe *protocol.Error
			if err := c.Run(t.Context()); !errors.As(err, &pe) || pe.Code != code {
				t.Fatalf("Run = %v, want %s", err, code)
			}
		})
	}
}

func TestReconnectAfterRetryableCloseAndDroppedTCP(t *testing.T) {
	f := newFakeServer(t)
	c := startClient(t, f, "alice", nil)
	c.waitLive(t)
	for i, code := range []protocol.CloseCode{protocol.CloseSlowConsumer, 0, protocol.CloseInternalError} {
		f.dropAll(code)
		testutil.WaitFor(t, "rejoin", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.joins) == i+2 })
		c.waitLive(t)
	}
}

func TestWorkflowDeletedEvent(t *testing.T) {
	f := newFakeServer(t)
	events := make(chan protocol.Event, 1)
	f.set(func(f *fakeServer) { f.holdDurable = true })
	c := startClient(t, f, "alice", func(cfg *Config) { cfg.OnEvent = func(e protocol.Event) { events <- e } })
	c.waitLive(t)
	mustApply(t, c.Client, addBlock("b1", "A"))
	f.emit(&protocol.Event{WorkflowID: "wf-1", Kind: protocol.EventWorkflowDeleted, TimestampMs: 1})
	select {
	case e := <-events:
		if e.Kind != protocol.EventWorkflowDeleted {
			t.Errorf("event = %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	if c.Pending() != 0 {
		t.Error("outbox kept after workflow-deleted")
	}
	if _, err := c.Apply(addBlock("b2", "B")); !errors.Is(err, ErrWorkflowDeleted) {
		t.Errorf("Apply after delete: %v", err)
	}
	f.dropAll(protocol.CloseWorkflowDeleted)
	select {
	case err := <-c.done:
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Code != protocol.CloseWorkflowDeleted {
			t.Errorf("Run = %v", err)
		}
		c.done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop on 4503")
	}
}

func TestCloseStopsRunAndIsIdempotent(t *testing.T) {
	f := newFakeServer(t)
	c, err := New(Config{URL: f.url(), ReplicaID: "alice", WorkflowID: "wf-1"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(t.Context()) }()
	testutil.WaitFor(t, "live", func() bool { return c.Status().State == StateLive })
	if err := c.Run(t.Context()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v", err)
	}
	c.Close()
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Close")
	}
	if _, err := c.Apply(addBlock("b1", "A")); !errors.Is(err, ErrClosed) {
		t.Errorf("Apply after Close = %v", err)
	}
	testutil.WaitFor(t, "server saw the close", func() bool { return f.numConns() == 0 })
}

func TestRunStopsOnContextWhileOffline(t *testing.T) {
	f := newFakeServer(t)
	f.set(func(f *fakeServer) { f.refuseDials = true })
	c, err := New(Config{URL: f.url(), ReplicaID: "alice", WorkflowID: "wf-1", Backoff: Backoff{Base: time.Hour, Cap: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustApply(t, c, addBlock("b1", "A"))
	ctx, cancel := contextWithTimeout(t, 200*time.Millisecond)
	defer cancel()
	if err := c.Run(ctx); !errors.Is(err, ctx.Err()) || ctx.Err() == nil {
		t.Errorf("Run = %v", err)
	}
	if c.Pending() != 1 {
		t.Error("outbox lost when Run stopped")
	}
}

// A node that made a delta durable and then lost it from memory (it died
// before its peers heard the delta) is healed by the author: on the next
// join the client re-sends the recent durable deltas whose dots the
// server's context lacks.
func TestDurableDeltasResentToAServerThatLacksThem(t *testing.T) {
	f := newFakeServer(t)
	c := startClient(t, f, "alice", nil)
	c.waitLive(t)
	mustApply(t, c.Client, addBlock("b1", "Agent 1"))
	mustApply(t, c.Client, workflow.UpdateName{ID: "b1", NewName: "Writer"})
	c.waitSaved(t)
	// The server "fails over" to a node that never heard these deltas.
	f.set(func(f *fakeServer) { f.doc, f.log = workflow.New(), nil })
	f.dropAll(protocol.CloseServiceRestart)
	testutil.WaitFor(t, "the durable deltas re-sent to the new node", func() bool {
		return f.snapshot().Equal(c.Doc()) && c.Pending() == 0
	})
	if got := f.snapshot().View().Blocks["b1"]; got == nil || got.Name != "Writer" {
		t.Fatalf("server view after re-send = %+v", got)
	}
}

// A server refusing a Drag (a read role's: PERMISSION_DENIED; one over the
// bounds: TOO_LARGE; one in a locked workflow: WORKFLOW_LOCKED) answers
// with an Error about the workflow: the session goes on, and edits are
// still acknowledged.
func TestDragRefusalKeepsRunning(t *testing.T) {
	f := newFakeServer(t)
	c := startClient(t, f, "alice", nil)
	c.waitLive(t)
	for _, code := range []protocol.Code{protocol.CodePermissionDenied, protocol.CodeTooLarge, protocol.CodeWorkflowLocked} {
		e := protocol.NewError(code, "drag refused")
		e.WorkflowID = "wf-1"
		f.emit(e)
	}
	mustApply(t, c.Client, addBlock("b1", "A"))
	testutil.WaitFor(t, "durable", func() bool { return c.Pending() == 0 })
	select {
	case err := <-c.done:
		c.done <- err
		t.Fatalf("Run ended on a Drag refusal: %v", err)
	default:
	}
	if s := c.Status().State; s != StateLive {
		t.Fatalf("state = %s", s)
	}
	big := make(map[string]Point, protocol.MaxDragBlocks+1)
	for i := range protocol.MaxDragBlocks + 1 {
		big[fmt.Sprintf("b%d", i)] = Point{X: 1, Y: 1}
	}
	if err := c.Drag(big); err == nil {
		t.Fatal("a drag over MaxDragBlocks was accepted")
	}
}
