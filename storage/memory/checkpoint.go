package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/internal/storecodec"
)

var _ storage.CheckpointStore = (*Store)(nil)

// checkpoint is one stored checkpoint: its metadata and its document's
// frame, encoded as the persistent stores encode it (so sizes compare).
type checkpoint struct {
	meta  storage.CheckpointMeta
	frame []byte
}

// SaveCheckpoint implements storage.CheckpointStore.
func (s *Store) SaveCheckpoint(ctx context.Context, workflowID string, cp storage.NewCheckpoint, keep storage.Retention) (storage.CheckpointMeta, error) {
	if err := ctx.Err(); err != nil {
		return storage.CheckpointMeta{}, err
	}
	if err := storage.CheckWorkflowID(workflowID); err != nil {
		return storage.CheckpointMeta{}, err
	}
	if err := storage.CheckCheckpoint(cp); err != nil {
		return storage.CheckpointMeta{}, err
	}
	frame := storecodec.EncodeSnapshot(cp.Doc) // outside the lock: the costly part
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(workflowID); err != nil {
		return storage.CheckpointMeta{}, err
	}
	if s.checkpoints == nil {
		s.checkpoints = make(map[string][]checkpoint)
		s.checkpointSeq = make(map[string]int64)
	}
	s.checkpointSeq[workflowID]++
	m := storage.CheckpointMeta{ID: s.checkpointSeq[workflowID], AtMs: cp.AtMs, Name: cp.Name,
		Authors: append([]string{}, cp.Authors...), Summary: cp.Summary, Bytes: len(frame)}
	all := append(s.checkpoints[workflowID], checkpoint{meta: m, frame: frame})
	metas := make([]storage.CheckpointMeta, len(all))
	for i, c := range all {
		metas[i] = c.meta
	}
	drop := keep.Drop(metas, cp.AtMs)
	s.checkpoints[workflowID] = slices.DeleteFunc(all, func(c checkpoint) bool {
		_, found := slices.BinarySearch(drop, c.meta.ID)
		return found
	})
	return cloneMeta(m), nil
}

// ListCheckpoints implements storage.CheckpointStore.
func (s *Store) ListCheckpoints(ctx context.Context, workflowID string) ([]storage.CheckpointMeta, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := storage.CheckWorkflowID(workflowID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, storage.ErrClosed
	}
	cps := s.checkpoints[workflowID]
	out := make([]storage.CheckpointMeta, len(cps))
	for i, c := range cps {
		out[i] = cloneMeta(c.meta)
	}
	return out, nil
}

// LoadCheckpoint implements storage.CheckpointStore.
func (s *Store) LoadCheckpoint(ctx context.Context, workflowID string, id int64) (storage.CheckpointMeta, *workflow.Doc, error) {
	if err := ctx.Err(); err != nil {
		return storage.CheckpointMeta{}, nil, err
	}
	if err := storage.CheckWorkflowID(workflowID); err != nil {
		return storage.CheckpointMeta{}, nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return storage.CheckpointMeta{}, nil, storage.ErrClosed
	}
	var found *checkpoint
	for i, c := range s.checkpoints[workflowID] {
		if c.meta.ID == id {
			found = &s.checkpoints[workflowID][i]
			break
		}
	}
	s.mu.Unlock()
	if found == nil {
		return storage.CheckpointMeta{}, nil, fmt.Errorf("%w: %d of %q", storage.ErrNoCheckpoint, id, workflowID)
	}
	// Frames are never changed once stored: decoding outside the lock is
	// safe.
	doc, err := storecodec.DecodeSnapshot(found.frame)
	if err != nil {
		return storage.CheckpointMeta{}, nil, err
	}
	return cloneMeta(found.meta), doc, nil
}

func cloneMeta(m storage.CheckpointMeta) storage.CheckpointMeta {
	m.Authors = append([]string{}, m.Authors...)
	return m
}
