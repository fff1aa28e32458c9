package memory

import (
	"context"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
)

// Snapshot implements storage.Store. The in-memory store holds one merged
// document per workflow and the deltas appended since it was last joined,
// so a snapshot joins both and doc into it and bumps the version; the
// deltas held names are dropped undecoded. The copy of doc is made before
// the lock is taken.
func (s *Store) Snapshot(ctx context.Context, workflowID string, doc *workflow.Doc, held ...storage.RowKey) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cp := doc.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(workflowID); err != nil {
		return 0, err
	}
	var skip map[storage.RowKey]bool
	if len(held) > 0 {
		skip = make(map[storage.RowKey]bool, len(held))
		for _, k := range held {
			skip[k] = true
		}
	}
	stored, err := s.joinLocked(workflowID, skip)
	if err != nil {
		return 0, err
	}
	stored.Merge(cp)
	if s.version == nil {
		s.version = make(map[string]int64)
	}
	s.version[workflowID]++
	return s.version[workflowID], nil
}
