// Package clustertest provides what tests of the cluster layer and of code
// built on it need: an in-memory cluster.Local (a map of documents standing
// in for both the live rooms and the store of one node) and in-process NATS
// servers, alone or routed into a cluster. It must never be used in a server
// (nothing is durable, nothing is bounded).
package clustertest

import (
	"errors"
	"fmt"
	"sync"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// ErrDeleted is returned by Apply and Edit for a deleted workflow.
var ErrDeleted = errors.New("clustertest: workflow deleted")

// Memory is an in-memory cluster.Local. Documents are "live" once Open has
// been called (Context reports them); Apply creates a document that is not
// there yet, like a store would. The zero value is not usable: call
// NewMemory.
type Memory struct {
	// OnApply, when set before use, is called after every successful Apply
	// with the merged delta (outside the lock).
	OnApply func(workflowID string, delta *workflow.Doc)

	mu       sync.Mutex
	docs     map[string]*workflow.Doc     // guarded by mu
	live     map[string]bool              // guarded by mu
	deleted  map[string]bool              // guarded by mu
	presence map[string]map[string][]byte // guarded by mu
	// refusedAfterDelete counts Apply calls for deleted workflows.
	refusedAfterDelete int // guarded by mu
	applied            int // guarded by mu
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{
		docs:     map[string]*workflow.Doc{},
		live:     map[string]bool{},
		deleted:  map[string]bool{},
		presence: map[string]map[string][]byte{},
	}
}

// Open makes workflowID live (creating an empty document if needed).
func (m *Memory) Open(workflowID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live[workflowID] = true
	if m.docs[workflowID] == nil && !m.deleted[workflowID] {
		m.docs[workflowID] = workflow.New()
	}
}

// Edit runs fn on the document under the lock, merges the delta it returns
// and returns that delta encoded (nil, nil when fn returns a nil delta).
func (m *Memory) Edit(workflowID string, fn func(doc *workflow.Doc) (*workflow.Doc, error)) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.deleted[workflowID] {
		return nil, fmt.Errorf("%w: %q", ErrDeleted, workflowID)
	}
	doc := m.docs[workflowID]
	if doc == nil {
		doc = workflow.New()
		m.docs[workflowID] = doc
	}
	delta, err := fn(doc)
	if err != nil || delta == nil {
		return nil, err
	}
	doc.Merge(delta)
	return delta.Encode(), nil
}

// Doc returns a copy of the document, nil if there is none.
func (m *Memory) Doc(workflowID string) *workflow.Doc {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := m.docs[workflowID]; d != nil {
		return d.Clone()
	}
	return nil
}

// RefusedAfterDelete returns how many Apply calls came for a deleted
// workflow (and were refused).
func (m *Memory) RefusedAfterDelete() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refusedAfterDelete
}

// Applied returns how many Apply calls succeeded.
func (m *Memory) Applied() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.applied
}

// Apply implements cluster.Local.
func (m *Memory) Apply(workflowID string, delta *workflow.Doc) error {
	m.mu.Lock()
	if m.deleted[workflowID] {
		m.refusedAfterDelete++
		m.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrDeleted, workflowID)
	}
	doc := m.docs[workflowID]
	if doc == nil {
		doc = workflow.New()
		m.docs[workflowID] = doc
	}
	doc.Merge(delta)
	m.applied++
	hook := m.OnApply
	m.mu.Unlock()
	if hook != nil {
		hook(workflowID, delta)
	}
	return nil
}

// Context implements cluster.Local.
func (m *Memory) Context(workflowID string) (*crdt.Context, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.live[workflowID] || m.deleted[workflowID] {
		return nil, false
	}
	return m.docs[workflowID].Context().Clone(), true
}

// DeltaSince implements cluster.Local.
func (m *Memory) DeltaSince(workflowID string, have *crdt.Context) (*workflow.Doc, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	doc := m.docs[workflowID]
	if doc == nil || m.deleted[workflowID] {
		return nil, false
	}
	return doc.DeltaSince(have), true
}

// Deleted implements cluster.Local.
func (m *Memory) Deleted(workflowID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.deleted[workflowID]
}

// MarkDeleted implements cluster.Local: the document is dropped and the id
// remembered.
func (m *Memory) MarkDeleted(workflowID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleted[workflowID] = true
	delete(m.docs, workflowID)
	delete(m.live, workflowID)
	return nil
}

// RemotePresence implements cluster.PresenceSink.
func (m *Memory) RemotePresence(workflowID, nodeID string, entry []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if entry == nil {
		delete(m.presence[workflowID], nodeID)
		return
	}
	if m.presence[workflowID] == nil {
		m.presence[workflowID] = map[string][]byte{}
	}
	m.presence[workflowID][nodeID] = entry
}

// Presence returns the remote presence entries the node reported, by node.
func (m *Memory) Presence(workflowID string) map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range m.presence[workflowID] {
		out[k] = v
	}
	return out
}
