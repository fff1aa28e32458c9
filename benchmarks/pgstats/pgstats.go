// Package pgstats reads what Postgres wrote during a benchmark run: the
// database's commits and row writes (pg_stat_database) and the WAL bytes
// (pg_stat_wal, Postgres ≥ 14), before and after, so that the harness can
// report writes per 1,000 operations for flowsync and the baseline side by
// side (the goal: at least 50× fewer Postgres writes than the baseline).
//
// Postgres backends publish their counters when a transaction ends, at most
// once a second, and an idle backend may hold them for up to 10 s
// (PGSTAT_IDLE_INTERVAL); a backend that exits publishes at once. Read the
// "after" snapshot once the server under test has closed its connections
// (the harness stops the child server first), or wait Settle otherwise.
package pgstats

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/benchmarks/loadgen"
)

// Settle is how long to wait before the "after" snapshot when the server's
// connections stay open: the longest a backend holds its counters.
const Settle = 11 * time.Second

// Snapshot is the counters at one moment.
type Snapshot struct {
	Database    string
	XactCommit  int64
	TupInserted int64
	TupUpdated  int64
	TupDeleted  int64
	WALBytes    int64
	HasWAL      bool
	Backends    int64 // connections to the database, this one included
}

// Read takes a snapshot of the database url names.
func Read(ctx context.Context, url string) (Snapshot, error) {
	var s Snapshot
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return s, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = conn.QueryRow(ctx, `SELECT current_database(), xact_commit, tup_inserted, tup_updated, tup_deleted, numbackends
		FROM pg_stat_database WHERE datname = current_database()`).
		Scan(&s.Database, &s.XactCommit, &s.TupInserted, &s.TupUpdated, &s.TupDeleted, &s.Backends)
	if err != nil {
		return s, fmt.Errorf("pgstats: pg_stat_database: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT wal_bytes::bigint FROM pg_stat_wal`).Scan(&s.WALBytes); err == nil {
		s.HasWAL = true
	}
	return s, nil
}

// Diff is what was written between a and b, per operation when ops > 0.
func Diff(a, b Snapshot, ops int64) *loadgen.PGWrites {
	w := &loadgen.PGWrites{
		Database:     b.Database,
		Transactions: b.XactCommit - a.XactCommit - 1, // the "after" Read's own transaction
		RowsInserted: b.TupInserted - a.TupInserted,
		RowsUpdated:  b.TupUpdated - a.TupUpdated,
		RowsDeleted:  b.TupDeleted - a.TupDeleted,
		Ops:          ops,
	}
	if a.HasWAL && b.HasWAL {
		w.WALBytes = b.WALBytes - a.WALBytes
	}
	if ops > 0 {
		w.TxPer1kOps = float64(w.Transactions) * 1000 / float64(ops)
		w.RowsPer1kOps = float64(w.RowsInserted+w.RowsUpdated+w.RowsDeleted) * 1000 / float64(ops)
		w.WALBytesPerOp = float64(w.WALBytes) / float64(ops)
		w.WritesPer1kOps = w.TxPer1kOps
	}
	var notes []string
	if b.Backends > 1 || a.Backends > 1 {
		notes = append(notes, fmt.Sprintf("other connections to %s when read: %d before, %d after (their writes are counted too)", b.Database, a.Backends-1, b.Backends-1))
	}
	if w.WALBytes > 0 {
		notes = append(notes, "WAL bytes are cluster-wide")
	}
	w.OtherActivity = strings.Join(notes, "; ")
	return w
}

// EnsureDatabase creates the database url names, if missing, by connecting
// to the "postgres" database of the same server. The harness uses a
// database of its own so that other work on the server (tests in "test")
// does not count in pg_stat_database.
func EnsureDatabase(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return errors.New("pgstats: the URL names no database")
	}
	conn, err := pgx.Connect(ctx, rawURL)
	if err == nil {
		conn.Close(ctx)
		return nil
	}
	admin := *u
	admin.Path = "/postgres"
	ac, aerr := pgx.Connect(ctx, admin.String())
	if aerr != nil {
		return fmt.Errorf("pgstats: %w (and the postgres database: %v)", err, aerr)
	}
	defer ac.Close(ctx)
	var exists bool
	if err := ac.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return err
	}
	_, cerr := ac.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return cerr
}
