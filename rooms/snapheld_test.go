package rooms

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
)

// keyStore records the rows appended through it and the keys each
// Snapshot was told its document holds.
type keyStore struct {
	storage.Store
	mu       sync.Mutex
	appended map[storage.RowKey]bool
	named    int // keys named over every snapshot
	foreign  []storage.RowKey
}

func (s *keyStore) Append(ctx context.Context, wf string, deltas []storage.Delta) error {
	err := s.Store.Append(ctx, wf, deltas)
	if err == nil {
		s.mu.Lock()
		for _, d := range deltas {
			s.appended[d.Hash()] = true
		}
		s.mu.Unlock()
	}
	return err
}

func (s *keyStore) Snapshot(ctx context.Context, wf string, doc *workflow.Doc, held ...storage.RowKey) (int64, error) {
	s.mu.Lock()
	for _, k := range held {
		if !s.appended[k] {
			s.foreign = append(s.foreign, k)
		}
	}
	s.named += len(held)
	s.mu.Unlock()
	return s.Store.Snapshot(ctx, wf, doc, held...)
}

// TestSnapshotsNameTheRoomsRows runs a room under edits with frequent
// snapshots while another writer appends to the same workflow behind the
// room's back: the snapshots name only rows the room wrote (so the store
// trims them unread), and what is stored at the end is the room's document
// joined with the other writer's rows, which were not named and so were
// read and joined.
func TestSnapshotsNameTheRoomsRows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := &keyStore{Store: memory.New(), appended: make(map[storage.RowKey]bool)}
		r := newRegistry(t, Config{SnapshotInterval: 5 * time.Millisecond, SnapshotMaxDelay: 10 * time.Millisecond, MaxClockLag: -1}, store)
		a := member("a", "ra")
		rm, err := r.Join(ctx, "wf", a, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		doc, clock := workflow.New(), crdt.NewClock("ra")
		other, otherClock := workflow.New(), crdt.NewClock("rb")
		wall := time.Now().UnixMilli()
		for i := range 600 {
			var op workflow.Op = workflow.UpdatePosition{ID: "mine", Position: workflow.Position{X: float64(i), Y: 1}}
			if i == 0 {
				op = promptBlock("mine", "a block of the editor's")
			}
			d, err := doc.Apply(clock.Now(wall+int64(i)), op)
			if err != nil {
				t.Fatal(err)
			}
			rm.SubmitDelta(a, fmt.Sprint("op-", i), d.Encode(), d)
			if i%100 == 50 {
				// Another node's write, which this room never merges.
				od, err := other.Apply(otherClock.Now(wall+int64(i)), promptBlock(fmt.Sprint("theirs-", i), "another node's"))
				if err != nil {
					t.Fatal(err)
				}
				if err := store.Store.Append(ctx, "wf", []storage.Delta{storage.NewDelta(od.Encode())}); err != nil {
					t.Fatal(err)
				}
			}
			if i%25 == 0 {
				advance(3 * time.Millisecond)
			}
		}
		advance(time.Second)
		live, err := rm.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := store.Load(ctx, "wf")
		if err != nil {
			t.Fatal(err)
		}
		store.mu.Lock()
		foreign, named := len(store.foreign), store.named
		store.mu.Unlock()
		if foreign > 0 {
			t.Fatalf("snapshots named %d rows the room did not write", foreign)
		}
		if named == 0 {
			t.Fatal("no snapshot named the room's rows: every row was read back")
		}
		want := live.Clone()
		want.Merge(other)
		if !stored.Equal(want) {
			t.Fatal("the store does not hold the room's document joined with the other writer's rows")
		}
		t.Logf("%d row keys named over the snapshots", named)
	})
}
