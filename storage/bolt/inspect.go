package bolt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/flowsync/flowsync/storage"
)

// checkLayout returns an error unless tx reads a flowsync store of this
// build's layout (for a read-only open, which cannot initialise one).
func checkLayout(tx *bbolt.Tx, path string) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil || tx.Bucket(bucketWorkflows) == nil || tx.Bucket(bucketDeleted) == nil {
		return fmt.Errorf("bolt: %s is not a flowsync store", path)
	}
	if v := meta.Get(keyFormat); len(v) != 8 || binary.BigEndian.Uint64(v) != layoutVersion {
		return fmt.Errorf("bolt: %s has layout %x, this build reads %d", path, v, layoutVersion)
	}
	return nil
}

// WorkflowInfo is what the file holds for one workflow, without decoding
// it: for operators' listings.
type WorkflowInfo struct {
	ID              string
	SnapshotBytes   int    // the stored snapshot frame; 0 without a snapshot
	SnapshotVersion uint64 // 0 without a snapshot
	LogRows         int    // deltas stored since the snapshot
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

// Workflows lists the workflows the file holds (created ones without
// content included), sorted by id, and the tombstones of deleted ones, in
// one read transaction.
func (s *Store) Workflows(ctx context.Context) ([]WorkflowInfo, []Tombstone, error) {
	if s.closed.Load() {
		return nil, nil, storage.ErrClosed
	}
	var infos []WorkflowInfo
	var tombs []Tombstone
	err := s.db.View(func(tx *bbolt.Tx) error {
		err := tx.Bucket(bucketWorkflows).ForEachBucket(func(k []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			wf := tx.Bucket(bucketWorkflows).Bucket(k)
			info := WorkflowInfo{ID: string(k)}
			if v := wf.Get(keySnapshot); v != nil {
				info.SnapshotBytes = len(v)
				info.SnapshotVersion = getU64(wf.Get(keyVersion))
			}
			if lb := wf.Bucket(bucketLog); lb != nil {
				_ = lb.ForEach(func(k, v []byte) error {
					info.LogRows++
					info.LogBytes += len(v)
					if h := sha256.Sum256(v); !bytes.Equal(k, h[:]) {
						info.BadLogRows++
					}
					return nil
				})
			}
			infos = append(infos, info)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketDeleted).ForEach(func(k, v []byte) error {
			tombs = append(tombs, Tombstone{ID: string(k), DeletedAt: time.Unix(0, int64(getU64(v))).UTC()})
			return nil
		})
	})
	if err != nil {
		return nil, nil, mapErr(err)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].ID < infos[j].ID })
	sort.Slice(tombs, func(i, j int) bool { return tombs[i].ID < tombs[j].ID })
	return infos, tombs, nil
}
