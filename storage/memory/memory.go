// Package memory is an in-memory storage.Store for tests and for running
// flowsync without a database. "Durable" here means "held by this Store
// value": everything is lost when the process exits.
//
// Append keeps the deltas' bytes as they come (the caller admitted them; a
// store never decodes a delta just to write it), and the first Load or
// Snapshot after them joins them into one stored document per workflow, so
// each delta is decoded once and a Load costs a clone, not a replay.
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
	docs    map[string]*workflow.Doc        // guarded by mu: each workflow's joined state
	logs    map[string][]logRow             // guarded by mu: deltas appended since the workflow's last join
	deleted map[string]bool                 // guarded by mu
	created map[string]bool                 // guarded by mu; Create calls (catalog.go)
	version map[string]int64                // guarded by mu; snapshots taken per workflow (snapshot.go)
	closed  bool                            // guarded by mu
	keys    []storage.SecretKey             // guarded by mu; created on first ReceiptKeys
	locks   map[string]storage.WorkflowLock // guarded by mu; workflow locks (locks.go)

	checkpoints   map[string][]checkpoint // guarded by mu; oldest first (checkpoint.go)
	checkpointSeq map[string]int64        // guarded by mu; last checkpoint id per workflow
}

var _ storage.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{docs: make(map[string]*workflow.Doc), logs: make(map[string][]logRow), deleted: make(map[string]bool)}
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
	doc, err := s.joinLocked(workflowID, nil)
	if err != nil {
		return nil, err
	}
	return doc.Clone(), nil
}

// Append implements storage.Store. A refused batch stores nothing.
func (s *Store) Append(ctx context.Context, workflowID string, deltas []storage.Delta) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storage.CheckBatch(deltas); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(workflowID); err != nil {
		return err
	}
	for _, d := range deltas {
		s.logs[workflowID] = append(s.logs[workflowID], logRow{key: d.Hash(), bytes: d.Bytes()})
	}
	return nil
}

// logRow is an appended delta not joined yet, with its row key.
type logRow struct {
	key   storage.RowKey
	bytes []byte
}

// joinLocked joins the workflow's appended deltas into its stored document
// and returns that document (which the caller must not hand out). Rows
// whose keys skip holds are dropped without being decoded (Snapshot's
// held: its doc holds them). A delta that does not decode stays in the
// log, and the error wraps storage.ErrCorrupt, as a damaged log row does
// in the persistent stores.
func (s *Store) joinLocked(workflowID string, skip map[storage.RowKey]bool) (*workflow.Doc, error) {
	doc, ok := s.docs[workflowID]
	if !ok {
		doc = workflow.New()
		s.docs[workflowID] = doc
	}
	log := s.logs[workflowID]
	var skipped []logRow
	for i, row := range log {
		if skip[row.key] {
			skipped = append(skipped, row)
			continue
		}
		d, err := workflow.Decode(row.bytes, workflow.DeltaLimits)
		if err != nil {
			// The snapshot fails and joins nothing: the rows it skipped
			// stay too.
			s.logs[workflowID] = append(skipped, log[i:]...)
			return nil, fmt.Errorf("%w: log row: %w", storage.ErrCorrupt, err)
		}
		doc.Merge(d)
	}
	delete(s.logs, workflowID)
	return doc, nil
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
	delete(s.logs, workflowID)
	delete(s.checkpoints, workflowID)
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
