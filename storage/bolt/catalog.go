package bolt

import (
	"context"

	bbolt "go.etcd.io/bbolt"

	"github.com/flowsync/flowsync/storage"
)

var _ storage.Catalog = (*Store)(nil)

// Create implements storage.Catalog: a workflow exists when its bucket
// does (Append and Snapshot create it too), so Create creates the empty
// bucket. No layout change: files written before Create existed read the
// same.
func (s *Store) Create(ctx context.Context, workflowID string) error {
	if err := s.begin(ctx, workflowID); err != nil {
		return err
	}
	var created bool
	var txID int
	err := s.db.Update(func(tx *bbolt.Tx) error {
		txID = tx.ID()
		id := []byte(workflowID)
		if tx.Bucket(bucketDeleted).Get(id) != nil {
			return deletedErr(workflowID)
		}
		wfs := tx.Bucket(bucketWorkflows)
		if wfs.Bucket(id) != nil {
			return nil
		}
		created = true
		_, err := wfs.CreateBucket(id)
		return err
	})
	if err != nil {
		return mapErr(err)
	}
	if created {
		s.countTx(txID)
	}
	return nil
}

// Exists implements storage.Catalog.
func (s *Store) Exists(ctx context.Context, workflowID string) (bool, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return false, err
	}
	var exists bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		id := []byte(workflowID)
		exists = tx.Bucket(bucketDeleted).Get(id) == nil && tx.Bucket(bucketWorkflows).Bucket(id) != nil
		return nil
	})
	return exists, mapErr(err)
}
