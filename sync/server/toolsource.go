package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/postgres"
)

// Source names the store the operator's tools (Inspect, Export, Import)
// work on: the embedded store of a data directory, or a Postgres database.
type Source struct {
	// DataDir holds the embedded store's file (BoltFile). bbolt lets one
	// process at a time open it, so the server using it must be stopped.
	DataDir string
	// PostgresURL, when set, is the database instead of DataDir. Servers
	// may run on it meanwhile: reads take no lock a writer waits for, and
	// an import is a join through the store's own write path.
	PostgresURL string
}

// String names the source for messages, without a password.
func (s Source) String() string {
	if s.PostgresURL != "" {
		return RedactURL(s.PostgresURL)
	}
	return filepath.Join(s.DataDir, BoltFile)
}

// toolStore is a store opened by a tool, with its listing.
type toolStore interface {
	storage.Store
	storage.Catalog
}

// storedWorkflow is one workflow of a listing, before it is loaded.
type storedWorkflow struct {
	ID              string
	Bytes, LogRows  int
	SnapshotVersion uint64
	// Damage says what the listing found wrong without loading (log rows
	// whose key does not match their bytes); empty when nothing.
	Damage string
}

// Tombstone is a deleted workflow of Inspect and when it was deleted.
type Tombstone struct {
	ID        string    `json:"workflowId"`
	DeletedAt time.Time `json:"deletedAt"`
}

// opened is a source opened by a tool.
type opened struct {
	store toolStore
	kind  string // StoreBolt or StorePostgres
	where string // the file's path, or the redacted URL
	list  func(context.Context) ([]storedWorkflow, []Tombstone, error)
}

func (o *opened) Close() error { return o.store.Close() }

// toolPostgresTimeout bounds connecting to Postgres (and checking or
// applying its migrations) for a tool.
const toolPostgresTimeout = 30 * time.Second

// openSource opens src, read-only unless write.
func openSource(ctx context.Context, src Source, write bool) (*opened, error) {
	if src.PostgresURL != "" {
		return openPostgresSource(ctx, src.PostgresURL, write)
	}
	if src.DataDir == "" {
		return nil, errNoSource
	}
	s, err := openDataDir(src.DataDir, write)
	if err != nil {
		return nil, err
	}
	return &opened{store: s, kind: StoreBolt, where: s.Path(), list: func(ctx context.Context) ([]storedWorkflow, []Tombstone, error) {
		infos, tombs, err := s.Workflows(ctx)
		if err != nil {
			return nil, nil, err
		}
		out := make([]storedWorkflow, len(infos))
		for i, in := range infos {
			out[i] = storedWorkflow{ID: in.ID, Bytes: in.Bytes(), LogRows: in.LogRows, SnapshotVersion: in.SnapshotVersion,
				Damage: logDamage(in.BadLogRows, in.LogRows)}
		}
		ts := make([]Tombstone, len(tombs))
		for i, t := range tombs {
			ts[i] = Tombstone(t)
		}
		return out, ts, nil
	}}, nil
}

// openPostgresSource opens the Postgres store at url with a small pool.
// Reading, it neither creates nor migrates tables and its connections
// refuse writes (postgres.Config.ReadOnly); writing (import), it applies
// this build's migrations as a starting server would.
func openPostgresSource(ctx context.Context, url string, write bool) (*opened, error) {
	ctx, cancel := context.WithTimeout(ctx, toolPostgresTimeout)
	defer cancel()
	s, err := postgres.Open(ctx, postgres.Config{URL: url, MaxConns: 2, ReadOnly: !write})
	if err != nil {
		return nil, fmt.Errorf("flowsync: --postgres-url %s: %w", RedactURL(url), err)
	}
	return &opened{store: s, kind: StorePostgres, where: RedactURL(url), list: func(ctx context.Context) ([]storedWorkflow, []Tombstone, error) {
		infos, tombs, err := s.Workflows(ctx)
		if err != nil {
			return nil, nil, err
		}
		out := make([]storedWorkflow, len(infos))
		for i, in := range infos {
			out[i] = storedWorkflow{ID: in.ID, Bytes: in.Bytes(), LogRows: in.LogRows, SnapshotVersion: uint64(in.SnapshotVersion),
				Damage: logDamage(in.BadLogRows, in.LogRows)}
		}
		ts := make([]Tombstone, len(tombs))
		for i, t := range tombs {
			ts[i] = Tombstone(t)
		}
		return out, ts, nil
	}}, nil
}

// logDamage describes log rows whose key is not the SHA-256 of their bytes
// (both stores key a delta by its hash on the way in); "" for none.
func logDamage(bad, rows int) string {
	if bad == 0 {
		return ""
	}
	return fmt.Sprintf("%v: %d of %d log rows do not match their SHA-256 key", storage.ErrCorrupt, bad, rows)
}

// errNoSource: a tool given neither a data directory nor a URL.
var errNoSource = errors.New("flowsync: no store: give --data-dir or --postgres-url")
