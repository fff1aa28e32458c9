package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flowsync/flowsync/storage"
)

// Operators' listings (`flowsync inspect`). They run while servers write:
// one REPEATABLE READ READ ONLY transaction of plain SELECTs takes only
// ACCESS SHARE table locks, which conflict with nothing but DDL, and no
// row or advisory lock, so no Append, Snapshot or Delete waits for it.

const (
	// workflowsSQL lists every workflow that exists (created, snapshotted
	// or logged, and not deleted) with the sizes of its rows. A log row
	// whose key is not the SHA-256 of its delta was damaged after it was
	// written (the key is computed from the bytes on the way in).
	workflowsSQL = `WITH ids AS (
  SELECT workflow_id FROM flowsync_workflows
  UNION SELECT workflow_id FROM flowsync_snapshot
  UNION SELECT workflow_id FROM flowsync_log
), logs AS (
  SELECT workflow_id, count(*) AS n, sum(octet_length(delta)) AS bytes,
         count(*) FILTER (WHERE sha256(delta) <> delta_hash) AS bad
  FROM flowsync_log GROUP BY workflow_id
)
SELECT i.workflow_id, coalesce(octet_length(s.state), 0), coalesce(s.version, 0),
       coalesce(l.n, 0), coalesce(l.bytes, 0)::int8, coalesce(l.bad, 0)
FROM ids i
LEFT JOIN flowsync_snapshot s ON s.workflow_id = i.workflow_id
LEFT JOIN logs l ON l.workflow_id = i.workflow_id
WHERE NOT EXISTS (SELECT 1 FROM flowsync_deleted d WHERE d.workflow_id = i.workflow_id)
ORDER BY i.workflow_id COLLATE "C"`

	tombstonesSQL = `SELECT workflow_id, deleted_at FROM flowsync_deleted ORDER BY workflow_id COLLATE "C"`
)

// WorkflowInfo is what the database holds for one workflow, without
// decoding it: for operators' listings.
type WorkflowInfo struct {
	ID              string
	SnapshotBytes   int   // the stored snapshot frame; 0 without a snapshot
	SnapshotVersion int64 // 0 without a snapshot
	LogRows         int   // log rows not yet folded into the snapshot
	LogBytes        int
	// BadLogRows counts log rows whose key is not the SHA-256 of their
	// bytes: damaged at rest.
	BadLogRows int
}

// Bytes is the workflow's stored size: snapshot and log rows.
func (w WorkflowInfo) Bytes() int { return w.SnapshotBytes + w.LogBytes }

// Tombstone is a deleted workflow and when it was deleted.
type Tombstone struct {
	ID        string    `json:"workflowId"`
	DeletedAt time.Time `json:"deletedAt"`
}

// Workflows lists the workflows the database holds (created ones without
// content included), sorted by id bytes, and the tombstones of deleted
// ones, from one MVCC snapshot. It never blocks writers (see above).
func (s *Store) Workflows(ctx context.Context) ([]WorkflowInfo, []Tombstone, error) {
	if s.closed.Load() {
		return nil, nil, storage.ErrClosed
	}
	var (
		infos []WorkflowInfo
		tombs []Tombstone
	)
	err := s.retry(ctx, "workflows", func(ctx context.Context) error {
		infos, tombs = nil, nil
		return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, workflowsSQL)
			if err != nil {
				return err
			}
			infos, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (WorkflowInfo, error) {
				var w WorkflowInfo
				var snap, n, logBytes, bad int64
				err := r.Scan(&w.ID, &snap, &w.SnapshotVersion, &n, &logBytes, &bad)
				w.SnapshotBytes, w.LogRows, w.LogBytes, w.BadLogRows = int(snap), int(n), int(logBytes), int(bad)
				return w, err
			})
			if err != nil {
				return err
			}
			rows, err = tx.Query(ctx, tombstonesSQL)
			if err != nil {
				return err
			}
			tombs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tombstone, error) {
				var t Tombstone
				err := r.Scan(&t.ID, &t.DeletedAt)
				t.DeletedAt = t.DeletedAt.UTC()
				return t, err
			})
			return err
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: workflows: %w", err)
	}
	return infos, tombs, nil
}

// ErrSchema is returned by a ReadOnly Open when the database does not hold
// the tables of this build's layout (none at all, or older or newer
// migrations); a read-only client cannot migrate it.
var ErrSchema = errors.New("postgres: the database does not hold this build's flowsync tables")

// checkSchema is a ReadOnly Open's stand-in for migrate: it reports
// ErrSchema unless exactly the embedded migrations were applied.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	all, err := migrations()
	if err != nil {
		return err
	}
	rows, err := pool.Query(ctx, `SELECT version FROM flowsync_schema_migrations ORDER BY version`)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
			return fmt.Errorf("%w: no flowsync tables (a server, or an import, creates them)", ErrSchema)
		}
		return err
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
			return fmt.Errorf("%w: no flowsync tables (a server, or an import, creates them)", ErrSchema)
		}
		return err
	}
	have := make(map[int]bool, len(done))
	for _, v := range done {
		have[int(v)] = true
	}
	for _, m := range all {
		if !have[m.version] {
			return fmt.Errorf("%w: migration %s is not applied (start a server of this build once, which applies it)", ErrSchema, m.name)
		}
		delete(have, m.version)
	}
	for v := range have {
		return fmt.Errorf("%w: the database has migration %d, which this build does not know (use the build the servers run)", ErrSchema, v)
	}
	return nil
}
