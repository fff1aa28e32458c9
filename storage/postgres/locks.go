package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/storage"
)

var _ storage.LockStore = (*Store)(nil)

const (
	// The WHERE clause is storage.WorkflowLock.Newer, so concurrent writers
	// converge without a read-modify-write.
	setLockSQL = `INSERT INTO flowsync_locks (workflow_id, locked, at_ms) VALUES ($1, $2, $3)
ON CONFLICT (workflow_id) DO UPDATE SET locked = EXCLUDED.locked, at_ms = EXCLUDED.at_ms
WHERE EXCLUDED.at_ms > flowsync_locks.at_ms
   OR (EXCLUDED.at_ms = flowsync_locks.at_ms AND EXCLUDED.locked AND NOT flowsync_locks.locked)`
	getLockSQL = `SELECT locked, at_ms FROM flowsync_locks WHERE workflow_id = $1`
)

// SetLock implements storage.LockStore.
func (s *Store) SetLock(ctx context.Context, workflowID string, l storage.WorkflowLock) (bool, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return false, err
	}
	var applied bool
	err := s.retry(ctx, "set lock", func(ctx context.Context) error {
		tag, err := s.pool.Exec(ctx, setLockSQL, workflowID, l.Locked, l.AtMs)
		applied = err == nil && tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("postgres: set lock: %w", err)
	}
	if applied {
		s.stats.Transactions.Add(1)
		s.stats.Statements.Add(1)
	}
	return applied, nil
}

// GetLock implements storage.LockStore.
func (s *Store) GetLock(ctx context.Context, workflowID string) (storage.WorkflowLock, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return storage.WorkflowLock{}, err
	}
	var l storage.WorkflowLock
	err := s.retry(ctx, "get lock", func(ctx context.Context) error {
		err := s.pool.QueryRow(ctx, getLockSQL, workflowID).Scan(&l.Locked, &l.AtMs)
		if errors.Is(err, pgx.ErrNoRows) {
			l = storage.WorkflowLock{}
			return nil
		}
		return err
	})
	if err != nil {
		return storage.WorkflowLock{}, fmt.Errorf("postgres: get lock: %w", err)
	}
	return l, nil
}
