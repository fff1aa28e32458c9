package hostile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/receipt"
	"github.com/flowsync/flowsync/sync/session"
)

// env is one server: a registry of rooms with receipts, a session handler
// with the production limits, and an in-memory store, reached through
// in-memory connections (no sockets, so an exec costs little and cannot
// run out of ports).
type env struct {
	reg   *rooms.Registry
	h     *session.Handler
	store *memory.Store
	// sessionMetrics counts, among others, the session readers that
	// panicked (and recovered).
	sessionMetrics *session.Metrics
	ln             *testutil.PipeListener
	hs             *http.Server
	served         chan struct{}
	closed         atomic.Bool
	// closeWait bounds close; zero means 10 s.
	closeWait time.Duration
}

// receiptKey is fixed so that a run is the same every time; the attacker
// never learns it (its receipts come only from the server).
var receiptKey = receipt.Key{ID: "k1", Secret: bytes.Repeat([]byte("flowsync-hostile-room-key-"), 2)}

// roleAuth is the dev authenticator with a role in the token: "uid:role"
// gives user uid that role in every workflow, bound to Hello's replica id.
type roleAuth struct{}

func (roleAuth) Authenticate(_ context.Context, hello *protocol.Hello, _ *http.Request) (session.Principal, error) {
	uid, role, _ := strings.Cut(hello.Token, ":")
	r := protocol.Role(role)
	if uid == "" || !r.Valid() {
		return session.Principal{}, protocol.NewError(protocol.CodeAuthenticationFailed, "token is not uid:role")
	}
	return session.Principal{UserID: uid, Name: "User " + uid, ReplicaID: crdt.ReplicaID(hello.ReplicaID),
		Grants: session.AllWorkflows(r)}, nil
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	kr, err := receipt.NewKeyring(receiptKey)
	if err != nil {
		tb.Fatal(err)
	}
	store := memory.New()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := rooms.NewRegistry(rooms.Config{Receipts: kr}, store, quiet, nil)
	if err != nil {
		tb.Fatal(err)
	}
	// Flushing at once instead of every 10 ms makes each reply, and so each
	// exec, quicker; it changes when frames are written, not which.
	sm := session.NewMetrics(nil)
	h, err := session.NewHandler(session.Config{FlushInterval: -1, CloseGrace: 50 * time.Millisecond, ConnectionsPerMinutePerIP: -1}, reg, roleAuth{}, quiet, sm)
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/sync", h)
	e := &env{reg: reg, h: h, store: store, sessionMetrics: sm, ln: testutil.NewPipeListener(), served: make(chan struct{})}
	e.hs = &http.Server{Handler: mux}
	go func() { defer close(e.served); _ = e.hs.Serve(e.ln) }()
	// A failed exec stops before its own close; this one shuts the server
	// down then (close is idempotent).
	tb.Cleanup(func() { _ = e.close() })
	return e
}

// close shuts the server down: the rooms first, so that everything merged
// reaches the store, then the sessions. It may be called more than once.
func (e *env) close() error {
	if !e.closed.CompareAndSwap(false, true) {
		return nil
	}
	wait := e.closeWait
	if wait == 0 {
		wait = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := e.reg.Close(ctx)
	if herr := e.h.Close(ctx); herr != nil {
		err = errors.Join(err, herr)
	}
	_ = e.hs.Close()
	<-e.served
	return err
}
