package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/internal/workers"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Handler serves /v1/sync: each request upgraded to a websocket becomes a
// session that lives until the connection closes. ServeHTTP returns once
// the connection is upgraded (or refused); the session runs on a goroutine
// of its own, which Close waits for.
type Handler struct {
	// Static after construction.
	cfg      Config
	rooms    *rooms.Registry
	auth     Authenticator
	logger   *slog.Logger
	metrics  *Metrics
	upgrader websocket.Upgrader
	allowed  []string // normalized AllowedOrigins
	connRate *connRateLimiter
	// frameHook, when set (only by tests, through export_test.go, before
	// any connection), sees each message before it is handled: the seam
	// that makes frame handling panic.
	frameHook func(data []byte)
	ctx       context.Context // cancelled when Close gives up waiting
	cancel    context.CancelFunc
	workers   *workers.Pool // runs the sessions' read bursts and writer runs

	mu        sync.Mutex
	sessions  map[*session]struct{}    // guarded by mu
	closing   bool                     // guarded by mu
	conns     int                      // guarded by mu: connections admitted (upgrading or open)
	perIP     map[string]int           // guarded by mu: conns by clientKey
	byUser    map[string][]*session    // guarded by mu: authenticated sessions by user id (a user has few)
	overrides map[string][]grantChange // guarded by mu: recent role changes by user id
	userRooms map[string]int           // guarded by mu: memberships by user id, over all sessions (MaxRoomsPerUser)
	wg        sync.WaitGroup           // one per live ServeHTTP session
}

// NewHandler returns a handler whose sessions join rooms of reg and are
// authenticated by auth. A nil logger discards; a nil metrics records
// nothing. It returns an error naming the field when cfg is invalid.
func NewHandler(cfg Config, reg *rooms.Registry, auth Authenticator, logger *slog.Logger, m *Metrics) (*Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if reg == nil || auth == nil {
		return nil, errors.New("session: NewHandler needs a registry and an authenticator")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{
		cfg: cfg, rooms: reg, auth: auth, logger: logger, metrics: m, ctx: ctx, cancel: cancel,
		sessions: make(map[*session]struct{}),
		perIP:    make(map[string]int), byUser: make(map[string][]*session), userRooms: make(map[string]int),
		overrides: make(map[string][]grantChange),
		connRate:  newConnRateLimiter(&cfg),
		workers:   workers.New(0, 0),
	}
	for _, o := range cfg.AllowedOrigins {
		h.allowed = append(h.allowed, normalizeOrigin(o))
	}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.WriteTimeout,
		// 0: gorilla reads through the hijacked bufio.Reader (hijacker
		// makes sure it qualifies), whose buffer the session lends to a
		// pool whenever the connection is idle (see idleread.go).
		ReadBufferSize: 0,
		// Write buffers come from the pool for the length of one message,
		// so an idle connection holds none (a buffer of its own would
		// spare the pool's 32-byte allocation per message, but cost every
		// idle connection its size); the batch gathering a writer's
		// messages is pooled too (batchConn).
		WriteBufferSize:   writeBufferSize,
		WriteBufferPool:   &sync.Pool{},
		CheckOrigin:       h.checkOrigin,
		EnableCompression: false,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			h.logger.Debug("websocket upgrade refused", "status", status, "reason", reason, "remote", r.RemoteAddr)
			http.Error(w, http.StatusText(status), status)
		},
	}
	return h, nil
}

// writeBufferSize is gorilla's framing buffer, taken from the pool for one
// message (see NewHandler).
const writeBufferSize = 4096

// checkOrigin allows requests without an Origin header (non-browser
// clients), origins on the allowlist, and, when the allowlist is empty,
// same-host origins. It never allows everything.
func (h *Handler) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(h.allowed) > 0 {
		return slices.Contains(h.allowed, normalizeOrigin(origin))
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// ServeHTTP implements http.Handler. An upgrade over MaxConnections is
// refused with 503, one over MaxConnectionsPerIP or the connection-rate
// limit with 429, all before upgrading.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := clientKey(r, h.cfg.TrustProxyHeaders)
	h.mu.Lock()
	closing := h.closing
	if !closing {
		h.wg.Add(1)
	}
	h.mu.Unlock()
	if closing {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if ok, wait := h.connRate.allow(key, time.Now()); !ok {
		h.wg.Done()
		h.metrics.refused(limitConnectionRate)
		h.logger.Debug("websocket upgrade refused by the connection-rate limit", "remote", key)
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
		return
	}
	if status := h.admitConn(key); status != 0 {
		h.wg.Done()
		h.logger.Info("websocket upgrade refused by a connection cap", "status", status, "remote", key)
		w.Header().Set("Retry-After", "5")
		http.Error(w, http.StatusText(status), status)
		return
	}

	hw := &hijacker{ResponseWriter: w}
	conn, err := h.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		h.releaseConn(key)
		h.wg.Done()
		return // the upgrader answered
	}
	// The session outlives this call. net/http keeps a hijacked
	// connection's server-side state (its 4 KiB response bufio.Writer,
	// the parsed request) reachable from the goroutine that called
	// ServeHTTP until the call returns: running the session here would
	// hold all of it for the connection's whole life. The session is set
	// up here, though, so that its own goroutine starts right at its read
	// loop: what that goroutine ever calls decides the size of its stack
	// (see idleread.go).
	s := newSession(h, conn, hw.conn, r, key)
	h.start(s)
	go s.run()
}

// start registers s (or closes it, when the Handler is closing) and starts
// its clocks.
func (h *Handler) start(s *session) {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		s.Close(protocol.CloseServiceRestart, "server restart")
	} else {
		h.sessions[s] = struct{}{}
		h.mu.Unlock()
	}
	if h.ctx.Err() != nil {
		// Close gave up waiting before it could see s: cut it as it cut
		// the others.
		s.cutConn()
	}
	h.metrics.connections(1)
	s.begin()
}

// finish releases what ServeHTTP took for s (the admission slot and the
// Handler's wait group), once s's connection is closed and its goroutines
// are done.
func (h *Handler) finish(s *session) {
	h.metrics.connections(-1)
	h.mu.Lock()
	delete(h.sessions, s)
	h.mu.Unlock()
	h.releaseConn(s.key)
	h.wg.Done()
}

// Close stops accepting sessions (new upgrades get 503), closes every
// session with 1012 (after the frames already queued, such as the Durable
// acks of a room flush) and waits for their goroutines. Close the rooms
// registry first, so that rooms flush before their members go. It returns
// ctx.Err() if sessions were still running when ctx ended (they are then
// cut).
func (h *Handler) Close(ctx context.Context) error {
	// Parked workers end now, the others after their task (the sessions'
	// last writer runs among them).
	defer h.workers.Close()
	h.mu.Lock()
	h.closing = true
	live := make([]*session, 0, len(h.sessions))
	for s := range h.sessions {
		live = append(live, s)
	}
	h.mu.Unlock()
	for _, s := range live {
		s.Close(protocol.CloseServiceRestart, "server restart")
	}
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		// Cut the remaining connections, which ends their readers (and
		// writers blocked in a write). A session start registers after
		// this snapshot sees h.ctx cancelled and is cut there.
		h.cancel()
		h.mu.Lock()
		live = live[:0]
		for s := range h.sessions {
			live = append(live, s)
		}
		h.mu.Unlock()
		for _, s := range live {
			s.cutConn()
		}
		<-done
		return fmt.Errorf("session: close: %w", ctx.Err())
	}
}

// Len returns the number of live sessions.
func (h *Handler) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}
