package memory

import (
	"context"

	"github.com/flowsync/flowsync/storage"
)

var _ storage.Catalog = (*Store)(nil)

// Create implements storage.Catalog.
func (s *Store) Create(ctx context.Context, workflowID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storage.CheckWorkflowID(workflowID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(workflowID); err != nil {
		return err
	}
	if s.created == nil {
		s.created = make(map[string]bool)
	}
	s.created[workflowID] = true
	return nil
}

// Exists implements storage.Catalog.
func (s *Store) Exists(ctx context.Context, workflowID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, storage.ErrClosed
	}
	if s.deleted[workflowID] {
		return false, nil
	}
	// Load leaves an empty document behind for a workflow never written:
	// only a non-empty one, or a pending log, says it was written.
	doc, ok := s.docs[workflowID]
	return s.created[workflowID] || len(s.logs[workflowID]) > 0 || (ok && !doc.IsEmpty()), nil
}
