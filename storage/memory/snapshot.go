package memory

import (
	"context"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// Snapshot implements storage.Store. The in-memory store holds one merged
// document per workflow and no log, so a snapshot is a join into it and a
// version bump; there is nothing to trim. The copy of doc is made before
// the lock is taken.
func (s *Store) Snapshot(ctx context.Context, workflowID string, doc *workflow.Doc) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cp := doc.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(workflowID); err != nil {
		return 0, err
	}
	stored, ok := s.docs[workflowID]
	if !ok {
		s.docs[workflowID] = cp
	} else {
		stored.Merge(cp)
	}
	if s.version == nil {
		s.version = make(map[string]int64)
	}
	s.version[workflowID]++
	return s.version[workflowID], nil
}
