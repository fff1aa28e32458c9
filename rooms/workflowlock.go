package rooms

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Workflow locks are state, kept in the store (storage.LockStore) next to
// the document but outside it: clients never see or write them, a restart
// keeps them, and every node reading the store enforces them. The registry
// caches the lock of every workflow it loaded or changed, so the room loop's
// admission and the drag path read memory only; the cache is refreshed from
// the store on every room load and from the bus on every change another
// node makes.

// ErrLockStore wraps a store error reading or writing a workflow lock (a
// retryable STORAGE_UNAVAILABLE for the caller).
var ErrLockStore = errors.New("rooms: the store could not keep the workflow lock")

// ClusterLocker may be implemented by a Cluster to tell the other nodes
// about lock changes (*cluster.Node does). Without it a lock is still
// stored, and other nodes sharing the store read it when they next load the
// room.
type ClusterLocker interface {
	PublishLock(workflowID string, locked bool, atMs int64) error
}

// lockCache is the registry's copy of the stored locks.
type lockCache struct {
	mu    sync.RWMutex
	m     map[string]storage.WorkflowLock // guarded by mu
	write sync.Mutex                      // serializes SetLocked calls
}

// merge keeps l for id when it is newer than the cached lock; it reports
// whether it did.
func (c *lockCache) merge(id string, l storage.WorkflowLock) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.m[id]
	if ok && !l.Newer(old) {
		return false
	}
	if c.m == nil {
		c.m = make(map[string]storage.WorkflowLock)
	}
	c.m[id] = l
	return true
}

func (c *lockCache) get(id string) (storage.WorkflowLock, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	l, ok := c.m[id]
	return l, ok
}

// Locked reports whether workflowID is locked, from memory: correct for a
// workflow whose room is loaded here (the load read the store) or that was
// locked through this registry; false for one never seen. LockAdmission
// takes it.
func (r *Registry) Locked(workflowID string) bool {
	l, _ := r.locks.get(workflowID)
	return l.Locked
}

// IsLocked reports whether workflowID is locked: from memory when known
// here, else from the store.
func (r *Registry) IsLocked(ctx context.Context, workflowID string) (bool, error) {
	l, err := r.lockState(ctx, workflowID)
	return l.Locked, err
}

// lockState returns the lock of workflowID, reading (and caching) the
// store's when this registry has none.
func (r *Registry) lockState(ctx context.Context, workflowID string) (storage.WorkflowLock, error) {
	if l, ok := r.locks.get(workflowID); ok {
		return l, nil
	}
	return r.loadLock(ctx, workflowID)
}

// loadLock reads the stored lock of workflowID into the cache (a store
// without locks has none) and returns the cached lock.
func (r *Registry) loadLock(ctx context.Context, workflowID string) (storage.WorkflowLock, error) {
	ls, ok := r.store.(storage.LockStore)
	if !ok {
		l, _ := r.locks.get(workflowID)
		return l, nil
	}
	l, err := ls.GetLock(ctx, workflowID)
	if err != nil {
		return storage.WorkflowLock{}, fmt.Errorf("%w: reading the lock of %q: %w", ErrLockStore, workflowID, err)
	}
	r.locks.merge(workflowID, l)
	l, _ = r.locks.get(workflowID)
	return l, nil
}

// SetLocked locks (locked) or unlocks workflowID: the change is stored,
// enforced at once by this node's room and published to the other nodes.
// It reports whether the workflow was in the other state before. A store
// error changes nothing here and is returned.
func (r *Registry) SetLocked(ctx context.Context, workflowID string, locked bool) (bool, error) {
	if err := storage.CheckWorkflowID(workflowID); err != nil {
		return false, protocol.NewError(protocol.CodeInvalidOperation, "%v", err)
	}
	r.locks.write.Lock()
	defer r.locks.write.Unlock()
	cur, err := r.loadLock(ctx, workflowID)
	if err != nil {
		return false, err
	}
	if cur.Locked == locked {
		return false, nil
	}
	// Later than anything seen for this workflow, even with this node's
	// clock behind the one that made the current state.
	l := storage.WorkflowLock{Locked: locked, AtMs: max(r.cfg.now().UnixMilli(), cur.AtMs+1)}
	if ls, ok := r.store.(storage.LockStore); ok {
		applied, err := ls.SetLock(ctx, workflowID, l)
		if err != nil {
			return false, fmt.Errorf("%w: storing the lock of %q: %w", ErrLockStore, workflowID, err)
		}
		if !applied {
			// Another node sharing the store wrote a newer change between
			// the read and the write: that one stands.
			got, err := r.loadLock(ctx, workflowID)
			return false, lostLockRace(err, got, locked)
		}
	}
	r.locks.merge(workflowID, l)
	if c, ok := r.cfg.Cluster.(ClusterLocker); ok {
		if err := c.PublishLock(workflowID, l.Locked, l.AtMs); err != nil {
			// Other nodes read the store on their next load, and answer a
			// host request with their lock.
			r.logger.Warn("publishing a lock change failed", "workflow", workflowID, "locked", locked, "err", err)
		}
	}
	return true, nil
}

// lostLockRace explains a lock change that lost to a newer one.
func lostLockRace(err error, got storage.WorkflowLock, want bool) error {
	if err != nil {
		return err
	}
	if got.Locked == want {
		return nil // the newer change did the same
	}
	return protocol.NewError(protocol.CodeConflict, "a newer lock change from another node stands (locked=%v)", got.Locked)
}

// applyRemoteLock keeps a lock change another node made: stored here (the
// store keeps the newest) and cached.
func (r *Registry) applyRemoteLock(workflowID string, l storage.WorkflowLock) error {
	if err := storage.CheckWorkflowID(workflowID); err != nil {
		return err
	}
	if ls, ok := r.store.(storage.LockStore); ok {
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.WriteTimeout)
		defer cancel()
		if _, err := ls.SetLock(ctx, workflowID, l); err != nil {
			return fmt.Errorf("%w: storing a lock from the cluster for %q: %w", ErrLockStore, workflowID, err)
		}
	}
	r.locks.merge(workflowID, l)
	return nil
}

// RemoteLock keeps a lock change another node made (cluster.LockSink).
func (l *ClusterLocal) RemoteLock(workflowID string, locked bool, atMs int64) error {
	return l.r.applyRemoteLock(workflowID, storage.WorkflowLock{Locked: locked, AtMs: atMs})
}

// LockState returns the lock this node knows for workflowID
// (cluster.LockSink): false when none was ever set or it cannot be read.
func (l *ClusterLocal) LockState(workflowID string) (locked bool, atMs int64, ok bool) {
	ctx, cancel := context.WithTimeout(l.r.ctx, l.r.cfg.LoadTimeout)
	defer cancel()
	st, err := l.r.lockState(ctx, workflowID)
	if err != nil || st.AtMs == 0 {
		return false, 0, false
	}
	return st.Locked, st.AtMs, true
}

// Locked reports whether the room's workflow is locked (see
// Registry.Locked); the session refuses drags with it.
func (rm *Room) Locked() bool { return rm.reg.Locked(rm.id) }
