package bolt

import (
	"context"

	"go.etcd.io/bbolt"

	"github.com/flowsync/flowsync/storage"
)

// bucketKeys holds the receipt keys: key id → secret, and keyCurrent in
// bucketMeta names the current one.
var (
	bucketKeys = []byte("receipt-keys")
	keyCurrent = []byte("receipt-key-current")
)

var (
	_ storage.KeyStore        = (*Store)(nil)
	_ storage.TombstoneReader = (*Store)(nil)
)

// ReceiptKeys implements storage.KeyStore.
func (s *Store) ReceiptKeys(ctx context.Context, newKey func() ([]byte, error)) ([]storage.SecretKey, error) {
	if s.closed.Load() {
		return nil, storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var keys []storage.SecretKey
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketKeys)
		if err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		current := meta.Get(keyCurrent)
		if current == nil {
			secret, err := newKey()
			if err != nil {
				return err
			}
			current = []byte(storage.FirstKeyID)
			if err := b.Put(current, secret); err != nil {
				return err
			}
			if err := meta.Put(keyCurrent, current); err != nil {
				return err
			}
		}
		keys = append(keys, storage.SecretKey{ID: string(current), Secret: append([]byte(nil), b.Get(current)...)})
		return b.ForEach(func(k, v []byte) error {
			if string(k) != string(current) {
				keys = append(keys, storage.SecretKey{ID: string(k), Secret: append([]byte(nil), v...)})
			}
			return nil
		})
	})
	if err != nil {
		return nil, mapErr(err)
	}
	return keys, nil
}

// IsDeleted implements storage.TombstoneReader.
func (s *Store) IsDeleted(ctx context.Context, workflowID string) (bool, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return false, err
	}
	var deleted bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		deleted = tx.Bucket(bucketDeleted).Get([]byte(workflowID)) != nil
		return nil
	})
	return deleted, mapErr(err)
}
