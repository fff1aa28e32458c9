package postgres

import (
	"context"
	"fmt"

	"github.com/flowsync/flowsync/storage"
)

const (
	insertFirstKeySQL = `INSERT INTO flowsync_receipt_keys (key_id, secret) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING`
	selectKeysSQL     = `SELECT key_id, secret FROM flowsync_receipt_keys ORDER BY created_at DESC, key_id DESC`
)

var (
	_ storage.KeyStore        = (*Store)(nil)
	_ storage.TombstoneReader = (*Store)(nil)
)

// ReceiptKeys implements storage.KeyStore. Nodes starting at once each try
// to insert the first key; the primary key lets one win and all read it.
func (s *Store) ReceiptKeys(ctx context.Context, newKey func() ([]byte, error)) ([]storage.SecretKey, error) {
	if s.closed.Load() {
		return nil, storage.ErrClosed
	}
	var keys []storage.SecretKey
	load := func(ctx context.Context) error {
		keys = keys[:0]
		rows, err := s.pool.Query(ctx, selectKeysSQL)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k storage.SecretKey
			if err := rows.Scan(&k.ID, &k.Secret); err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return rows.Err()
	}
	err := s.retry(ctx, "receipt-keys", func(ctx context.Context) error {
		if err := load(ctx); err != nil || len(keys) > 0 {
			return err
		}
		secret, err := newKey()
		if err != nil {
			return err
		}
		if _, err := s.pool.Exec(ctx, insertFirstKeySQL, storage.FirstKeyID, secret); err != nil {
			return err
		}
		return load(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: receipt keys: %w", err)
	}
	return keys, nil
}

// IsDeleted implements storage.TombstoneReader.
func (s *Store) IsDeleted(ctx context.Context, workflowID string) (bool, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return false, err
	}
	var deleted bool
	err := s.retry(ctx, "is-deleted", func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, isDeletedSQL, workflowID).Scan(&deleted)
	})
	if err != nil {
		return false, fmt.Errorf("postgres: is deleted: %w", err)
	}
	return deleted, nil
}
