package client_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/client"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// End-to-end: sync/client against the real server (storage/memory, rooms,
// sync/session) on an httptest server, over real websockets.

const e2eWorkflow = "wf-e2e"

type server struct {
	url string
	reg *rooms.Registry
}

func newServer(t *testing.T, edits ...func(*rooms.Config)) *server {
	t.Helper()
	var cfg rooms.Config
	for _, edit := range edits {
		edit(&cfg)
	}
	reg, err := rooms.NewRegistry(cfg, memory.New(), nil, rooms.NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	h, err := session.NewHandler(session.Config{CloseGrace: 200 * time.Millisecond}, reg, session.DevAuthenticator{}, nil, session.NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/sync", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			t.Errorf("rooms close: %v", err)
		}
		if err := h.Close(ctx); err != nil {
			t.Errorf("sessions close: %v", err)
		}
		srv.Close()
	})
	return &server{url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/sync", reg: reg}
}

// snapshot returns the server room's document.
func (s *server) snapshot(t *testing.T) *workflow.Doc {
	t.Helper()
	rm := s.reg.Room(e2eWorkflow)
	if rm == nil {
		return nil
	}
	d, err := rm.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// flakyDialer dials through the real network but can refuse dials
// (offline) and cut the connections it made (a dropped network path: no
// close frame).
type flakyDialer struct {
	ws websocket.Dialer

	mu      sync.Mutex
	offline bool
	conns   []net.Conn
}

func newFlakyDialer() *flakyDialer {
	fd := &flakyDialer{}
	fd.ws = websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDialContext: fd.dial}
	return fd
}

func (fd *flakyDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.offline {
		return nil, errors.New("flaky dialer: offline")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		fd.conns = append(fd.conns, c)
	}
	return c, err
}

func (fd *flakyDialer) DialContext(ctx context.Context, u string, h http.Header) (*websocket.Conn, *http.Response, error) {
	return fd.ws.DialContext(ctx, u, h)
}

// drop cuts every connection; setOffline also refuses new ones until
// setOffline(false).
func (fd *flakyDialer) drop() {
	fd.mu.Lock()
	conns := fd.conns
	fd.conns = nil
	fd.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (fd *flakyDialer) setOffline(off bool) {
	fd.mu.Lock()
	fd.offline = off
	fd.mu.Unlock()
	if off {
		fd.drop()
	}
}

type peer struct {
	*client.Client
	name   string
	dialer *flakyDialer
	done   chan error
}

func startPeer(t *testing.T, s *server, name string, edit func(*client.Config)) *peer {
	t.Helper()
	p := &peer{name: name, dialer: newFlakyDialer(), done: make(chan error, 1)}
	cfg := client.Config{
		URL:        s.url,
		Token:      "u-" + name + ":" + name,
		ReplicaID:  "replica-" + name,
		WorkflowID: e2eWorkflow,
		Dialer:     p.dialer,
		Backoff:    client.Backoff{Base: 10 * time.Millisecond, Cap: 200 * time.Millisecond},
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Client = c
	go func() { p.done <- c.Run(t.Context()) }()
	t.Cleanup(func() {
		c.Close()
		// t.Context() is cancelled just before cleanups run, so Run may
		// have returned for it before Close. Tests of deleted workflows
		// check Run's ErrWorkflowDeleted themselves.
		if err := <-p.done; !errors.Is(err, client.ErrClosed) && !errors.Is(err, context.Canceled) && !errors.Is(err, client.ErrWorkflowDeleted) {
			t.Errorf("%s: Run = %v", name, err)
		}
	})
	return p
}

func (p *peer) waitLive(t *testing.T) {
	t.Helper()
	testutil.WaitFor(t, p.name+" live", func() bool { return p.Status().State == client.StateLive })
}

// waitConverged waits until every peer is live with an empty outbox and all
// documents (and the server's) are equal, then checks the views.
func waitConverged(t *testing.T, s *server, peers ...*peer) {
	t.Helper()
	testutil.WaitReason(t, testutil.DefaultWait, "convergence", func() string { return converged(t, s, peers) })
	v0 := peers[0].View()
	for _, p := range peers[1:] {
		if v := p.View(); !reflect.DeepEqual(v0, v) {
			t.Fatalf("views of %s and %s differ", peers[0].name, p.name)
		}
	}
}

func converged(t *testing.T, s *server, peers []*peer) string {
	for _, p := range peers {
		if st := p.Status(); st.State != client.StateLive || st.Pending != 0 {
			return fmt.Sprintf("%s is %s", p.name, st)
		}
	}
	d0 := peers[0].Doc()
	for _, p := range peers[1:] {
		if !d0.Equal(p.Doc()) {
			return fmt.Sprintf("%s and %s differ", peers[0].name, p.name)
		}
	}
	if sd := s.snapshot(t); sd == nil || !sd.Equal(d0) {
		return "the server differs"
	}
	return ""
}

// ---- random edits --------------------------------------------------------

type editor struct {
	rng  *rand.Rand
	name string
	n    int
}

func (e *editor) fresh(prefix string) string {
	e.n++
	return prefix + "-" + e.name + "-" + strconv.Itoa(e.n)
}

// op returns a random operation against view: mostly valid, sometimes
// refused locally (a block removed concurrently), which is fine.
func (e *editor) op(v *workflow.View) workflow.Op {
	ids := make([]string, 0, len(v.Blocks))
	for id := range v.Blocks {
		ids = append(ids, id)
	}
	slicesSort(ids)
	pick := func() string { return ids[e.rng.IntN(len(ids))] }
	k := e.rng.IntN(10)
	if len(ids) < 3 || k < 3 {
		id := e.fresh("b")
		return workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: "N " + id,
			Position: &workflow.Position{X: float64(e.rng.IntN(1000)), Y: float64(e.rng.IntN(1000))}}}}
	}
	switch k {
	case 3, 4:
		return workflow.UpdatePosition{ID: pick(), Position: workflow.Position{X: float64(e.rng.IntN(1000)), Y: float64(e.rng.IntN(1000))}}
	case 5:
		return workflow.UpdateName{ID: pick(), NewName: e.fresh("name")}
	case 6:
		return workflow.ToggleEnabled{ID: pick()}
	case 7:
		return workflow.AddEdge{Edge: workflow.EdgeInput{ID: e.fresh("e"), Source: pick(), Target: pick()}}
	case 8:
		return workflow.RemoveBlock{ID: pick()}
	}
	return workflow.UpdateName{ID: pick(), NewName: e.fresh("name")}
}

