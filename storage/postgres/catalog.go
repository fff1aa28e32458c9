package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/storage"
)

var _ storage.Catalog = (*Store)(nil)

const (
	insertWorkflowSQL = `INSERT INTO flowsync_workflows (workflow_id) VALUES ($1) ON CONFLICT (workflow_id) DO NOTHING`
	existsSQL         = `SELECT NOT EXISTS (SELECT 1 FROM flowsync_deleted WHERE workflow_id = $1)
AND (EXISTS (SELECT 1 FROM flowsync_workflows WHERE workflow_id = $1)
  OR EXISTS (SELECT 1 FROM flowsync_snapshot WHERE workflow_id = $1)
  OR EXISTS (SELECT 1 FROM flowsync_log WHERE workflow_id = $1))`
)

// Create implements storage.Catalog: one transaction under the workflow's
// exclusive lock (as Delete), so a Create racing a Delete either comes
// first or sees the tombstone.
func (s *Store) Create(ctx context.Context, workflowID string) error {
	if err := s.begin(ctx, workflowID); err != nil {
		return err
	}
	var deleted bool
	err := s.retry(ctx, "create", func(ctx context.Context) error {
		b := &pgx.Batch{}
		b.BeginTx(pgx.TxOptions{})
		b.Queue(lockExclusiveSQL, workflowLockClass, workflowID)
		b.Queue(isDeletedSQL, workflowID).QueryRow(func(r pgx.Row) error { return r.Scan(&deleted) })
		b.Queue(insertWorkflowSQL, workflowID)
		return s.commit(ctx, b, func() (bool, error) { return !deleted, nil })
	})
	if err != nil {
		return fmt.Errorf("postgres: create: %w", err)
	}
	if deleted {
		return deletedErr(workflowID)
	}
	s.stats.Transactions.Add(1)
	s.stats.Statements.Add(3)
	return nil
}

// Exists implements storage.Catalog.
func (s *Store) Exists(ctx context.Context, workflowID string) (bool, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return false, err
	}
	var exists bool
	err := s.retry(ctx, "exists", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, existsSQL, workflowID).Scan(&exists)
	})
	if err != nil {
		return false, fmt.Errorf("postgres: exists: %w", err)
	}
	return exists, nil
}
