package bolt

import (
	"context"
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/flowsync/flowsync/storage"
)

var _ storage.LockStore = (*Store)(nil)

var bucketLocks = []byte("locks")

func encodeLock(l storage.WorkflowLock) []byte {
	b := make([]byte, 9)
	if l.Locked {
		b[0] = 1
	}
	binary.BigEndian.PutUint64(b[1:], uint64(l.AtMs))
	return b
}

func decodeLock(b []byte) (storage.WorkflowLock, error) {
	if len(b) != 9 || b[0] > 1 {
		return storage.WorkflowLock{}, fmt.Errorf("%w: lock record of %d bytes", storage.ErrCorrupt, len(b))
	}
	return storage.WorkflowLock{Locked: b[0] == 1, AtMs: int64(binary.BigEndian.Uint64(b[1:]))}, nil
}

// SetLock implements storage.LockStore.
func (s *Store) SetLock(ctx context.Context, workflowID string, l storage.WorkflowLock) (bool, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return false, err
	}
	var applied bool
	var txID int
	err := s.db.Update(func(tx *bbolt.Tx) error {
		txID = tx.ID()
		b := tx.Bucket(bucketLocks)
		old := storage.WorkflowLock{}
		if v := b.Get([]byte(workflowID)); v != nil {
			var err error
			if old, err = decodeLock(v); err != nil {
				return err
			}
		}
		if !l.Newer(old) {
			return nil
		}
		applied = true
		return b.Put([]byte(workflowID), encodeLock(l))
	})
	if err != nil {
		return false, mapErr(err)
	}
	if applied {
		s.countTx(txID)
	}
	return applied, nil
}

// GetLock implements storage.LockStore. A file written before locks
// existed, opened read-only, has no locks bucket: nothing is locked.
func (s *Store) GetLock(ctx context.Context, workflowID string) (storage.WorkflowLock, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return storage.WorkflowLock{}, err
	}
	var l storage.WorkflowLock
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLocks)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(workflowID))
		if v == nil {
			return nil
		}
		var err error
		l, err = decodeLock(v)
		return err
	})
	return l, mapErr(err)
}
