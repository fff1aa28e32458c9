package memory

import (
	"context"

	"github.com/flowsync/flowsync/storage"
)

var _ storage.LockStore = (*Store)(nil)

// SetLock implements storage.LockStore.
func (s *Store) SetLock(ctx context.Context, workflowID string, l storage.WorkflowLock) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := storage.CheckWorkflowID(workflowID); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, storage.ErrClosed
	}
	if !l.Newer(s.locks[workflowID]) {
		return false, nil
	}
	if s.locks == nil {
		s.locks = make(map[string]storage.WorkflowLock)
	}
	s.locks[workflowID] = l
	return true, nil
}

// GetLock implements storage.LockStore.
func (s *Store) GetLock(ctx context.Context, workflowID string) (storage.WorkflowLock, error) {
	if err := ctx.Err(); err != nil {
		return storage.WorkflowLock{}, err
	}
	if err := storage.CheckWorkflowID(workflowID); err != nil {
		return storage.WorkflowLock{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.WorkflowLock{}, storage.ErrClosed
	}
	return s.locks[workflowID], nil
}
