package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/flowsync/flowsync/storage"
)

// testLocks checks storage.LockStore: nothing is locked until set, the
// newer change wins in whatever order changes arrive (the lock at a tie),
// workflows are separate, and a bad id is refused.
func testLocks(t *testing.T, s storage.Store) {
	ls, ok := s.(storage.LockStore)
	if !ok {
		t.Fatalf("%T does not implement storage.LockStore", s)
	}
	ctx := context.Background()
	get := func(wf string) storage.WorkflowLock {
		t.Helper()
		l, err := ls.GetLock(ctx, wf)
		if err != nil {
			t.Fatalf("GetLock(%q): %v", wf, err)
		}
		return l
	}
	set := func(wf string, l storage.WorkflowLock, want bool) {
		t.Helper()
		applied, err := ls.SetLock(ctx, wf, l)
		if err != nil {
			t.Fatalf("SetLock(%q, %+v): %v", wf, l, err)
		}
		if applied != want {
			t.Fatalf("SetLock(%q, %+v) applied = %v, want %v", wf, l, applied, want)
		}
	}
	if l := get("wf-lock"); l != (storage.WorkflowLock{}) {
		t.Fatalf("an untouched workflow has lock %+v", l)
	}
	set("wf-lock", storage.WorkflowLock{Locked: true, AtMs: 100}, true)
	set("wf-lock", storage.WorkflowLock{Locked: false, AtMs: 50}, false)  // older: loses
	set("wf-lock", storage.WorkflowLock{Locked: false, AtMs: 100}, false) // tie: the lock wins
	if l := get("wf-lock"); l != (storage.WorkflowLock{Locked: true, AtMs: 100}) {
		t.Fatalf("lock = %+v after an older unlock and a tie", l)
	}
	set("wf-lock", storage.WorkflowLock{Locked: false, AtMs: 200}, true)
	if l := get("wf-lock"); l.Locked || l.AtMs != 200 {
		t.Fatalf("lock = %+v after a newer unlock", l)
	}
	if l := get("wf-other"); l.Locked {
		t.Fatal("a lock leaked to another workflow")
	}
	if _, err := ls.SetLock(ctx, "", storage.WorkflowLock{Locked: true, AtMs: 1}); !errors.Is(err, storage.ErrInvalidID) {
		t.Fatalf("SetLock of an empty id: %v, want ErrInvalidID", err)
	}
}
