// Package server assembles a flowsync node: storage, the rooms registry,
// the websocket session handler and the HTTP endpoints (/v1/sync,
// /healthz, /readyz, /metrics), with graceful shutdown. cmd/flowsync parses
// flags into a Config and calls Run; tests build a Server in-process and
// serve its Handler from an httptest.Server.
//
// What this package must never do: hold logic of its own beyond wiring and
// the order of shutdown, or start without authentication unless Dev is set.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/buildinfo"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/cluster"
	"github.com/flowsync/flowsync/sync/history"
	"github.com/flowsync/flowsync/sync/receipt"
	"github.com/flowsync/flowsync/sync/session"
	"github.com/flowsync/flowsync/sync/webhook"
)

// Config is a node's configuration. The zero value is not valid: Dev must
// be set until authentication is implemented.
type Config struct {
	// Addr is the listen address. Default: DefaultAddr.
	Addr string
	// Dev runs without authentication (session.DevAuthenticator): any
	// token is accepted. Required until JWT authentication lands.
	Dev bool
	// DevRole is the role of every dev session. Default: admin.
	DevRole string
	// ShutdownTimeout bounds graceful shutdown. Default: 30 s.
	ShutdownTimeout time.Duration
	// Session and Rooms configure those packages (zero: their defaults).
	Session session.Config
	Rooms   rooms.Config
	// Store chooses the store: the embedded file store in DataDir by
	// default, Postgres when a URL is given, memory for tests.
	Store StoreConfig
	// Cluster joins the node to others over NATS; zero: single node.
	Cluster ClusterConfig
	// JWT configures token authentication (session.JWTAuthenticator): set
	// Keys and Audience. Required unless Dev.
	JWT session.JWTConfig
	// AdminSecret turns on the admin API under /admin/v1/; at least
	// MinAdminSecretBytes. Default: off.
	AdminSecret []byte
	// Version is reported in Welcome.sv and in flowsync_build_info's
	// version label; empty: the build info's module version (see
	// internal/buildinfo).
	Version string
	// Demo serves the demo editor (web.go) at /demo/ and redirects / to
	// it. `flowsync serve` turns it on unless --demo=false.
	Demo bool
	// DebugAddr, when set, serves Go's profiling endpoints (/debug/pprof/)
	// on a listener of their own. Default: off.
	DebugAddr string
	// ReceiptKeys are the keys receipts are made with (the first) and
	// checked with (all). Default: the store's keys (see receiptKeyring).
	ReceiptKeys []receipt.Key
	// Webhooks sends the application signed change and lifecycle events
	// (package webhook). Default: off.
	Webhooks WebhookConfig
	// History keeps checkpoints of every workflow (package history).
	// Default: on.
	History HistoryConfig
}

// ErrNoAuth is returned by New when neither authentication nor Dev is
// configured.
var ErrNoAuth = errors.New("flowsync: refusing to start: authentication is not configured; give --jwt-secret-file (and --jwt-audience), or run with --dev for local development (no tokens are checked)")

// DefaultAddr returns addr, or when it is empty the listen address of a
// server in dev mode or not: a dev server checks no tokens, so it listens
// on loopback only unless told otherwise; a production server on every
// interface.
func DefaultAddr(addr string, dev bool) string {
	switch {
	case addr != "":
		return addr
	case dev:
		return "127.0.0.1:8080"
	}
	return ":8080"
}

func (c Config) withDefaults() Config {
	c.Addr = DefaultAddr(c.Addr, c.Dev)
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.Session.MaxClockSkew == 0 {
		c.Session.MaxClockSkew = c.Rooms.MaxClockSkew
	}
	if c.Session.MaxClockLag == 0 {
		c.Session.MaxClockLag = c.Rooms.MaxClockLag // announced as the rooms enforce it
	}
	if c.Session.ServerVersion == "" {
		c.Session.ServerVersion = c.Version
	}
	if c.Session.Now == nil {
		c.Session.Now = nodeClock(c.Rooms.ClockOffset)
	}
	if c.JWT.Now == nil {
		c.JWT.Now = c.Session.Now
	}
	return c
}

// nodeClock is the clock of a node whose rooms run at offset: the sessions
// (Welcome's server time, token checks and expiry) and the cluster (skew
// checks, presence expiry) read the same time as the rooms, so a node has
// one clock.
func nodeClock(offset time.Duration) func() time.Time {
	if offset == 0 {
		return time.Now
	}
	return func() time.Time { return time.Now().Add(offset) }
}

