package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
)

// Options are the store-specific hooks of RunWithOptions. Every field is
// optional.
type Options struct {
	// Peer returns a second handle on the backing data of s — another
	// "node" sharing the database — which the suite closes. Nil means
	// the suite uses s itself as the second node (the memory store, or a
	// file only one handle may open).
	Peer func(t *testing.T, s storage.Store) storage.Store
	// Count returns how many log rows and snapshots (0 or 1) s holds for
	// workflowID, bypassing the Store interface, so the suite can check
	// that re-sent deltas are stored once, that snapshots trim the log
	// and that Delete removes the data. Nil skips those checks.
	Count func(t *testing.T, s storage.Store, workflowID string) (logRows, snapshots int)
}

func snapshotTests(opts Options) []struct {
	name string
	fn   func(t *testing.T, s storage.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"ReAppendStoresOnce", func(t *testing.T, s storage.Store) { testReAppendStoresOnce(t, s, opts) }},
		{"SnapshotThenLoad", func(t *testing.T, s storage.Store) { testSnapshotThenLoad(t, s, opts) }},
		{"SnapshotOfEmptyDocKeepsStored", testSnapshotOfEmptyDocKeepsStored},
		{"SnapshotDoesNotModifyDoc", testSnapshotDoesNotModifyDoc},
		{"StaleSnapshotLosesNothing", func(t *testing.T, s storage.Store) { testStaleSnapshotLosesNothing(t, s, opts) }},
		{"ConcurrentSnapshotsAndAppends", func(t *testing.T, s storage.Store) { testConcurrentSnapshots(t, s, opts) }},
		{"DeleteRemovesData", func(t *testing.T, s storage.Store) { testDeleteRemovesData(t, s, opts) }},
		{"SnapshotCancelledAndClosed", testSnapshotCancelledAndClosed},
	}
}

func peer(t *testing.T, s storage.Store, opts Options) storage.Store {
	t.Helper()
	if opts.Peer == nil {
		return s
	}
	p := opts.Peer(t, s)
	t.Cleanup(func() { p.Close() })
	return p
}

func snapshotOK(t *testing.T, s storage.Store, wf string, doc *workflow.Doc) int64 {
	t.Helper()
	v, err := s.Snapshot(context.Background(), wf, doc)
	if err != nil {
		t.Fatalf("Snapshot(%q): %v", wf, err)
	}
	return v
}

func joinAll(t testing.TB, deltas []storage.Delta) *workflow.Doc {
	t.Helper()
	d := workflow.New()
	for _, b := range deltas {
		x, err := workflow.Decode(b.Bytes(), workflow.DeltaLimits)
		if err != nil {
			t.Fatal(err)
		}
		d.Merge(x)
	}
	return d
}

func testReAppendStoresOnce(t *testing.T, s storage.Store, opts Options) {
	want, deltas := Edits(t, "r1", 6)
	appendOK(t, s, "wf", deltas)
	var before storage.Stats
	sr, hasStats := s.(storage.StatsReporter)
	if hasStats {
		before = sr.Stats()
	}
	appendOK(t, s, "wf", deltas)
	appendOK(t, s, "wf", []storage.Delta{deltas[2], deltas[2], deltas[4]})
	if hasStats {
		after := sr.Stats()
		if after.DeltasStored != before.DeltasStored {
			t.Errorf("re-sent deltas stored again: DeltasStored %d → %d", before.DeltasStored, after.DeltasStored)
		}
		if after.DeltasAppended != before.DeltasAppended+9 {
			t.Errorf("DeltasAppended %d → %d, want +9", before.DeltasAppended, after.DeltasAppended)
		}
	}
	if opts.Count != nil {
		if n, _ := opts.Count(t, s, "wf"); n != len(deltas) {
			t.Errorf("log rows = %d after re-sends, want %d", n, len(deltas))
		}
	}
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("re-sent deltas changed the stored document")
	}
}

func testSnapshotThenLoad(t *testing.T, s storage.Store, opts Options) {
	want, deltas := Edits(t, "r1", 8)
	appendOK(t, s, "wf", deltas[:4])
	if v := snapshotOK(t, s, "wf", load(t, s, "wf")); v != 1 {
		t.Errorf("first snapshot version = %d, want 1", v)
	}
	if opts.Count != nil {
		if n, snaps := opts.Count(t, s, "wf"); n != 0 || snaps != 1 {
			t.Errorf("after snapshot: %d log rows, %d snapshots; want 0 and 1", n, snaps)
		}
	}
	appendOK(t, s, "wf", deltas[4:])
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("snapshot + log after it differs from the join of every delta")
	}
	if v := snapshotOK(t, s, "wf", load(t, s, "wf")); v != 2 {
		t.Errorf("second snapshot version = %d, want 2", v)
	}
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("second snapshot changed the document")
	}
	// A snapshot of a workflow never appended to stores the document.
	other, _ := Edits(t, "r2", 3)
	if v := snapshotOK(t, s, "fresh", other); v != 1 {
		t.Errorf("snapshot of a new workflow: version %d, want 1", v)
	}
	if got := load(t, s, "fresh"); !got.Equal(other) {
		t.Fatal("snapshot of a new workflow did not load back")
	}
}

