// Package storagetest is the conformance suite every storage.Store
// implementation runs from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func() storage.Store { return memory.New() })
//	}
//
// It checks the contract documented on storage.Store: unknown workflows load
// empty, appends are joins (idempotent, order-independent, atomic per
// batch), a write's batch row (storage.Merged) loads, trims and survives
// re-sends like the operations it joins, rows a snapshot is told its
// document holds are trimmed unread, deleted stays deleted, closed
// stores refuse work, and concurrent use is safe; and the optional
// interfaces every store of the repository implements (Catalog,
// LockStore, CheckpointStore with its retention). RunCheckpointCrash
// (crash.go) is the persistent stores' kill -9 test of checkpoint saves.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
)

// Run runs the suite. newStore returns a fresh, empty store per subtest; Run
// closes it.
func Run(t *testing.T, newStore func() storage.Store) {
	t.Helper()
	RunWithOptions(t, newStore, Options{})
}

// RunWithOptions runs the suite with the store-specific hooks of opts.
func RunWithOptions(t *testing.T, newStore func() storage.Store, opts Options) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"LoadUnknownIsEmpty", testLoadUnknownIsEmpty},
		{"AppendThenLoad", testAppendThenLoad},
		{"AppendIsIdempotent", testAppendIsIdempotent},
		{"AppendOrderDoesNotMatter", testAppendOrderDoesNotMatter},
		{"AppendCorruptBatchStoresNothing", testAppendCorruptBatchStoresNothing},
		{"LoadReturnsACopy", testLoadReturnsACopy},
		{"WorkflowsAreSeparate", testWorkflowsAreSeparate},
		{"DeleteStaysDeleted", testDeleteStaysDeleted},
		{"CancelledContext", testCancelledContext},
		{"Closed", testClosed},
		{"ConcurrentAppends", testConcurrentAppends},
		{"ConcurrentAppendsAcrossWorkflows", testConcurrentAppendsAcrossWorkflows},
		{"Catalog", testCatalog},
		{"Locks", testLocks},
	}
	tests = append(tests, snapshotTests(opts)...)
	tests = append(tests, batchRowTests(opts)...)
	tests = append(tests, heldTests(opts)...)
	tests = append(tests, keyTests()...)
	tests = append(tests, checkpointTests()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore()
			defer s.Close()
			tc.fn(t, s)
		})
	}
}

// Edits builds n deltas from one replica: block adds and renames, the
// shape a room appends. It is exported for store-specific tests.
func Edits(t testing.TB, replica string, n int) (final *workflow.Doc, deltas []storage.Delta) {
	t.Helper()
	doc := workflow.New()
	clock := crdt.NewClock(crdt.ReplicaID(replica))
	wall := int64(1_700_000_000_000)
	for i := range n {
		wall += 1000
		id := fmt.Sprintf("%s-b%d", replica, i/2)
		var op workflow.Op
		if i%2 == 0 {
			op = workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: fmt.Sprintf("Agent %s %d", replica, i)}}}
		} else {
			op = workflow.UpdateName{ID: id, NewName: fmt.Sprintf("Renamed %s %d", replica, i)}
		}
		d, err := doc.Apply(clock.Now(wall), op)
		if err != nil {
			t.Fatalf("storagetest: building edit %d: %v", i, err)
		}
		deltas = append(deltas, storage.NewDelta(d.Encode()))
	}
	return doc, deltas
}

func load(t *testing.T, s storage.Store, wf string) *workflow.Doc {
	t.Helper()
	d, err := s.Load(context.Background(), wf)
	if err != nil {
		t.Fatalf("Load(%q): %v", wf, err)
	}
	if d == nil {
		t.Fatalf("Load(%q) returned a nil document", wf)
	}
	return d
}

func appendOK(t *testing.T, s storage.Store, wf string, deltas []storage.Delta) {
	t.Helper()
	if err := s.Append(context.Background(), wf, deltas); err != nil {
		t.Fatalf("Append(%q, %d deltas): %v", wf, len(deltas), err)
	}
}

