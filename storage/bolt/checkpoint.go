package bolt

import (
	"context"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/internal/storecodec"
)

var _ storage.CheckpointStore = (*Store)(nil)

// bucketCheckpoints holds one bucket per checkpointed workflow, keyed by
// checkpoint id (uint64 big-endian, from the bucket's sequence, so ids
// grow and a cursor walks them oldest first); each value is a
// storecodec checkpoint record.
var bucketCheckpoints = []byte("checkpoints")

// SaveCheckpoint implements storage.CheckpointStore: the record's put and
// the retention's deletes are one bbolt transaction, committed with
// fsync, so a crash leaves the set before or after it.
func (s *Store) SaveCheckpoint(ctx context.Context, workflowID string, cp storage.NewCheckpoint, keep storage.Retention) (storage.CheckpointMeta, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return storage.CheckpointMeta{}, err
	}
	if err := storage.CheckCheckpoint(cp); err != nil {
		return storage.CheckpointMeta{}, err
	}
	// Encoded and compressed before the write transaction: bbolt has one
	// writer, and Appends of every room wait behind it.
	record, frameLen := storecodec.EncodeCheckpoint(cp)
	meta := storage.CheckpointMeta{AtMs: cp.AtMs, Name: cp.Name, Authors: append([]string{}, cp.Authors...), Summary: cp.Summary, Bytes: frameLen}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		id := []byte(workflowID)
		if tx.Bucket(bucketDeleted).Get(id) != nil {
			return deletedErr(workflowID)
		}
		all, err := tx.CreateBucketIfNotExists(bucketCheckpoints)
		if err != nil {
			return err
		}
		b, err := all.CreateBucketIfNotExists(id)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		meta.ID = int64(seq)
		if err := b.Put(u64(seq), record); err != nil {
			return err
		}
		metas, err := listBucket(b)
		if err != nil {
			return err
		}
		for _, drop := range keep.Drop(metas, cp.AtMs) {
			if err := b.Delete(u64(uint64(drop))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return storage.CheckpointMeta{}, mapErr(err)
	}
	s.stats.Transactions.Add(1)
	s.stats.BytesWritten.Add(int64(len(record)))
	return meta, nil
}

// listBucket reads the metadata of every checkpoint in b, oldest first.
func listBucket(b *bbolt.Bucket) ([]storage.CheckpointMeta, error) {
	var out []storage.CheckpointMeta
	err := b.ForEach(func(k, v []byte) error {
		m, _, err := storecodec.SplitCheckpoint(v)
		if err != nil {
			return fmt.Errorf("checkpoint %d: %w", getU64(k), err)
		}
		m.ID = int64(getU64(k))
		out = append(out, m)
		return nil
	})
	return out, err
}

// checkpointBucket returns the workflow's checkpoint bucket, nil when it
// has none (or the file predates checkpoints and is open read-only).
func checkpointBucket(tx *bbolt.Tx, workflowID string) *bbolt.Bucket {
	all := tx.Bucket(bucketCheckpoints)
	if all == nil {
		return nil
	}
	return all.Bucket([]byte(workflowID))
}

// ListCheckpoints implements storage.CheckpointStore.
func (s *Store) ListCheckpoints(ctx context.Context, workflowID string) ([]storage.CheckpointMeta, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return nil, err
	}
	out := []storage.CheckpointMeta{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := checkpointBucket(tx, workflowID)
		if b == nil {
			return nil
		}
		metas, err := listBucket(b)
		if metas != nil {
			out = metas
		}
		return err
	})
	return out, mapErr(err)
}

// LoadCheckpoint implements storage.CheckpointStore. The frame is copied
// out of the read transaction and decoded after it.
func (s *Store) LoadCheckpoint(ctx context.Context, workflowID string, id int64) (storage.CheckpointMeta, *workflow.Doc, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return storage.CheckpointMeta{}, nil, err
	}
	var meta storage.CheckpointMeta
	var frame []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		var v []byte
		if b := checkpointBucket(tx, workflowID); b != nil && id > 0 {
			v = b.Get(u64(uint64(id)))
		}
		if v == nil {
			return fmt.Errorf("%w: %d of %q", storage.ErrNoCheckpoint, id, workflowID)
		}
		m, f, err := storecodec.SplitCheckpoint(v)
		if err != nil {
			return err
		}
		meta, frame = m, append([]byte(nil), f...)
		meta.ID = id
		return nil
	})
	if err != nil {
		return storage.CheckpointMeta{}, nil, mapErr(err)
	}
	doc, err := storecodec.DecodeSnapshot(frame)
	if err != nil {
		return storage.CheckpointMeta{}, nil, fmt.Errorf("checkpoint %d of %q: %w", id, workflowID, err)
	}
	return meta, doc, nil
}

// deleteCheckpoints drops the workflow's checkpoints (in Delete's
// transaction).
func deleteCheckpoints(tx *bbolt.Tx, id []byte) error {
	all := tx.Bucket(bucketCheckpoints)
	if all == nil || all.Bucket(id) == nil {
		return nil
	}
	return all.DeleteBucket(id)
}