func testSnapshotOfEmptyDocKeepsStored(t *testing.T, s storage.Store) {
	// A node whose load failed holds an empty document: its snapshot must
	// not overwrite anything (DESIGN §8).
	want, deltas := Edits(t, "r1", 4)
	appendOK(t, s, "wf", deltas[:2])
	snapshotOK(t, s, "wf", load(t, s, "wf"))
	appendOK(t, s, "wf", deltas[2:])
	snapshotOK(t, s, "wf", workflow.New())
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("a snapshot of an empty document lost stored edits")
	}
}

func testSnapshotDoesNotModifyDoc(t *testing.T, s storage.Store) {
	_, a := Edits(t, "r1", 4)
	appendOK(t, s, "wf", a)
	mine, _ := Edits(t, "r2", 2)
	keep := mine.Clone()
	snapshotOK(t, s, "wf", mine)
	if !mine.Equal(keep) {
		t.Fatal("Snapshot modified the document it was given")
	}
}

func testStaleSnapshotLosesNothing(t *testing.T, s storage.Store, opts Options) {
	a, b := s, peer(t, s, opts)
	_, e1 := Edits(t, "r1", 6)
	_, e2 := Edits(t, "r2", 4)
	fresh, _ := Edits(t, "r3", 4) // edits only ever in a snapshot, never appended

	appendOK(t, a, "wf", e1[:2])
	stale := load(t, b, "wf") // node B loads, then pauses
	appendOK(t, a, "wf", e1[2:])
	newer := load(t, a, "wf")
	newer.Merge(fresh)
	snapshotOK(t, a, "wf", newer) // A's snapshot holds r3's edits, not in any log
	appendOK(t, a, "wf", e2)      // and these are only in the log

	snapshotOK(t, b, "wf", stale) // B wakes up and snapshots its old document

	want := joinAll(t, append(append([]storage.Delta{}, e1...), e2...))
	want.Merge(fresh)
	for _, st := range []storage.Store{a, b} {
		if got := load(t, st, "wf"); !got.Equal(want) {
			t.Fatal("a stale snapshot lost edits from the log or from a newer snapshot")
		}
	}
}

func testConcurrentSnapshots(t *testing.T, s storage.Store, opts Options) {
	nodes := []storage.Store{s, peer(t, s, opts)}
	const writers = 4
	want := workflow.New()
	edits := make([][]storage.Delta, writers)
	for w := range writers {
		d, deltas := Edits(t, fmt.Sprintf("w%d", w), 8)
		want.Merge(d)
		edits[w] = deltas
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		versions = map[int64]bool{}
	)
	for w := range writers {
		node := nodes[w%len(nodes)]
		wg.Go(func() {
			ctx := context.Background()
			mine := workflow.New()
			for i, d := range edits[w] {
				if err := node.Append(ctx, "wf", []storage.Delta{d}); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				x, _ := workflow.Decode(d.Bytes(), workflow.DeltaLimits)
				mine.Merge(x)
				if i%3 == 2 {
					v, err := node.Snapshot(ctx, "wf", mine)
					if err != nil {
						t.Errorf("Snapshot: %v", err)
						return
					}
					mu.Lock()
					if versions[v] {
						t.Errorf("version %d returned twice", v)
					}
					versions[v] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, n := range nodes {
		if got := load(t, n, "wf"); !got.Equal(want) {
			t.Fatal("concurrent snapshots and appends lost an edit")
		}
	}
}

func testDeleteRemovesData(t *testing.T, s storage.Store, opts Options) {
	ctx := context.Background()
	other := peer(t, s, opts)
	doc, deltas := Edits(t, "r1", 4)
	appendOK(t, s, "wf", deltas[:2])
	snapshotOK(t, s, "wf", load(t, s, "wf"))
	appendOK(t, s, "wf", deltas[2:])
	if err := other.Delete(ctx, "wf"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, n := range []storage.Store{s, other} {
		if _, err := n.Snapshot(ctx, "wf", doc); !errors.Is(err, storage.ErrDeleted) {
			t.Errorf("Snapshot after Delete: err = %v, want ErrDeleted", err)
		}
		if err := n.Append(ctx, "wf", deltas); !errors.Is(err, storage.ErrDeleted) {
			t.Errorf("Append after Delete: err = %v, want ErrDeleted", err)
		}
		if _, err := n.Load(ctx, "wf"); !errors.Is(err, storage.ErrDeleted) {
			t.Errorf("Load after Delete: err = %v, want ErrDeleted", err)
		}
	}
	if _, err := s.Snapshot(ctx, "never-written", doc); err != nil {
		t.Fatalf("Snapshot of an unknown workflow: %v", err)
	}
	if err := s.Delete(ctx, "never-written"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshot(ctx, "never-written", doc); !errors.Is(err, storage.ErrDeleted) {
		t.Errorf("Snapshot after Delete of a snapshot-only workflow: err = %v, want ErrDeleted", err)
	}
	if opts.Count != nil {
		for _, wf := range []string{"wf", "never-written"} {
			if n, snaps := opts.Count(t, s, wf); n != 0 || snaps != 0 {
				t.Errorf("%s after Delete: %d log rows and %d snapshots remain", wf, n, snaps)
			}
		}
	}
}

func testSnapshotCancelledAndClosed(t *testing.T, s storage.Store) {
	doc, _ := Edits(t, "r1", 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Snapshot(ctx, "wf", doc); !errors.Is(err, context.Canceled) {
		t.Errorf("Snapshot with a cancelled context: err = %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshot(context.Background(), "wf", doc); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Snapshot after Close: err = %v, want ErrClosed", err)
	}
}
