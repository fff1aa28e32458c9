package storage

import "context"

// WorkflowLock is the lock state of one workflow: whether it is locked, and
// when (the locking node's clock, Unix ms) that was decided. The zero value
// is "unlocked, never changed".
type WorkflowLock struct {
	Locked bool
	AtMs   int64
}

// Newer reports whether l wins over old: the later change wins, and of two
// changes at the same millisecond the lock wins (refusing an edit is the
// safe side). Every node applying the same changes in any order ends with
// the same state.
func (l WorkflowLock) Newer(old WorkflowLock) bool {
	if l.AtMs != old.AtMs {
		return l.AtMs > old.AtMs
	}
	return l.Locked && !old.Locked
}

// LockStore is implemented by stores that keep workflow locks, so that a
// lock survives a restart and every node reading the store enforces it.
// Locks are kept apart from the document: clients never see or write them.
type LockStore interface {
	// SetLock stores l for workflowID when it is newer (WorkflowLock.Newer)
	// than the stored lock, and reports whether it did. It returns
	// ErrInvalidID for an unusable id. A lock of a deleted workflow may be
	// stored; it is never read by a room (the workflow cannot load).
	SetLock(ctx context.Context, workflowID string, l WorkflowLock) (bool, error)
	// GetLock returns the stored lock of workflowID (the zero value when
	// none was ever stored).
	GetLock(ctx context.Context, workflowID string) (WorkflowLock, error)
}