// Validate reports why c cannot start a server.
func (c Config) Validate() error {
	switch {
	case c.Dev && len(c.JWT.Keys) > 0:
		return errors.New("flowsync: --dev and --jwt-secret-file are exclusive")
	case !c.Dev && len(c.JWT.Keys) == 0:
		return ErrNoAuth
	}
	if len(c.AdminSecret) > 0 && len(c.AdminSecret) < MinAdminSecretBytes {
		return fmt.Errorf("flowsync: --admin-secret-file must hold at least %d bytes", MinAdminSecretBytes)
	}
	switch c.DevRole {
	case "", "read", "write", "admin":
	default:
		return fmt.Errorf("flowsync: --dev-role %q is not read, write or admin", c.DevRole)
	}
	if c.ShutdownTimeout < 0 {
		return errors.New("flowsync: --shutdown-timeout must not be negative")
	}
	if err := c.Cluster.validate(); err != nil {
		return err
	}
	return c.Store.validate()
}

// Server is one flowsync node.
type Server struct {
	cfg      Config
	logger   *slog.Logger
	store    storage.Store
	rooms    *rooms.Registry
	sessions *session.Handler
	mux      *http.ServeMux
	draining atomic.Bool
	nc       *nats.Conn          // nil: single node
	node     *cluster.Node       // nil: single node
	hooks    *webhook.Dispatcher // nil: webhooks off
	hist     *history.Manager    // nil: checkpoints off
}

