// Package targets starts the servers the benchmark harness measures, in
// the calling process: flowsync (sync/server), the per-operation
// transaction baseline and the bare relay (benchmarks/baseline).
package targets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/flowsync/flowsync/benchmarks/baseline"
	"github.com/flowsync/flowsync/sync/server"
	"github.com/flowsync/flowsync/sync/session"
)

// Target names.
const (
	Flowsync = "flowsync"
	Baseline = "baseline"
	Relay    = "relay"
)

// Names lists the targets.
var Names = []string{Flowsync, Baseline, Relay}

// Options configure a target.
type Options struct {
	// Addr is the listen address. Default: "127.0.0.1:0".
	Addr string
	// PostgresURL: required by the baseline; flowsync uses its Postgres
	// store when set and Store is "" or "postgres".
	PostgresURL string
	// Store is flowsync's store: "memory", "postgres" or "bolt" (DataDir).
	// Default: postgres when PostgresURL is set, else memory.
	Store   string
	DataDir string
	Logger  *slog.Logger
	// NoRateLimits turns flowsync's per-connection frame and byte rate
	// limits off (they default to 50 frames/s per connection). The
	// max-throughput search sets it, so that the offered rate per client
	// is not capped by a limit the baseline does not have; the steady-load
	// scenarios keep the production defaults.
	NoRateLimits bool
	// BaselinePool is the baseline's Postgres pool size. Default:
	// pgxpool's, max(4, CPUs). Every operation holds a connection for its
	// whole transaction, so the pool bounds the baseline's concurrency.
	BaselinePool int32
}

// Running is a started target.
type Running struct {
	URL  string // websocket endpoint
	done chan error
	stop context.CancelFunc
}

// Stop shuts the target down and returns what its Serve returned.
func (r *Running) Stop() error {
	r.stop()
	select {
	case err := <-r.done:
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	case <-time.After(30 * time.Second):
		return errors.New("targets: server did not stop within 30 s")
	}
}

// Start starts the named target.
func Start(ctx context.Context, name string, o Options) (*Running, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	serve, path, err := build(ctx, name, o)
	if err != nil {
		ln.Close()
		return nil, err
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r := &Running{URL: "ws://" + ln.Addr().String() + path, done: make(chan error, 1), stop: stop}
	go func() { r.done <- serve(sctx, ln) }()
	return r, nil
}

// build makes the named target's server and returns its Serve and the
// websocket path.
func build(ctx context.Context, name string, o Options) (serve func(context.Context, net.Listener) error, path string, err error) {
	path = "/"
	switch name {
	case Flowsync:
		sc := server.StoreConfig{Kind: server.StoreMemory}
		switch {
		case o.Store == "postgres" || (o.Store == "" && o.PostgresURL != ""):
			sc = server.StoreConfig{Kind: server.StorePostgres, PostgresURL: o.PostgresURL}
		case o.Store == "bolt":
			sc = server.StoreConfig{Kind: server.StoreBolt, DataDir: o.DataDir}
		case o.Store == "" || o.Store == "memory":
		default:
			return nil, "", fmt.Errorf("targets: unknown store %q", o.Store)
		}
		sess := session.Config{
			// A load generator is one address and many users; the
			// per-connection rate limits stay at their defaults unless
			// NoRateLimits.
			MaxConnections:        -1,
			MaxConnectionsPerIP:   -1,
			MaxConnectionsPerUser: -1,
			// Every simulated client dials from this one address.
			ConnectionsPerMinutePerIP: -1,
		}
		if o.NoRateLimits {
			sess.FramesPerSecond, sess.BytesPerSecond = -1, -1
		}
		srv, err := server.New(server.Config{
			Dev:             true,
			ShutdownTimeout: 10 * time.Second,
			Store:           sc,
			Session:         sess,
			Version:         "bench",
		}, o.Logger, nil)
		if err != nil {
			return nil, "", err
		}
		serve = srv.Serve
		path = "/v1/sync"
	case Baseline, Relay:
		mode := baseline.ModePostgres
		if name == Relay {
			mode = baseline.ModeRelay
		} else if o.PostgresURL == "" {
			return nil, "", errors.New("targets: the baseline needs a Postgres URL")
		}
		srv, err := baseline.New(ctx, baseline.Config{Mode: mode, PostgresURL: o.PostgresURL, MaxConns: o.BaselinePool, Logger: o.Logger})
		if err != nil {
			return nil, "", err
		}
		serve = srv.Serve
	default:
		return nil, "", fmt.Errorf("targets: unknown target %q (want flowsync, baseline or relay)", name)
	}
	return serve, path, nil
}

// StoreLabel names where the target keeps operations, for result tables.
func StoreLabel(name string, o Options) string {
	switch name {
	case Flowsync:
		switch {
		case o.Store == "postgres" || (o.Store == "" && o.PostgresURL != ""):
			return "postgres"
		case o.Store == "":
			return "memory"
		}
		return o.Store
	case Baseline:
		return "postgres, tx per op"
	case Relay:
		return "none"
	}
	return ""
}