func testLoadUnknownIsEmpty(t *testing.T, s storage.Store) {
	if d := load(t, s, "never-written"); !d.IsEmpty() {
		t.Fatal("an unknown workflow must load as an empty document")
	}
}

func testAppendThenLoad(t *testing.T, s storage.Store) {
	want, deltas := Edits(t, "r1", 6)
	appendOK(t, s, "wf", deltas[:2])
	appendOK(t, s, "wf", deltas[2:])
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("loaded document differs from the join of the appended deltas")
	}
}

func testAppendIsIdempotent(t *testing.T, s storage.Store) {
	want, deltas := Edits(t, "r1", 4)
	appendOK(t, s, "wf", deltas)
	appendOK(t, s, "wf", deltas)
	appendOK(t, s, "wf", deltas[1:3])
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("re-sent deltas changed the stored document")
	}
}

func testAppendOrderDoesNotMatter(t *testing.T, s storage.Store) {
	want, deltas := Edits(t, "r1", 6)
	for i := len(deltas) - 1; i >= 0; i-- {
		appendOK(t, s, "wf", deltas[i:i+1])
	}
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("appending in reverse order gave another document")
	}
}

func testAppendCorruptBatchStoresNothing(t *testing.T, s storage.Store) {
	_, deltas := Edits(t, "r1", 2)
	big := workflow.New()
	dot := crdt.Dot{Replica: "r9", Counter: 1}
	big.Store().Put(workflow.Key{Kind: workflow.KindSubBlock, ID: "b", Sub: "s"}, dot,
		workflow.Cell{Value: msgpackx.AppendString(nil, strings.Repeat("x", workflow.DeltaLimits.MaxBytes))})
	big.Context().Add(dot)
	for name, bad := range map[string]storage.Delta{
		"the zero Delta":        {},
		"over the log row size": storage.NewDelta(big.Encode()),
	} {
		err := s.Append(context.Background(), "wf", []storage.Delta{deltas[0], bad})
		if !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("Append with %s: err = %v, want ErrCorrupt", name, err)
		}
		if d := load(t, s, "wf"); !d.IsEmpty() {
			t.Fatalf("a batch refused for %s stored something", name)
		}
	}
	if _, err := storage.DecodeDelta([]byte{0x01, 0xc1}); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("DecodeDelta of garbage: err = %v, want ErrCorrupt", err)
	}
	if d, err := storage.DecodeDelta(deltas[1].Bytes()); err != nil || d.Hash() != deltas[1].Hash() {
		t.Fatalf("DecodeDelta of a delta: %x, %v; want the key NewDelta gives it", d.Hash(), err)
	}
}

func testLoadReturnsACopy(t *testing.T, s storage.Store) {
	want, deltas := Edits(t, "r1", 2)
	appendOK(t, s, "wf", deltas)
	d := load(t, s, "wf")
	extra, _ := Edits(t, "r2", 2)
	d.Merge(extra)
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("changing a loaded document changed the store")
	}
}

func testWorkflowsAreSeparate(t *testing.T, s storage.Store) {
	wantA, a := Edits(t, "r1", 2)
	wantB, b := Edits(t, "r2", 3)
	appendOK(t, s, "a", a)
	appendOK(t, s, "b", b)
	if !load(t, s, "a").Equal(wantA) || !load(t, s, "b").Equal(wantB) {
		t.Fatal("workflows share state")
	}
}