func slicesSort(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// apply runs one random edit; refusals by the local document are expected
// (the editor picks from a view that concurrent edits change).
func (e *editor) apply(t *testing.T, p *peer) {
	t.Helper()
	op := e.op(p.View())
	if _, err := p.Apply(op); err != nil && !isWorkflowRefusal(err) {
		t.Fatalf("%s: Apply(%s): %v", p.name, op.Name(), err)
	}
}

func isWorkflowRefusal(err error) bool {
	for _, s := range []error{workflow.ErrInvalid, workflow.ErrUnknownBlock, workflow.ErrUnknownEdge, workflow.ErrExists,
		workflow.ErrNameConflict, workflow.ErrEdgeRejected, workflow.ErrLocked, workflow.ErrNoEffect, workflow.ErrNotContainer} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func seed(t *testing.T) uint64 { return testutil.Seed(t, 0) }

// ---- tests ---------------------------------------------------------------

func TestE2ETwoClientsConverge(t *testing.T) {
	s := newServer(t)
	a := startPeer(t, s, "alice", nil)
	b := startPeer(t, s, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	if _, err := a.Apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b1", Type: "agent", Name: "Agent"}}}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "bob sees b1", func() bool { _, ok := b.View().Blocks["b1"]; return ok })
	if _, err := b.Apply(workflow.UpdateName{ID: "b1", NewName: "Writer"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Apply(workflow.UpdatePosition{ID: "b1", Position: workflow.Position{X: 3, Y: 4}}); err != nil {
		t.Fatal(err)
	}
	waitConverged(t, s, a, b)
	blk := a.View().Blocks["b1"]
	if blk.Name != "Writer" || blk.Position != (workflow.Position{X: 3, Y: 4}) {
		t.Errorf("block = %+v", blk)
	}
}

func TestE2EOfflineEditsThenReconnect(t *testing.T) {
	s := newServer(t)
	rng := rand.New(rand.NewPCG(seed(t), 1))
	a := startPeer(t, s, "alice", nil)
	b := startPeer(t, s, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	ea, eb := &editor{rng: rng, name: "alice"}, &editor{rng: rng, name: "bob"}
	for range 20 {
		ea.apply(t, a)
	}
	waitConverged(t, s, a, b)

	a.dialer.setOffline(true)
	testutil.WaitFor(t, "alice offline", func() bool { return a.Status().State != client.StateLive })
	for i := range 500 {
		ea.apply(t, a)
		if i%3 == 0 {
			eb.apply(t, b)
		}
	}
	if st := a.Status(); st.Pending == 0 || st.State == client.StateLive {
		t.Fatalf("alice while offline: %s", st)
	}
	a.dialer.setOffline(false)
	waitConverged(t, s, a, b)
}

func TestE2EThreeClientsRandomEditsAndDisconnects(t *testing.T) {
	s := newServer(t)
	rng := rand.New(rand.NewPCG(seed(t), 2))
	peers := []*peer{startPeer(t, s, "alice", nil), startPeer(t, s, "bob", nil), startPeer(t, s, "carol", nil)}
	editors := make([]*editor, len(peers))
	for i, p := range peers {
		p.waitLive(t)
		editors[i] = &editor{rng: rng, name: p.name}
	}
	cuts := 0
	for step := range 600 {
		i := rng.IntN(len(peers))
		p := peers[i]
		switch r := rng.IntN(100); {
		case r < 2:
			p.dialer.drop() // a dropped connection: reconnects at once
			cuts++
		case r < 4:
			p.dialer.setOffline(!p.dialer.offlineNow()) // a longer outage
			cuts++
		default:
			editors[i].apply(t, p)
		}
		if step%50 == 0 {
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		}
	}
	for _, p := range peers {
		p.dialer.setOffline(false)
	}
	t.Logf("%d disconnects", cuts)
	waitConverged(t, s, peers...)
}

func (fd *flakyDialer) offlineNow() bool {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.offline
}

func TestE2EPresenceRosterAndSameTabRejoin(t *testing.T) {
	s := newServer(t)
	presence := make(chan protocol.PresenceUpdate, 16)
	a := startPeer(t, s, "alice", func(c *client.Config) { c.TabSessionID = "tab-alice" })
	b := startPeer(t, s, "bob", func(c *client.Config) {
		c.OnPresence = func(u protocol.PresenceUpdate) {
			select {
			case presence <- u:
			default:
			}
		}
	})
	a.waitLive(t)
	b.waitLive(t)
	testutil.WaitFor(t, "roster of 2", func() bool { return len(a.Roster()) == 2 && len(b.Roster()) == 2 })
	for _, e := range b.Roster() {
		if e.UserID == "u-alice" && (e.Name != "alice" || e.TabSessionID != "tab-alice") {
			t.Errorf("alice's entry = %+v", e)
		}
	}

	if err := a.SetCursor(12, 34); err != nil {
		t.Fatal(err)
	}
	if err := a.SetSelection(protocol.SelectBlock, "b1"); err != nil {
		t.Fatal(err)
	}
	aSID, _ := a.Session()
	deadline := time.After(10 * time.Second)
	for got := false; !got; {
		select {
		case u := <-presence:
			got = u.SessionID == aSID && u.UserID == "u-alice" && u.Cursor != nil && *u.Cursor == (client.Point{X: 12, Y: 34}) &&
				u.Selection == (protocol.Selection{Type: protocol.SelectBlock, ID: "b1"})
		case <-deadline:
			t.Fatal("no PresenceUpdate from alice")
		}
	}

	// Alice's connection drops; she rejoins with the same tab: the roster
	// holds one entry for her tab, with the new session.
	a.dialer.drop()
	testutil.WaitFor(t, "alice rejoined", func() bool { sid, _ := a.Session(); return sid != aSID && a.Status().State == client.StateLive })
	newSID, _ := a.Session()
	testutil.WaitFor(t, "roster with alice's new session", func() bool {
		r := b.Roster()
		if len(r) != 2 {
			return false
		}
		for _, e := range r {
			if e.TabSessionID == "tab-alice" && e.SessionID == newSID {
				return true
			}
		}
		return false
	})

	// A reload of the same tab (a new client for the same user and tab)
	// replaces the old entry even before the old connection goes.
	a2 := startPeer(t, s, "alice", func(c *client.Config) {
		c.TabSessionID = "tab-alice"
		c.ReplicaID = "replica-alice-reloaded"
	})
	a2.waitLive(t)
	a2SID, _ := a2.Session()
	testutil.WaitFor(t, "ghost replaced", func() bool {
		r := b.Roster()
		if len(r) != 2 {
			return false
		}
		for _, e := range r {
			if e.TabSessionID == "tab-alice" && e.SessionID == a2SID {
				return true
			}
		}
		return false
	})

	// The replaced connection is still open. Its next edit is refused with
	// NOT_JOINED; the client rejoins and the edit still lands.
	pos := workflow.Position{X: 1, Y: 2}
	if _, err := a.Apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{
		{ID: "after-replace", Type: "agent", Name: "After Replace", Position: &pos}}}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the replaced client's edit is durable and relayed", func() bool {
		_, ok := b.View().Blocks["after-replace"]
		return ok && a.Pending() == 0
	})
}

func TestE2ELifecycleEvent(t *testing.T) {
	s := newServer(t)
	events := make(chan protocol.Event, 4)
	a := startPeer(t, s, "alice", func(c *client.Config) { c.OnEvent = func(e protocol.Event) { events <- e } })
	a.waitLive(t)
	rm := s.reg.Room(e2eWorkflow)
	if rm == nil {
		t.Fatal("no live room")
	}
	rm.Event(protocol.EventWorkflowDeployed, "v2")
	select {
	case e := <-events:
		if e.Kind != protocol.EventWorkflowDeployed || e.WorkflowID != e2eWorkflow || e.Message != "v2" {
			t.Errorf("event = %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
}
