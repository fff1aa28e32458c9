package rooms

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/bolt"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// lockedRegistry returns a registry over store whose admission enforces
// the registry's own locks, as the server wires it.
func lockedRegistry(t *testing.T, store storage.Store, c Cluster) *Registry {
	t.Helper()
	var r *Registry
	r = newRegistry(t, Config{Cluster: c, Admit: LockAdmission(func(id string) bool { return r.Locked(id) })}, store)
	return r
}

// A lock is state: it is stored, so a restarted process (a new registry
// over the same bolt file) still refuses edits of the locked workflow, and
// an unlock is kept the same way.
func TestLockSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locks.db")
	open := func() *bolt.Store {
		st, err := bolt.Open(bolt.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	ctx := context.Background()
	st := open()
	r := lockedRegistry(t, st, nil)
	apply(t, r, "wf", appAdmin, appOps[0])
	if changed, err := r.SetLocked(ctx, "wf", true); err != nil || !changed {
		t.Fatalf("SetLocked: %v, %v", changed, err)
	}
	if got := apply(t, r, "wf", appAdmin, appOps[1]).Results[0]; got.Code != protocol.CodeWorkflowLocked {
		t.Fatalf("edit of a locked workflow: %+v", got)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st = open()
	t.Cleanup(func() { st.Close() }) // after the registry's Close
	r = lockedRegistry(t, st, nil)
	if got := apply(t, r, "wf", appAdmin, appOps[1]).Results[0]; got.Code != protocol.CodeWorkflowLocked {
		t.Fatalf("after a restart, edit of a locked workflow: %+v", got)
	}
	if locked, err := r.IsLocked(ctx, "wf"); err != nil || !locked {
		t.Fatalf("IsLocked after a restart: %v, %v", locked, err)
	}
	if changed, err := r.SetLocked(ctx, "wf", true); err != nil || changed {
		t.Fatalf("locking a locked workflow: changed=%v, %v", changed, err)
	}
	if changed, err := r.SetLocked(ctx, "wf", false); err != nil || !changed {
		t.Fatalf("unlock: changed=%v, %v", changed, err)
	}
	if got := apply(t, r, "wf", appAdmin, appOps[1]).Results[0]; !got.Applied() {
		t.Fatalf("edit after unlock: %+v", got)
	}
	if _, err := r.SetLocked(ctx, "", true); err == nil {
		t.Fatal("an empty workflow id was locked")
	}
}

// failingLocks is a store whose lock reads fail.
type failingLocks struct{ storage.Store }

var errLockRead = errors.New("lock table unreachable")

func (failingLocks) SetLock(context.Context, string, storage.WorkflowLock) (bool, error) {
	return false, errLockRead
}
func (failingLocks) GetLock(context.Context, string) (storage.WorkflowLock, error) {
	return storage.WorkflowLock{}, errLockRead
}

// A room whose lock cannot be read does not load (it could admit edits a
// lock refuses), and a lock that cannot be stored is not set.
func TestLockUnreadableFailsLoad(t *testing.T) {
	r := lockedRegistry(t, failingLocks{memory.New()}, nil)
	_, err := r.Apply(context.Background(), "wf", appAdmin, appOps[:1])
	if !errors.Is(err, ErrLoad) || !errors.Is(err, errLockRead) {
		t.Fatalf("Apply with unreadable locks: %v", err)
	}
	_, err = r.SetLocked(context.Background(), "wf", true)
	if !errors.Is(err, errLockRead) || ErrorCode(err) != protocol.CodeStorageUnavailable {
		t.Fatalf("SetLocked with an unreachable lock table: %v (%v)", err, ErrorCode(err))
	}
	if r.Locked("wf") {
		t.Fatal("a lock that was not stored is enforced")
	}
}