func testDeleteStaysDeleted(t *testing.T, s storage.Store) {
	ctx := context.Background()
	_, deltas := Edits(t, "r1", 2)
	appendOK(t, s, "wf", deltas)
	if err := s.Delete(ctx, "wf"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(ctx, "wf"); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if err := s.Delete(ctx, "never-written"); err != nil {
		t.Fatalf("Delete of an unknown workflow: %v", err)
	}
	if _, err := s.Load(ctx, "wf"); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("Load after Delete: err = %v, want ErrDeleted", err)
	}
	if err := s.Append(ctx, "wf", deltas); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("Append after Delete: err = %v, want ErrDeleted", err)
	}
	if _, err := s.Load(ctx, "never-written"); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("Load of a deleted unknown workflow: err = %v, want ErrDeleted", err)
	}
	if d := load(t, s, "other"); !d.IsEmpty() {
		t.Fatal("Delete touched another workflow")
	}
}

func testCancelledContext(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, deltas := Edits(t, "r1", 1)
	if _, err := s.Load(ctx, "wf"); !errors.Is(err, context.Canceled) {
		t.Errorf("Load: err = %v, want context.Canceled", err)
	}
	if err := s.Append(ctx, "wf", deltas); !errors.Is(err, context.Canceled) {
		t.Errorf("Append: err = %v, want context.Canceled", err)
	}
	if err := s.Delete(ctx, "wf"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete: err = %v, want context.Canceled", err)
	}
}

func testClosed(t *testing.T, s storage.Store) {
	ctx := context.Background()
	_, deltas := Edits(t, "r1", 1)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Load(ctx, "wf"); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Load after Close: err = %v, want ErrClosed", err)
	}
	if err := s.Append(ctx, "wf", deltas); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Append after Close: err = %v, want ErrClosed", err)
	}
	if err := s.Delete(ctx, "wf"); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Delete after Close: err = %v, want ErrClosed", err)
	}
}

func testConcurrentAppends(t *testing.T, s storage.Store) {
	const writers = 4
	want := workflow.New()
	batches := make([][]storage.Delta, writers)
	for w := range writers {
		d, deltas := Edits(t, fmt.Sprintf("r%d", w), 10)
		want.Merge(d)
		batches[w] = deltas
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for _, d := range batches[w] {
				if err := s.Append(context.Background(), "wf", []storage.Delta{d}); err != nil {
					t.Errorf("Append: %v", err)
				}
				if _, err := s.Load(context.Background(), "wf"); err != nil {
					t.Errorf("Load: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("concurrent appends lost a delta")
	}
}

// testConcurrentAppendsAcrossWorkflows appends to several workflows at once,
// one of them deleted: stores that write several workflows' batches in one
// transaction (storage/postgres) must still answer each call on its own.
func testConcurrentAppendsAcrossWorkflows(t *testing.T, s storage.Store) {
	const workflows = 6
	ctx := context.Background()
	if err := s.Delete(ctx, "wf-deleted"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	want := make([]*workflow.Doc, workflows)
	batches := make([][]storage.Delta, workflows)
	for w := range workflows {
		want[w], batches[w] = Edits(t, fmt.Sprintf("r%d", w), 8)
	}
	var wg sync.WaitGroup
	for w := range workflows {
		wg.Go(func() {
			for _, d := range batches[w] {
				if err := s.Append(ctx, fmt.Sprintf("wf-%d", w), []storage.Delta{d}); err != nil {
					t.Errorf("Append wf-%d: %v", w, err)
				}
			}
		})
		wg.Go(func() {
			if err := s.Append(ctx, "wf-deleted", batches[w][:1]); !errors.Is(err, storage.ErrDeleted) {
				t.Errorf("Append to a deleted workflow next to live ones: err = %v, want ErrDeleted", err)
			}
		})
	}
	wg.Wait()
	for w := range workflows {
		if got := load(t, s, fmt.Sprintf("wf-%d", w)); !got.Equal(want[w]) {
			t.Errorf("wf-%d: concurrent appends across workflows lost a delta", w)
		}
	}
	if _, err := s.Load(ctx, "wf-deleted"); !errors.Is(err, storage.ErrDeleted) {
		t.Errorf("Load of the deleted workflow: err = %v, want ErrDeleted", err)
	}
}
