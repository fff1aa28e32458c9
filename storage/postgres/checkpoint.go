package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/internal/storecodec"
)

var _ storage.CheckpointStore = (*Store)(nil)

const (
	insertCheckpointSQL = `INSERT INTO flowsync_checkpoints (workflow_id, at_ms, name, meta, state)
VALUES ($1, $2, $3, $4::jsonb, $5) RETURNING id`
	listCheckpointsSQL = `SELECT id, meta::text, octet_length(state) FROM flowsync_checkpoints
WHERE workflow_id = $1 ORDER BY id`
	loadCheckpointSQL   = `SELECT meta::text, state FROM flowsync_checkpoints WHERE workflow_id = $1 AND id = $2`
	dropCheckpointsSQL  = `DELETE FROM flowsync_checkpoints WHERE workflow_id = $1 AND id = ANY($2::int8[])`
	deleteCheckpointSQL = `DELETE FROM flowsync_checkpoints WHERE workflow_id = $1`
)

// SaveCheckpoint implements storage.CheckpointStore. The insert and the
// retention's delete are one transaction, under the workflow's shared
// advisory lock (as Appends: a Delete cannot interleave and leave a
// checkpoint behind its tombstone). A retry after a lost COMMIT may store
// the checkpoint twice: two identical entries, never a lost one.
func (s *Store) SaveCheckpoint(ctx context.Context, workflowID string, cp storage.NewCheckpoint, keep storage.Retention) (storage.CheckpointMeta, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return storage.CheckpointMeta{}, err
	}
	if err := storage.CheckCheckpoint(cp); err != nil {
		return storage.CheckpointMeta{}, err
	}
	frame := storecodec.EncodeSnapshot(cp.Doc)
	metaJSON := string(storecodec.EncodeCheckpointMeta(cp))
	meta := storage.CheckpointMeta{AtMs: cp.AtMs, Name: cp.Name, Authors: append([]string{}, cp.Authors...), Summary: cp.Summary, Bytes: len(frame)}
	statements := 0
	err := s.retry(ctx, "save checkpoint", func(ctx context.Context) error {
		tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
		if _, err := tx.Exec(ctx, lockSharedSQL, workflowLockClass, workflowID); err != nil {
			return err
		}
		var deleted bool
		if err := tx.QueryRow(ctx, isDeletedSQL, workflowID).Scan(&deleted); err != nil {
			return err
		}
		if deleted {
			return deletedErr(workflowID)
		}
		if err := tx.QueryRow(ctx, insertCheckpointSQL, workflowID, cp.AtMs, cp.Name, metaJSON, frame).Scan(&meta.ID); err != nil {
			return err
		}
		metas, err := listCheckpoints(ctx, tx, workflowID)
		if err != nil {
			return err
		}
		statements = 4
		if drop := keep.Drop(metas, cp.AtMs); len(drop) > 0 {
			if _, err := tx.Exec(ctx, dropCheckpointsSQL, workflowID, drop); err != nil {
				return err
			}
			statements++
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return storage.CheckpointMeta{}, fmt.Errorf("postgres: save checkpoint: %w", err)
	}
	s.stats.Transactions.Add(1)
	s.stats.Statements.Add(int64(statements))
	s.stats.BytesWritten.Add(int64(len(frame) + len(metaJSON)))
	return meta, nil
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func listCheckpoints(ctx context.Context, q querier, workflowID string) ([]storage.CheckpointMeta, error) {
	rows, err := q.Query(ctx, listCheckpointsSQL, workflowID)
	if err != nil {
		return nil, err
	}
	out := []storage.CheckpointMeta{}
	for rows.Next() {
		var m storage.CheckpointMeta
		var meta string
		if err := rows.Scan(&m.ID, &meta, &m.Bytes); err != nil {
			rows.Close()
			return nil, err
		}
		if err := storecodec.DecodeCheckpointMeta([]byte(meta), &m); err != nil {
			rows.Close()
			return nil, fmt.Errorf("checkpoint %d: %w", m.ID, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ListCheckpoints implements storage.CheckpointStore.
func (s *Store) ListCheckpoints(ctx context.Context, workflowID string) ([]storage.CheckpointMeta, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return nil, err
	}
	var out []storage.CheckpointMeta
	err := s.retry(ctx, "list checkpoints", func(ctx context.Context) error {
		var err error
		out, err = listCheckpoints(ctx, s.pool, workflowID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list checkpoints: %w", err)
	}
	return out, nil
}

// LoadCheckpoint implements storage.CheckpointStore.
func (s *Store) LoadCheckpoint(ctx context.Context, workflowID string, id int64) (storage.CheckpointMeta, *workflow.Doc, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return storage.CheckpointMeta{}, nil, err
	}
	var meta string
	var frame []byte
	err := s.retry(ctx, "load checkpoint", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, loadCheckpointSQL, workflowID, id).Scan(&meta, &frame)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.CheckpointMeta{}, nil, fmt.Errorf("%w: %d of %q", storage.ErrNoCheckpoint, id, workflowID)
	}
	if err != nil {
		return storage.CheckpointMeta{}, nil, fmt.Errorf("postgres: load checkpoint: %w", err)
	}
	m := storage.CheckpointMeta{ID: id, Bytes: len(frame)}
	if err := storecodec.DecodeCheckpointMeta([]byte(meta), &m); err != nil {
		return storage.CheckpointMeta{}, nil, fmt.Errorf("checkpoint %d of %q: %w", id, workflowID, err)
	}
	doc, err := storecodec.DecodeSnapshot(frame)
	if err != nil {
		return storage.CheckpointMeta{}, nil, fmt.Errorf("checkpoint %d of %q: %w", id, workflowID, err)
	}
	return m, doc, nil
}
