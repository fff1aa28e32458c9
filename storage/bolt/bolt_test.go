package bolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/bolt"
	"github.com/flowsync/flowsync/storage/storagetest"
)

var paths sync.Map // *bolt.Store → path

func open(t testing.TB, path string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(bolt.Config{Path: path})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	paths.Store(s, path)
	return s
}

// count reads the file through the store's own handle (bbolt allows one
// handle per file), using the documented layout.
func count(t *testing.T, s storage.Store, wf string) (logRows, snapshots int) {
	t.Helper()
	db := bolt.DBForTest(s.(*bolt.Store))
	err := db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("workflows")).Bucket([]byte(wf))
		if b == nil {
			return nil
		}
		if b.Get([]byte("snapshot")) != nil {
			snapshots = 1
		}
		if l := b.Bucket([]byte("log")); l != nil {
			logRows = l.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return logRows, snapshots
}

func TestConformance(t *testing.T) {
	storagetest.RunWithOptions(t, func() storage.Store {
		return open(t, filepath.Join(t.TempDir(), "sub", "flowsync.db"))
	}, storagetest.Options{Count: count})
}

// Data survives close and reopen (and, the file being fsynced on every
// commit, a crash).
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "flowsync.db")
	want, deltas := storagetest.Edits(t, "r1", 10)
	s := open(t, path)
	if err := s.Append(ctx, "wf", deltas[:5]); err != nil {
		t.Fatal(err)
	}
	d, err := s.Load(ctx, "wf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshot(ctx, "wf", d); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, "wf", deltas[5:]); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()
	got, err := s.Load(ctx, "wf")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Fatal("reopened store lost data")
	}
	if _, err := s.Load(ctx, "gone"); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("tombstone lost on reopen: %v", err)
	}
}

func TestWorkflowIDLimits(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "flowsync.db"))
	defer s.Close()
	for _, id := range []string{"", strings.Repeat("x", storage.MaxWorkflowIDLen+1)} {
		if _, err := s.Load(context.Background(), id); !errors.Is(err, storage.ErrInvalidID) {
			t.Errorf("Load(%d bytes): err = %v, want ErrInvalidID", len(id), err)
		}
	}
}

// A damaged snapshot is ErrCorrupt on Load and Snapshot, never an empty
// document that a later snapshot would write over the real one.
func TestCorruptSnapshot(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "flowsync.db"))
	defer s.Close()
	doc, deltas := storagetest.Edits(t, "r1", 4)
	if err := s.Append(ctx, "wf", deltas); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshot(ctx, "wf", doc); err != nil {
		t.Fatal(err)
	}
	err := bolt.DBForTest(s).Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("workflows")).Bucket([]byte("wf"))
		v := append([]byte(nil), b.Get([]byte("snapshot"))...)
		v[len(v)/2] ^= 0x40
		return b.Put([]byte("snapshot"), v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "wf"); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("Load of a damaged snapshot: err = %v, want ErrCorrupt", err)
	}
	if _, err := s.Snapshot(ctx, "wf", doc); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("Snapshot over a damaged snapshot: err = %v, want ErrCorrupt", err)
	}
}
