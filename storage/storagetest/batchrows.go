package storagetest

import (
	"testing"

	"github.com/flowsync/flowsync/storage"
)

// Batch rows: a room appends one delta per write, the join of the write's
// operations (storage.Merged). These cases check what that changes for a
// store: such a row loads as its operations would, a snapshot trims it,
// and the deltas it covers, re-sent alone or re-joined by a retried
// write, change nothing and add at most the rows they are.

func batchRowTests(opts Options) []struct {
	name string
	fn   func(t *testing.T, s storage.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"BatchRowsLoad", func(t *testing.T, s storage.Store) { testBatchRowsLoad(t, s, opts) }},
		{"BatchRowsTrimmed", func(t *testing.T, s storage.Store) { testBatchRowsTrimmed(t, s, opts) }},
		{"BatchRowsReSent", func(t *testing.T, s storage.Store) { testBatchRowsReSent(t, s, opts) }},
	}
}

// Batch returns the log row a room writes for deltas: their join, covering
// len(deltas) operations.
func Batch(t testing.TB, deltas []storage.Delta) storage.Delta {
	t.Helper()
	return storage.Merged(joinAll(t, deltas).Encode(), len(deltas))
}

func testBatchRowsLoad(t *testing.T, s storage.Store, opts Options) {
	want, deltas := Edits(t, "r1", 12)
	rows := []storage.Delta{Batch(t, deltas[:5]), Batch(t, deltas[5:6]), Batch(t, deltas[6:])}
	if rows[1].Ops() != 1 || rows[2].Ops() != 6 {
		t.Fatalf("Batch ops = %d, %d; want 1, 6", rows[1].Ops(), rows[2].Ops())
	}
	var before storage.Stats
	sr, hasStats := s.(storage.StatsReporter)
	if hasStats {
		before = sr.Stats()
	}
	appendOK(t, s, "wf", rows[:1])
	appendOK(t, s, "wf", rows[1:])
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("batch rows load to another document than their operations")
	}
	if hasStats {
		after := sr.Stats()
		if d := after.DeltasAppended - before.DeltasAppended; d != 3 {
			t.Errorf("DeltasAppended grew by %d, want 3 (one per row)", d)
		}
		if d := after.OpsAppended - before.OpsAppended; d != 12 {
			t.Errorf("OpsAppended grew by %d, want 12 (the operations the rows cover)", d)
		}
	}
	if opts.Count != nil {
		if n, _ := opts.Count(t, s, "wf"); n != 3 {
			t.Errorf("log rows = %d for 3 batch rows of 12 operations, want 3", n)
		}
	}
}

func testBatchRowsTrimmed(t *testing.T, s storage.Store, opts Options) {
	want, deltas := Edits(t, "r1", 10)
	appendOK(t, s, "wf", []storage.Delta{Batch(t, deltas[:4])})
	appendOK(t, s, "wf", []storage.Delta{Batch(t, deltas[4:])})
	// The caller's document covers only the first batch; the store joins
	// the rest from its log before trimming it.
	snapshotOK(t, s, "wf", joinAll(t, deltas[:4]))
	if opts.Count != nil {
		if n, snaps := opts.Count(t, s, "wf"); n != 0 || snaps != 1 {
			t.Errorf("after the snapshot: %d log rows, %d snapshots; want 0, 1", n, snaps)
		}
	}
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("a snapshot lost an operation of a batch row")
	}
	// A write after the snapshot is a row of its own.
	more, extra := Edits(t, "r2", 4)
	appendOK(t, s, "wf", []storage.Delta{Batch(t, extra)})
	want.Merge(more)
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("a batch row written after a snapshot did not load")
	}
}

func testBatchRowsReSent(t *testing.T, s storage.Store, opts Options) {
	want, deltas := Edits(t, "r1", 8)
	row := Batch(t, deltas)
	appendOK(t, s, "wf", []storage.Delta{row})
	// A retried write joins the same deltas again: same bytes, same key.
	appendOK(t, s, "wf", []storage.Delta{Batch(t, deltas)})
	if opts.Count != nil {
		if n, _ := opts.Count(t, s, "wf"); n != 1 {
			t.Errorf("log rows = %d after a retried batch write, want 1", n)
		}
	}
	// A client re-sends some of the operations; its room folds them into
	// its next write, alone or joined with each other.
	appendOK(t, s, "wf", []storage.Delta{deltas[3]})
	appendOK(t, s, "wf", []storage.Delta{Batch(t, deltas[1:3])})
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("re-sent operations of a stored batch row changed the document")
	}
	snapshotOK(t, s, "wf", joinAll(t, deltas[:1]))
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("a snapshot over re-sent batch rows changed the document")
	}
	if opts.Count != nil {
		if n, _ := opts.Count(t, s, "wf"); n != 0 {
			t.Errorf("log rows = %d after the snapshot, want 0", n)
		}
	}
}
