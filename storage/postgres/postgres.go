// Package postgres is the production storage.Store: a delta log and a
// snapshot per workflow in Postgres, through a pgx v5 pool.
//
// Writes:
//   - Appends are group-committed across workflows (group.go): one
//     committer goroutine writes every batch queued, whatever its
//     workflow, with one INSERT ... SELECT FROM unnest(...) ON CONFLICT DO
//     NOTHING, in one transaction sent as one pipelined batch plus COMMIT
//     (two round trips), whatever the batch size. A room appends one
//     row per write (the join of its operations' deltas, storage.Merged;
//     the row's ops column counts them). Log rows are keyed by
//     (workflow_id, sha-256 of the delta), so a retried write is not
//     stored twice. No row is locked: the transaction takes a
//     shared transaction-level advisory lock on the workflow id, which
//     appenders never wait on among themselves; only Delete takes it
//     exclusively, so a Delete and an Append cannot interleave and leave
//     log rows behind a tombstone.
//   - Snapshot is optimistic: read snapshot+log in one statement, join
//     outside any transaction, then UPDATE ... WHERE version = $read (or
//     INSERT ... ON CONFLICT DO NOTHING for the first) and delete exactly
//     the log rows joined; zero rows updated means another node wrote
//     first, and the store reads, joins and tries again.
//   - Snapshots trimming rows make the log a queue; the store vacuums it
//     after every vacuumAfter trimmed rows (vacuum.go).
//   - Every write is idempotent, so a transient failure (connection lost,
//     57P01/57P02/57P03, class 08, serialization failure, or anything
//     pgconn.SafeToRetry accepts) is retried with exponential backoff and
//     jitter, bounded by Config.MaxAttempts and ctx. A statement_timeout is
//     not retried.
//   - Every connection runs with synchronous_commit=on, so a commit is on
//     the server's disk (and its synchronous standbys) before Append returns.
//
// Loads read the snapshot, the log and the tombstone in one statement (one
// MVCC snapshot): a concurrent Snapshot that trims the log can never make a
// Load see neither the old rows nor the new snapshot.
//
// Operators' tools open the store with Config.ReadOnly (no migration, every
// transaction read-only) and list it with Workflows (inspect.go), which
// takes no lock a writer waits for, so they run beside live nodes.
//
// Workflow ids travel only as bind parameters. Nothing here logs document
// contents; errors carry ids and hashes at most.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/internal/storecodec"
)

// workflowLockClass is the first key of the two-key advisory locks taken
// per workflow ("flow" in ASCII); the second is hashtext(workflow_id). A
// hash collision only makes an unrelated Delete wait for an Append.
const workflowLockClass int32 = 0x666c6f77

const (
	// readSQL returns the tombstone (kind 0), the snapshot (kind 1) and the
	// log rows (kind 2) of a workflow from one MVCC snapshot.
	readSQL = `SELECT 0::int2, NULL::bytea, NULL::bytea, 0::int8 FROM flowsync_deleted WHERE workflow_id = $1
UNION ALL SELECT 1::int2, state, NULL::bytea, version FROM flowsync_snapshot WHERE workflow_id = $1
UNION ALL SELECT 2::int2, delta, delta_hash, 0::int8 FROM flowsync_log WHERE workflow_id = $1`
	// snapshotReadSQL is readSQL for a snapshot: the rows whose keys $2
	// holds (Snapshot's held) come as kind 3, with their key and without
	// their delta, which is neither sent nor decoded.
	snapshotReadSQL = `SELECT 0::int2, NULL::bytea, NULL::bytea, 0::int8 FROM flowsync_deleted WHERE workflow_id = $1
UNION ALL SELECT 1::int2, state, NULL::bytea, version FROM flowsync_snapshot WHERE workflow_id = $1
UNION ALL SELECT CASE WHEN held THEN 3::int2 ELSE 2::int2 END, CASE WHEN held THEN NULL ELSE delta END, delta_hash, 0::int8
FROM (SELECT delta, delta_hash, delta_hash = ANY($2::bytea[]) AS held FROM flowsync_log WHERE workflow_id = $1) l`

	lockSharedSQL    = `SELECT pg_advisory_xact_lock_shared($1::int4, hashtext($2))`
	lockExclusiveSQL = `SELECT pg_advisory_xact_lock($1::int4, hashtext($2))`
	isDeletedSQL     = `SELECT EXISTS (SELECT 1 FROM flowsync_deleted WHERE workflow_id = $1)`

	insertSnapshotSQL = `INSERT INTO flowsync_snapshot (workflow_id, version, state) VALUES ($1, 1, $2)
ON CONFLICT (workflow_id) DO NOTHING`
	updateSnapshotSQL = `UPDATE flowsync_snapshot SET version = version + 1, state = $2, updated_at = now()
WHERE workflow_id = $1 AND version = $3`
	trimLogSQL = `DELETE FROM flowsync_log WHERE workflow_id = $1 AND delta_hash = ANY($2::bytea[])`

	insertTombstoneSQL = `INSERT INTO flowsync_deleted (workflow_id) VALUES ($1) ON CONFLICT (workflow_id) DO NOTHING`
	deleteLogSQL       = `DELETE FROM flowsync_log WHERE workflow_id = $1`
	deleteSnapshotSQL  = `DELETE FROM flowsync_snapshot WHERE workflow_id = $1`
)

