package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/bolt"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/storage/postgres"
)

// Store kinds (StoreConfig.Kind).
const (
	StoreAuto     = ""         // postgres when PostgresURL is set, else bolt
	StoreBolt     = "bolt"     // embedded file in DataDir (the default)
	StorePostgres = "postgres" // PostgresURL
	StoreMemory   = "memory"   // tests and throwaway dev servers: nothing survives a restart
)

// DefaultDataDir is where the embedded store lives when DataDir is empty.
const DefaultDataDir = "./flowsync-data"

// BoltFile is the name of the embedded store's file inside DataDir.
const BoltFile = "flowsync.db"

// StoreConfig chooses where documents live.
type StoreConfig struct {
	// Kind is StoreAuto, StoreBolt, StorePostgres or StoreMemory.
	Kind string
	// DataDir holds the embedded store's file (BoltFile). Default:
	// DefaultDataDir.
	DataDir string
	// PostgresURL selects Postgres (with Kind StoreAuto).
	PostgresURL string
	// Postgres holds the pool settings; its URL and Logger are filled in
	// from PostgresURL and the server's logger. Zero fields: the
	// storage/postgres defaults.
	Postgres postgres.Config
	// Use, when set, is the store (tests, programs embedding a server);
	// every other field is ignored. The server closes it in Shutdown.
	Use storage.Store
	// OpenTimeout bounds opening the store (connecting to Postgres and
	// applying migrations, or waiting for the bolt file lock). Default: 30 s.
	OpenTimeout time.Duration
}

func (c StoreConfig) kind() string {
	if c.Kind == StoreAuto {
		if c.PostgresURL != "" {
			return StorePostgres
		}
		return StoreBolt
	}
	return c.Kind
}

func (c StoreConfig) validate() error {
	switch c.Kind {
	case StoreAuto, StoreBolt, StoreMemory:
	case StorePostgres:
		if c.PostgresURL == "" {
			return errors.New("flowsync: --store=postgres needs --postgres-url (FLOWSYNC_POSTGRES_URL)")
		}
	default:
		return fmt.Errorf("flowsync: --store %q is not bolt, postgres or memory", c.Kind)
	}
	if c.OpenTimeout < 0 {
		return errors.New("flowsync: store open timeout must not be negative")
	}
	return nil
}

// openStore opens the configured store and logs which one it is.
func openStore(c StoreConfig, logger *slog.Logger) (storage.Store, error) {
	timeout := c.OpenTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	if c.Use != nil {
		logger.Info("store: provided by the caller", "store", fmt.Sprintf("%T", c.Use))
		return c.Use, nil
	}
	switch c.kind() {
	case StoreMemory:
		logger.Warn("store: in memory; documents are lost when the process exits", "store", StoreMemory)
		return memory.New(), nil
	case StorePostgres:
		pc := c.Postgres
		pc.URL = c.PostgresURL
		pc.Logger = logger.With("component", "postgres")
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		s, err := postgres.Open(ctx, pc)
		if err != nil {
			return nil, fmt.Errorf("flowsync: opening the Postgres store at %s: %w", RedactURL(c.PostgresURL), err)
		}
		logger.Info("store: postgres", "store", StorePostgres, "url", RedactURL(c.PostgresURL))
		return s, nil
	default:
		dir := c.DataDir
		if dir == "" {
			dir = DefaultDataDir
		}
		path := filepath.Join(dir, BoltFile)
		s, err := bolt.Open(bolt.Config{Path: path, OpenTimeout: min(timeout, 5*time.Second)})
		if errors.Is(err, bolt.ErrLocked) {
			return nil, fmt.Errorf("flowsync: cannot open the embedded store: %w. "+
				"Stop the other flowsync process using --data-dir %s, or start this one with another --data-dir (FLOWSYNC_DATA_DIR)", err, dir)
		}
		if err != nil {
			return nil, fmt.Errorf("flowsync: opening the embedded store: %w", err)
		}
		abs, _ := filepath.Abs(path)
		logger.Info("store: embedded (bbolt)", "store", StoreBolt, "path", abs)
		return s, nil
	}
}

// RedactURL hides the password of a Postgres URL for logs.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return "(postgres DSN)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// registerStoreStats exports the store's write counters (storage.Stats) as
// Prometheus counters, read at scrape time.
func registerStoreStats(reg prometheus.Registerer, st storage.Store) {
	sr, ok := st.(storage.StatsReporter)
	if !ok {
		return
	}
	for _, c := range []struct {
		name, help string
		get        func(storage.Stats) int64
	}{
		{"flowsync_store_appends_total", "Store.Append calls that committed (one write transaction each).", func(s storage.Stats) int64 { return s.Appends }},
		{"flowsync_store_deltas_appended_total", "Deltas (log rows: one per room write) in committed appends.", func(s storage.Stats) int64 { return s.DeltasAppended }},
		{"flowsync_store_ops_appended_total", "Operations those deltas cover (a room joins a write's operations into one delta).", func(s storage.Stats) int64 { return s.OpsAppended }},
		{"flowsync_store_deltas_stored_total", "Of those, new log rows (the rest were re-sent and already stored).", func(s storage.Stats) int64 { return s.DeltasStored }},
		{"flowsync_store_bytes_written_total", "Payload bytes of new log rows and snapshots.", func(s storage.Stats) int64 { return s.BytesWritten }},
		{"flowsync_store_snapshots_written_total", "Snapshots written.", func(s storage.Stats) int64 { return s.Snapshots }},
		{"flowsync_store_snapshot_conflicts_total", "Snapshot version conflicts (each followed by a re-read, join and retry).", func(s storage.Stats) int64 { return s.Conflicts }},
		{"flowsync_store_log_trimmed_total", "Log rows deleted by snapshots.", func(s storage.Stats) int64 { return s.LogTrimmed }},
		{"flowsync_store_transactions_total", "Write transactions committed (Append, Snapshot, Delete).", func(s storage.Stats) int64 { return s.Transactions }},
		{"flowsync_store_statements_total", "SQL statements sent by committed writes (0 for the embedded store).", func(s storage.Stats) int64 { return s.Statements }},
		{"flowsync_store_retries_total", "Store writes retried inside the store after a transient error.", func(s storage.Stats) int64 { return s.Retries }},
	} {
		get := c.get
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
			func() float64 { return float64(get(sr.Stats())) }))
	}
}