// New opens the configured store and builds a server on it. reg receives
// the metrics (nil: a fresh registry, served on /metrics). The server owns
// the store and closes it in Shutdown.
func New(cfg Config, logger *slog.Logger, reg *prometheus.Registry) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var auth session.Authenticator = session.DevAuthenticator{Role: protocolRole(cfg.DevRole)}
	if !cfg.Dev {
		jwt, err := session.NewJWTAuthenticator(cfg.JWT)
		if err != nil {
			return nil, err
		}
		auth = jwt
	} else {
		// One developer's tools reconnect from loopback all day; other
		// addresses keep the limit.
		cfg.Session.ConnectionRateSkipsLoopback = true
	}
	// The registry keeps the locks (in the store); admission runs only in
	// its rooms, so rr is set by then.
	var rr *rooms.Registry
	locked := func(id string) bool { return rr.Locked(id) }
	cfg.Rooms.Admit = rooms.Admissions(cfg.Rooms.Admit, rooms.LockAdmission(locked), rooms.AuditAdmission(logger.With("component", "audit")))
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	store, err := openStore(cfg.Store, logger)
	if err != nil {
		return nil, err
	}
	if cfg.Rooms.Receipts, err = receiptKeyring(cfg.ReceiptKeys, store); err != nil {
		store.Close()
		return nil, err
	}
	var hooks *webhook.Dispatcher
	if cfg.Webhooks.enabled() {
		view := func(ctx context.Context, id string) (*workflow.View, error) { return rr.View(ctx, id) }
		if hooks, err = openWebhooks(cfg.Webhooks, cfg.Store.DataDir, view, logger.With("component", "webhook"), reg); err != nil {
			store.Close()
			return nil, err
		}
	}
	restoreTimeout := cfg.History.RestoreTimeout
	if restoreTimeout <= 0 {
		restoreTimeout = DefaultAdminOperationTimeout
	}
	hist, err := openHistory(cfg.History, store, func() *rooms.Registry { return rr }, restoreTimeout, logger.With("component", "history"), reg)
	if err != nil {
		if hooks != nil {
			_ = hooks.Close(context.Background())
		}
		store.Close()
		return nil, err
	}
	cfg.Rooms.OnDurable = onDurable(cfg.Rooms.OnDurable, hooks, hist)
	closeHooks := func() {
		if hist != nil {
			_ = hist.Close(context.Background())
		}
		if hooks != nil {
			_ = hooks.Close(context.Background())
		}
	}
	var ref *nodeRef
	if cfg.Cluster.enabled() {
		ref = &nodeRef{}
		cfg.Rooms.Cluster = ref
	}
	rr, err = rooms.NewRegistry(cfg.Rooms, store, logger.With("component", "rooms"), rooms.NewMetrics(reg))
	if err != nil {
		closeHooks()
		store.Close()
		return nil, err
	}
	var nc *nats.Conn
	var node *cluster.Node
	if ref != nil {
		if nc, node, err = startCluster(cfg, rr, ref, logger, reg); err != nil {
			_ = rr.Close(context.Background())
			closeHooks()
			store.Close()
			return nil, err
		}
	}
	sh, err := session.NewHandler(cfg.Session, rr, auth, logger.With("component", "session"), session.NewMetrics(reg))
	if err != nil {
		_ = rr.Close(context.Background())
		if node != nil {
			_ = node.Close()
			nc.Close()
		}
		closeHooks()
		store.Close()
		return nil, err
	}
	registerStoreStats(reg, store)
	registerBuildInfo(reg, cfg.Version)
	s := &Server{cfg: cfg, logger: logger, store: store, rooms: rr, sessions: sh, mux: http.NewServeMux(), nc: nc, node: node, hooks: hooks, hist: hist}
	s.mux.Handle("GET /v1/sync", sh)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if s.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"shutting down"}`))
			return
		}
		if h := s.rooms.StoreHealth(); !h.OK {
			// Degraded: edits are merged and relayed but not made
			// durable; a load balancer should prefer other nodes.
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{
				"status":        "degraded",
				"reason":        "store writes failing: " + h.LastError,
				"failing_since": h.FailingSince.UTC().Format(time.RFC3339Nano),
			})
			return
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if cfg.Demo {
		RegisterWeb(s.mux)
	}
	if len(cfg.AdminSecret) > 0 {
		// Registry.DeleteWorkflow deletes through the cluster node when
		// there is one, so an admin delete reaches every node and region.
		deps := RegistryAdminDeps(rr, sh)
		if hooks != nil {
			deps.Events = hooks
		}
		if hist != nil {
			deps.History = hist
		}
		ah, err := NewAdminHandler(AdminConfig{Secret: cfg.AdminSecret, Logger: logger.With("component", "admin")}, deps)
		if err != nil { // cannot happen after Validate: the deps are all set
			return nil, err
		}
		s.mux.Handle("/admin/", ah)
	}
	if cfg.Dev {
		logger.Warn("DEVELOPMENT MODE: authentication is OFF; every token is accepted. Never expose this server.",
			"role", string(protocolRole(cfg.DevRole)))
	}
	return s, nil
}

// registerBuildInfo exports flowsync_build_info for the running binary,
// with version as the link-time override (Config.Version). A registry
// shared by two servers keeps the first one's series.
func registerBuildInfo(reg prometheus.Registerer, version string) {
	if err := buildinfo.Register(reg, buildinfo.Read(version)); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			panic(err) // a programming error, as MustRegister would report it
		}
	}
}

// Handler returns the HTTP handler with every endpoint.
func (s *Server) Handler() http.Handler { return s.mux }

// Rooms returns the rooms registry (for tests and the admin API to come).
func (s *Server) Rooms() *rooms.Registry { return s.rooms }

// History returns the checkpoint manager, nil when checkpoints are off.
func (s *Server) History() *history.Manager { return s.hist }

// Node returns the cluster node, nil for a single node.
func (s *Server) Node() *cluster.Node { return s.node }

// Store returns the store.
func (s *Server) Store() storage.Store { return s.store }

// Run listens on Config.Addr and serves until ctx is done, then shuts down
// gracefully (see Shutdown).
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("flowsync: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	if s.cfg.DebugAddr != "" {
		dctx, stop := context.WithCancel(ctx)
		defer stop()
		if err := s.serveDebug(dctx, s.cfg.DebugAddr); err != nil {
			return fmt.Errorf("flowsync: debug listener: %w", err)
		}
	}
	s.logger.Info("flowsync serving", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("flowsync: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.Shutdown(sctx, hs)
	<-errc
	return err
}

// Shutdown drains the node: /readyz turns 503, the listener stops
// accepting (hs may be nil when the caller serves the handler itself), the
// rooms write what is waiting for the store and close their members with
// 1012, then every remaining session is closed with 1012.
func (s *Server) Shutdown(ctx context.Context, hs *http.Server) error {
	s.draining.Store(true)
	s.logger.Info("flowsync shutting down")
	var errs []error
	if hs != nil {
		// Stops the listener and idle connections; hijacked websockets are
		// the session handler's to close.
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	// Before the rooms: it checkpoints the workflows edited since their
	// last checkpoint, reading the rooms' documents.
	// A checkpoint it could not make is no failure of the shutdown: the
	// edits are in the document, and the workflow's next window
	// checkpoints them.
	if s.hist != nil {
		if err := s.hist.Close(ctx); err != nil {
			s.logger.Warn("checkpoints of the last edits not made at shutdown", "err", err)
		}
	}
	if err := s.rooms.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	// The node after the registry (the rooms have released their
	// workflows and written what they held), the connection last.
	if s.node != nil {
		if err := s.node.Close(); err != nil {
			errs = append(errs, err)
		}
		s.nc.Close()
	}
	if err := s.sessions.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	// After the rooms: their last writes report to it. Undelivered events
	// and open debounce windows stay in its file for the next start.
	if s.hooks != nil {
		if err := s.hooks.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.store.Close(); err != nil {
		errs = append(errs, err)
	}
	s.logger.Info("flowsync stopped")
	return errors.Join(errs...)
}

// onDurable returns the rooms' OnDurable that tells each of the given
// listeners (the caller's own, the webhooks, the checkpoints) that are on.
func onDurable(own func(string, []string), hooks *webhook.Dispatcher, hist *history.Manager) func(string, []string) {
	var fs []func(string, []string)
	if own != nil {
		fs = append(fs, own)
	}
	if hooks != nil {
		fs = append(fs, hooks.Notify)
	}
	if hist != nil {
		fs = append(fs, hist.Notify)
	}
	switch len(fs) {
	case 0:
		return nil
	case 1:
		return fs[0]
	}
	return func(id string, users []string) {
		for _, f := range fs {
			f(id, users)
		}
	}
}
