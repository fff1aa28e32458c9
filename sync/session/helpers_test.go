package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// countingStore counts loads and can slow them down, or hold the loads of
// one workflow until held is closed.
type countingStore struct {
	storage.Store
	loads     atomic.Int64
	loadDelay time.Duration
	holdWF    string        // set before the first load
	held      chan struct{} // closed to let holdWF load
	appends   chan struct{} // set before the first append: each Append waits for a value (nil: none waits)
}

func (s *countingStore) Append(ctx context.Context, wf string, deltas []storage.Delta) error {
	if s.appends != nil {
		select {
		case <-s.appends:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Store.Append(ctx, wf, deltas)
}

func (s *countingStore) Load(ctx context.Context, wf string) (*workflow.Doc, error) {
	s.loads.Add(1)
	if s.loadDelay > 0 {
		time.Sleep(s.loadDelay)
	}
	if wf == s.holdWF && s.held != nil {
		select {
		case <-s.held:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.Store.Load(ctx, wf)
}

// Create and Exists pass storage.Catalog through to the memory store.
func (s *countingStore) Create(ctx context.Context, wf string) error {
	return s.Store.(storage.Catalog).Create(ctx, wf)
}

func (s *countingStore) Exists(ctx context.Context, wf string) (bool, error) {
	return s.Store.(storage.Catalog).Exists(ctx, wf)
}

type env struct {
	srv     *httptest.Server // nil in a bubble (newBubbleEnv)
	dialer  *websocket.Dialer
	wall0   int64 // the clients' first HLC wall time
	reg     *rooms.Registry
	h       *session.Handler
	store   *countingStore
	url     string
	metrics *session.Metrics
	logs    *syncBuffer // the handler's slog output, debug level
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t *testing.T, tweak func(*session.Config, *rooms.Config)) *env {
	t.Helper()
	return newEnvAuth(t, session.DevAuthenticator{}, tweak)
}

// advance moves a bubble's fake time on by d (the timers due meanwhile fire
// in order) and returns once every goroutine of the bubble is blocked.
func advance(d time.Duration) {
	time.Sleep(d) // fake time: returns as soon as every other goroutine is blocked
	synctest.Wait()
}

// newBubbleEnv is newEnv for a test running in a testing/synctest bubble:
// the server and its clients talk through in-memory pipes instead of
// sockets, so the bubble's fake time drives the sessions' ping, pong, flush
// and rate-limit timers, and synctest.Wait returns once the sessions have
// handled what they were sent. A pipe has no buffer: a client must be
// reading for the server's writes to it to complete.
func newBubbleEnv(t *testing.T, tweak func(*session.Config, *rooms.Config)) *env {
	t.Helper()
	return newEnvOn(t, session.DevAuthenticator{}, tweak, true)
}

func newEnvAuth(t *testing.T, auth session.Authenticator, tweak func(*session.Config, *rooms.Config)) *env {
	t.Helper()
	return newEnvOn(t, auth, tweak, false)
}

func newEnvOn(t *testing.T, auth session.Authenticator, tweak func(*session.Config, *rooms.Config), pipes bool) *env {
	t.Helper()
	var wrap func(net.Listener) net.Listener
	if pipes {
		wrap = func(ln net.Listener) net.Listener { return ln }
	}
	return newEnvListening(t, auth, tweak, wrap)
}

// newEnvListening is newEnvOn with its server listening on wrap of a
// PipeListener (the env is then a bubble env), or on a socket if wrap is
// nil.
func newEnvListening(t *testing.T, auth session.Authenticator, tweak func(*session.Config, *rooms.Config), wrap func(net.Listener) net.Listener) *env {
	t.Helper()
	pipes := wrap != nil
	var scfg session.Config
	var rcfg rooms.Config
	scfg.CloseGrace = 200 * time.Millisecond
	scfg.ConnectionsPerMinutePerIP = -1 // tests open many connections from 127.0.0.1
	if tweak != nil {
		tweak(&scfg, &rcfg)
	}
	store := &countingStore{Store: memory.New()}
	reg, err := rooms.NewRegistry(rcfg, store, nil, rooms.NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	metrics := session.NewMetrics(nil)
	h, err := session.NewHandler(scfg, reg, auth, logger, metrics)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/sync", h)
	e := &env{reg: reg, h: h, store: store, metrics: metrics, logs: logs,
		dialer: websocket.DefaultDialer, wall0: time.Now().Add(-time.Hour).UnixMilli()}
	if pipes {
		ln := testutil.NewPipeListener()
		hs := &http.Server{Handler: mux}
		served := make(chan struct{})
		go func() { defer close(served); _ = hs.Serve(wrap(ln)) }()
		e.url = "ws://pipe/v1/sync"
		e.dialer = &websocket.Dialer{NetDialContext: ln.Dial}
		// Fake time starts in 2000: the clients' clocks must not lead it.
		e.wall0 = time.Now().Add(-time.Hour).UnixMilli()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := reg.Close(ctx); err != nil {
				t.Errorf("rooms close: %v", err)
			}
			if err := h.Close(ctx); err != nil {
				t.Errorf("sessions close: %v", err)
			}
			_ = hs.Close()
			<-served
		})
		return e
	}
	srv := httptest.NewServer(mux)
	e.srv, e.url = srv, "ws"+strings.TrimPrefix(srv.URL, "http")+"/v1/sync"
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
	return e
}

// client is a raw-protocol test client: it speaks frames, nothing more.
type client struct {
	t       *testing.T
	conn    *websocket.Conn
	sid     string
	replica crdt.ReplicaID
	doc     *workflow.Doc
	clock   *crdt.Clock
	wall    int64
	ops     int
	caps    []string // Welcome.caps
}

func (e *env) dial(t *testing.T, header http.Header) *client {
	t.Helper()
	conn, resp, err := e.dialer.Dial(e.url, header)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	c := &client{t: t, conn: conn, doc: workflow.New(), wall: e.wall0}
	t.Cleanup(func() { conn.Close() })
	return c
}

// connect dials and says Hello as token with replica rid.
func (e *env) connect(t *testing.T, token, rid string, caps ...string) *client {
	t.Helper()
	c := e.dial(t, nil)
	c.replica = crdt.ReplicaID(rid)
	c.clock = crdt.NewClock(c.replica)
	c.send(&protocol.Hello{ProtocolVersion: protocol.ProtocolVersion, Token: token, ReplicaID: rid, ClientName: "test", Caps: caps})
	w := c.expect(protocol.FrameWelcome).(*protocol.Welcome)
	c.sid = w.SessionID
	c.caps = w.Caps
	return c
}

func (c *client) send(f protocol.Frame) {
	c.t.Helper()
	b, err := protocol.Encode(f)
	if err != nil {
		c.t.Fatalf("encode %s: %v", f.Type(), err)
	}
	c.sendRaw(b)
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next reads one frame (5 s deadline).
func (c *client) next() (protocol.Frame, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, b, err := c.conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	if mt != websocket.BinaryMessage {
		return nil, fmt.Errorf("server sent message type %d", mt)
	}
	return protocol.Decode(b, protocol.Limits{MaxFrameBytes: 64 << 20})
}

// expect reads frames until one of type t arrives (merging remote deltas
// and catch-ups on the way), and returns it.
func (c *client) expect(t protocol.FrameType) protocol.Frame {
	c.t.Helper()
	for {
		f, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", t, err)
		}
		c.absorb(f)
		if f.Type() == t {
			return f
		}
	}
}

// expectWhere reads until a frame of type t satisfies ok.
func (c *client) expectWhere(t protocol.FrameType, ok func(protocol.Frame) bool) protocol.Frame {
	c.t.Helper()
	for {
		f := c.expect(t)
		if ok(f) {
			return f
		}
	}
}

func (c *client) absorb(f protocol.Frame) {
	var d []byte
	switch f := f.(type) {
	case *protocol.RemoteDelta:
		d = f.Delta
	case *protocol.CatchUp:
		d = f.Delta
	default:
		return
	}
	doc, err := workflow.Decode(d, workflow.DeltaLimits)
	if err != nil {
		c.t.Fatalf("server sent an undecodable delta: %v", err)
	}
	c.doc.Merge(doc)
}

// expectClose reads until the connection closes and returns the code.
func (c *client) expectClose() int {
	c.t.Helper()
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := c.conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		c.t.Fatalf("connection ended without a close frame: %v", err)
	}
}

// join joins wf with the client's context and reads Joined and every
// catch-up chunk.
func (c *client) join(wf, tab string) *protocol.Joined {
	c.t.Helper()
	ctx := workflow.New()
	ctx.Context().Merge(c.doc.Context())
	c.send(&protocol.Join{WorkflowID: wf, Context: ctx.Encode(), TabSessionID: tab})
	j := c.expect(protocol.FrameJoined).(*protocol.Joined)
	for range j.CatchUpChunks {
		c.expect(protocol.FrameCatchUp)
	}
	return j
}

// edit applies op locally and returns the encoded delta.
func (c *client) edit(op workflow.Op) []byte {
	c.t.Helper()
	c.wall += 1000
	d, err := c.doc.Apply(c.clock.Now(c.wall), op)
	if err != nil {
		c.t.Fatalf("apply %s: %v", op.Name(), err)
	}
	return d.Encode()
}

func (c *client) sendDelta(wf string, raw []byte) string {
	c.ops++
	op := fmt.Sprintf("op-%d", c.ops)
	c.send(&protocol.Delta{WorkflowID: wf, OpID: op, Delta: raw})
	return op
}

func addBlock(id, name string) workflow.Op {
	return workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: name,
		Position: &workflow.Position{X: 10, Y: 20}}}}
}

func (e *env) stored(t *testing.T, wf string) *workflow.Doc {
	t.Helper()
	d, err := e.store.Store.Load(context.Background(), wf)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// dialSmallBuffer connects a client with a 64 KiB socket receive buffer
// (so that a client that stops reading backs the server up quickly) and
// says Hello.
func (e *env) dialSmallBuffer(t *testing.T) *client {
	t.Helper()
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(64 << 10)
		}
		return c, err
	}}
	conn, _, err := d.Dial(e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, doc: workflow.New(), replica: "rep-slow", clock: crdt.NewClock("rep-slow"), wall: time.Now().Add(-time.Hour).UnixMilli()}
	c.send(&protocol.Hello{ProtocolVersion: 1, Token: "slow:Slow", ReplicaID: "rep-slow"})
	c.sid = c.expect(protocol.FrameWelcome).(*protocol.Welcome).SessionID
	return c
}
