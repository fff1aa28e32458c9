package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/client"
	"github.com/flowsync/flowsync/sync/session"
)

// newUnlimitedServer is newServer without the per-session rate limits, so
// that a client sends its whole outbox as fast as the connection takes it:
// only the session's flow control stands between a large backlog and the
// outbound queue's bounds.
func newUnlimitedServer(t *testing.T) *server {
	t.Helper()
	reg, err := rooms.NewRegistry(rooms.Config{}, memory.New(), nil, rooms.NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	cfg := session.Config{CloseGrace: 200 * time.Millisecond, FramesPerSecond: -1, BytesPerSecond: -1}
	h, err := session.NewHandler(cfg, reg, session.DevAuthenticator{}, nil, session.NewMetrics(nil))
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

// countingDialer counts the websockets it opens.
type countingDialer struct {
	*flakyDialer
	opened atomic.Int64
}

func (d *countingDialer) DialContext(ctx context.Context, u string, h http.Header) (*websocket.Conn, *http.Response, error) {
	ws, resp, err := d.flakyDialer.DialContext(ctx, u, h)
	if err == nil {
		d.opened.Add(1)
	}
	return ws, resp, err
}

// A client whose outbox holds 10,000 deltas, each in a frame of its own,
// reconnects once and the server drains it: the replies its own deltas
// cause (Applied, Durable) never close it as a slow consumer, however far
// they outnumber the outbound queue's bounds.
func TestE2ELargeBacklogDrainsOnOneConnection(t *testing.T) {
	const edits = 10_000
	s := newUnlimitedServer(t)
	cd := &countingDialer{flakyDialer: newFlakyDialer()}
	a := startPeer(t, s, "alice", func(c *client.Config) {
		c.Dialer = cd
		c.DisableCoalescing = true
	})
	a.dialer = cd.flakyDialer
	a.waitLive(t)
	if _, err := a.Apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b", Type: "agent", Name: "B"}}}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the block saved", func() bool { return a.Status().Pending == 0 })

	cd.setOffline(true)
	testutil.WaitFor(t, "alice offline", func() bool { return a.Status().State != client.StateLive })
	for i := range edits {
		p := workflow.Position{X: float64(i), Y: float64(i % 97)}
		if _, err := a.Apply(workflow.UpdatePosition{ID: "b", Position: p}); err != nil {
			t.Fatalf("edit %d: %v", i, err)
		}
	}
	if n := a.Status().Pending; n != edits {
		t.Fatalf("outbox holds %d edits, want %d", n, edits)
	}
	before := cd.opened.Load()
	start := time.Now()
	cd.setOffline(false)
	var st client.Status
	// The bound only keeps a broken build from waiting forever: a working
	// drain took 7-10 s on a loaded machine, 37-47 s under the race
	// detector, and one run of the race suite at load 30 passed 60 s. The
	// claim is the one connection.
	for deadline := start.Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st = a.Status(); st.State == client.StateLive && st.Pending == 0 {
			break
		}
	}
	reconnects := cd.opened.Load() - before
	t.Logf("%d deltas: %s after %v over %d connection(s)", edits, st, time.Since(start).Round(time.Millisecond), reconnects)
	if st.State != client.StateLive || st.Pending != 0 {
		t.Fatalf("the backlog did not drain in 3 minutes: %s after %d connections", st, reconnects)
	}
	if reconnects != 1 {
		t.Errorf("the backlog took %d connections, want 1", reconnects)
	}
	want := workflow.Position{X: edits - 1, Y: (edits - 1) % 97}
	if got := s.snapshot(t).View().Blocks["b"].Position; got != want {
		t.Errorf("server position %+v, want the last edit's %+v", got, want)
	}
}
