// Package memory is an in-memory storage.Store for tests and for running
// flowsync without a database. "Durable" here means "held by this Store
// value": everything is lost when the process exits.
//
// Append merges the decoded deltas into one stored document per workflow,
// so Load costs a clone, not a replay.
package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
)

// Store is an in-memory storage.Store. The zero Store is not usable; call
// New.
type Store struct {
	mu      sync.Mutex
	docs    map[string]*workflow.Doc // guarded by mu
	deleted map[string]bool          // guarded by mu
	version map[string]int64         // guarded by mu; snapshots taken per workflow (snapshot.go)
	closed  bool                     // guarded by mu
	keys    []storage.SecretKey      // guarded by mu; created on first ReceiptKeys
}

var _ storage.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{docs: make(map[string]*workflow.Doc), deleted: make(map[string]bool)}
}

// Load implements storage.Store.
func (s *Store) Load(ctx context.Context, workflowID string) (*workflow.Doc, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(workflowID); err != nil {
		return nil, err
	}
	if d, ok := s.docs[workflowID]; ok {
		return d.Clone(), nil
	}
	return workflow.New(), nil
}

// Append implements storage.Store. Deltas are decoded before the lock is
// taken, so a corrupt batch stores nothing and decoding does not hold up
// other workflows.
func (s *Store) Append(ctx context.Context, workflowID string, deltas [][]byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	decoded := make([]*workflow.Doc, 0, len(deltas))
	for i, b := range deltas {
		d, err := workflow.Decode(b, workflow.DeltaLimits)
		if err != nil {
			return fmt.Errorf("%w: delta %d of %d: %w", storage.ErrCorrupt, i, len(deltas), err)
		}
		decoded = append(decoded, d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(workflowID); err != nil {
		return err
	}
	doc, ok := s.docs[workflowID]
	if !ok {
		doc = workflow.New()
		s.docs[workflowID] = doc
	}
	for _, d := range decoded {
		doc.Merge(d)
	}
	return nil
}

// Delete implements storage.Store.
func (s *Store) Delete(ctx context.Context, workflowID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.ErrClosed
	}
	delete(s.docs, workflowID)
	s.deleted[workflowID] = true
	return nil
}

// Close implements storage.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *Store) checkLocked(workflowID string) error {
	switch {
	case s.closed:
		return storage.ErrClosed
	case s.deleted[workflowID]:
		return fmt.Errorf("%w: %q", storage.ErrDeleted, workflowID)
	}
	return nil
}