// Store is the Postgres storage.Store. Create it with Open.
type Store struct {
	// Static after Open.
	cfg  Config
	pool *pgxpool.Pool
	log  *slog.Logger

	closed atomic.Bool
	stats  storecodec.Counters
	group  *committer     // writes the appends of every workflow (group.go)
	vacuum vacuumer       // vacuum.go
	bgMu   sync.Mutex     // orders a vacuum's start with Close
	bg     sync.WaitGroup // background vacuums; Close waits for them
}

var (
	_ storage.Store         = (*Store)(nil)
	_ storage.StatsReporter = (*Store)(nil)
)

// Open connects, applies the embedded migrations (safe from several nodes
// at once) and returns the store. It retries transient connection errors
// like every operation; ctx bounds it.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, errors.New("postgres: URL does not parse") // validated above
	}
	pc.MaxConns = cfg.MaxConns
	pc.HealthCheckPeriod = cfg.HealthCheckPeriod
	pc.MaxConnLifetime = cfg.MaxConnLifetime
	pc.MaxConnLifetimeJitter = cfg.MaxConnLifetime / 10
	pc.MaxConnIdleTime = cfg.MaxConnIdleTime
	pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	rp := pc.ConnConfig.RuntimeParams
	rp["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	rp["synchronous_commit"] = "on"
	if cfg.ReadOnly {
		rp["default_transaction_read_only"] = "on"
	}
	if rp["application_name"] == "" {
		rp["application_name"] = "flowsync"
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: pool: %w", err)
	}
	s := &Store{cfg: cfg, pool: pool, log: cfg.Logger}
	var applied []string
	err = s.retry(ctx, "migrate", func(ctx context.Context) error {
		if cfg.ReadOnly {
			return checkSchema(ctx, pool)
		}
		var err error
		applied, err = migrate(ctx, pool)
		return err
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.group = newCommitter(s)
	s.log.Info("postgres store open",
		"host", pc.ConnConfig.Host, "port", pc.ConnConfig.Port, "database", pc.ConnConfig.Database,
		"max_conns", cfg.MaxConns, "connect_timeout", cfg.ConnectTimeout,
		"statement_timeout", cfg.StatementTimeout, "health_check_period", cfg.HealthCheckPeriod,
		"max_conn_lifetime", cfg.MaxConnLifetime, "max_conn_idle_time", cfg.MaxConnIdleTime,
		"max_attempts", cfg.MaxAttempts, "read_only", cfg.ReadOnly, "migrations_applied", applied)
	return s, nil
}

// Stats implements storage.StatsReporter.
func (s *Store) Stats() storage.Stats { return s.stats.Stats() }

// PoolStat returns the pool's statistics (for metrics).
func (s *Store) PoolStat() *pgxpool.Stat { return s.pool.Stat() }

// Close implements storage.Store. It waits for connections in use.
func (s *Store) Close() error {
	if !s.closed.Swap(true) {
		s.group.close()
		s.bgMu.Lock()
		s.bgMu.Unlock() //nolint:staticcheck // empty critical section: no vacuum registers after it
		s.bg.Wait()
		s.pool.Close()
	}
	return nil
}

func (s *Store) begin(ctx context.Context, workflowID string) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return storage.CheckWorkflowID(workflowID)
}

func deletedErr(workflowID string) error {
	return fmt.Errorf("%w: %q", storage.ErrDeleted, workflowID)
}

// stored is the result of readSQL.
type stored struct {
	deleted bool
	version int64    // 0: no snapshot
	hashes  [][]byte // keys of the log rows joined
	doc     *workflow.Doc
}

// read runs readSQL and joins the snapshot and the log into base (nil for
// an empty document). Each row is decoded as it arrives. With held it runs
// snapshotReadSQL: the rows held names are not sent, only their keys.
func (s *Store) read(ctx context.Context, workflowID string, base *workflow.Doc, held []storage.RowKey) (*stored, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if len(held) == 0 {
		rows, err = s.pool.Query(ctx, readSQL, workflowID)
	} else {
		keys := make([][]byte, len(held))
		for i := range held {
			keys[i] = held[i][:]
		}
		rows, err = s.pool.Query(ctx, snapshotReadSQL, workflowID, keys)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	st := new(stored)
	j := storecodec.NewJoiner(base)
	var (
		kind    int16
		data    []byte
		hash    []byte
		version int64
	)
	for rows.Next() {
		if err := rows.Scan(&kind, &data, &hash, &version); err != nil {
			return nil, err
		}
		switch kind {
		case 0:
			st.deleted = true
			return st, nil
		case 1:
			st.version = version
			if err := j.Snapshot(data); err != nil {
				return nil, err
			}
		case 2:
			if err := j.Delta(data); err != nil {
				return nil, err
			}
			st.hashes = append(st.hashes, hash)
			hash = nil // Scan reuses a non-nil slice; keep this one
		case 3: // a row the snapshot's doc holds: trimmed unread
			st.hashes = append(st.hashes, hash)
			hash = nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	st.doc = j.Doc()
	return st, nil
}

// Load implements storage.Store.
func (s *Store) Load(ctx context.Context, workflowID string) (*workflow.Doc, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return nil, err
	}
	var st *stored
	err := s.retry(ctx, "load", func(ctx context.Context) error {
		var err error
		st, err = s.read(ctx, workflowID, nil, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: load: %w", err)
	}
	if st.deleted {
		return nil, deletedErr(workflowID)
	}
	return st.doc, nil
}

// Append implements storage.Store.
func (s *Store) Append(ctx context.Context, workflowID string, deltas []storage.Delta) error {
	if err := s.begin(ctx, workflowID); err != nil {
		return err
	}
	if err := storage.CheckBatch(deltas); err != nil {
		return err
	}
	if len(deltas) == 0 {
		return nil
	}
	return s.group.submit(newAppendReq(ctx, workflowID, deltas))
}

// commit sends b (which begins a transaction) and then asks decide
// whether to commit; decide runs after every queued callback. On false or
// an error the transaction is rolled back.
func (s *Store) commit(ctx context.Context, b *pgx.Batch, decide func() (bool, error)) error {
	br := s.pool.SendBatch(ctx, b)
	tx := br.Tx()
	if tx != nil {
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	}
	if err := br.Close(); err != nil {
		return err
	}
	ok, err := decide()
	if err != nil || !ok {
		return err
	}
	return tx.Commit(ctx)
}

// Snapshot implements storage.Store.
func (s *Store) Snapshot(ctx context.Context, workflowID string, doc *workflow.Doc, held ...storage.RowKey) (int64, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return 0, err
	}
	backoff := time.Millisecond
	for {
		var st *stored
		err := s.retry(ctx, "snapshot read", func(ctx context.Context) error {
			var err error
			st, err = s.read(ctx, workflowID, doc.Clone(), held)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("postgres: snapshot: %w", err)
		}
		if st.deleted {
			return 0, deletedErr(workflowID)
		}
		frame := storecodec.EncodeSnapshot(st.doc)
		st.doc = nil
		var (
			deleted          bool
			written, trimmed int64
		)
		err = s.retry(ctx, "snapshot write", func(ctx context.Context) error {
			b := &pgx.Batch{}
			b.BeginTx(pgx.TxOptions{})
			b.Queue(lockSharedSQL, workflowLockClass, workflowID)
			b.Queue(isDeletedSQL, workflowID).QueryRow(func(r pgx.Row) error { return r.Scan(&deleted) })
			setWritten := func(ct pgconn.CommandTag) error { written = ct.RowsAffected(); return nil }
			if st.version == 0 {
				b.Queue(insertSnapshotSQL, workflowID, frame).Exec(setWritten)
			} else {
				b.Queue(updateSnapshotSQL, workflowID, frame, st.version).Exec(setWritten)
			}
			b.Queue(trimLogSQL, workflowID, st.hashes).Exec(func(ct pgconn.CommandTag) error {
				trimmed = ct.RowsAffected()
				return nil
			})
			return s.commit(ctx, b, func() (bool, error) {
				return !deleted && written == 1, nil
			})
		})
		switch {
		case err != nil:
			return 0, fmt.Errorf("postgres: snapshot: %w", err)
		case deleted:
			return 0, deletedErr(workflowID)
		case written == 1:
			s.stats.Snapshots.Add(1)
			s.stats.Transactions.Add(1)
			s.stats.Statements.Add(4)
			s.stats.SnapshotBytes.Store(int64(len(frame)))
			s.stats.BytesWritten.Add(int64(len(frame)))
			s.stats.LogTrimmed.Add(trimmed)
			s.trimmedRows(trimmed)
			return st.version + 1, nil
		}
		// Another writer moved the version: read, join, retry.
		s.stats.Conflicts.Add(1)
		if err := sleep(ctx, jitter(backoff)); err != nil {
			return 0, err
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// Delete implements storage.Store: tombstone and data removal in one
// transaction, under the exclusive advisory lock of the workflow so that
// no Append or Snapshot is half-way through.
func (s *Store) Delete(ctx context.Context, workflowID string) error {
	if err := s.begin(ctx, workflowID); err != nil {
		return err
	}
	err := s.retry(ctx, "delete", func(ctx context.Context) error {
		b := &pgx.Batch{}
		b.BeginTx(pgx.TxOptions{})
		b.Queue(lockExclusiveSQL, workflowLockClass, workflowID)
		b.Queue(insertTombstoneSQL, workflowID)
		b.Queue(deleteLogSQL, workflowID)
		b.Queue(deleteSnapshotSQL, workflowID)
		b.Queue(deleteCheckpointSQL, workflowID)
		return s.commit(ctx, b, func() (bool, error) { return true, nil })
	})
	if err != nil {
		return fmt.Errorf("postgres: delete: %w", err)
	}
	s.stats.Transactions.Add(1)
	s.stats.Statements.Add(5)
	return nil
}

// retry runs fn until it succeeds, fails with an error that is not
// transient, ctx is done or cfg.MaxAttempts attempts were made, sleeping
// an exponentially growing, jittered delay between attempts. Only
// idempotent work is passed to it.
func (s *Store) retry(ctx context.Context, op string, fn func(context.Context) error) error {
	backoff := s.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || attempt >= s.cfg.MaxAttempts || ctx.Err() != nil || !transient(err) {
			return err
		}
		s.stats.Retries.Add(1)
		wait := jitter(backoff)
		s.log.Warn("postgres: transient error, retrying", "op", op, "attempt", attempt, "wait", wait, "err", err)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		backoff = min(2*backoff, s.cfg.RetryMax)
	}
}

// transient reports whether err is worth retrying for idempotent work: a
// lost connection, a serialization failure or a server shutting down may
// succeed on the next try; a constraint or syntax error never will.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, storage.ErrDeleted) || errors.Is(err, storage.ErrCorrupt) || errors.Is(err, storage.ErrClosed) {
		return false
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P01", "57P02", "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
			"40001", "40P01", // serialization_failure, deadlock_detected
			"53300": // too_many_connections
			return true
		}
		return len(pgErr.Code) == 5 && pgErr.Code[:2] == "08" // connection exception
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connErr) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.Timeout(err)
}

// jitter returns a delay in [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
