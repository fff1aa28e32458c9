package rooms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// testStore wraps the in-memory store: it records snapshots, can be taken
// down (appends and snapshots fail) and can slow snapshots down.
type testStore struct {
	storage.Store
	down         atomic.Bool
	snapFail     atomic.Bool
	snapDelay    time.Duration
	appends      atomic.Int64
	snapInflight atomic.Int64
	snapMaxPar   atomic.Int64

	mu    sync.Mutex
	snaps []snapCall
}

type snapCall struct {
	at  time.Time
	doc *workflow.Doc
	err error
}

var errDown = errors.New("store unreachable")

func newTestStore() *testStore { return &testStore{Store: memory.New()} }

func (s *testStore) Append(ctx context.Context, wf string, deltas []storage.Delta) error {
	s.appends.Add(1)
	if s.down.Load() {
		return errDown
	}
	return s.Store.Append(ctx, wf, deltas)
}

func (s *testStore) Snapshot(ctx context.Context, wf string, doc *workflow.Doc, held ...storage.RowKey) (int64, error) {
	n := s.snapInflight.Add(1)
	defer s.snapInflight.Add(-1)
	for {
		m := s.snapMaxPar.Load()
		if n <= m || s.snapMaxPar.CompareAndSwap(m, n) {
			break
		}
	}
	at := time.Now()
	if s.snapDelay > 0 {
		select {
		case <-time.After(s.snapDelay):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	var v int64
	err := errDown
	if !s.down.Load() && !s.snapFail.Load() {
		v, err = s.Store.Snapshot(ctx, wf, doc, held...)
	}
	s.mu.Lock()
	s.snaps = append(s.snaps, snapCall{at: at, doc: doc.Clone(), err: err})
	s.mu.Unlock()
	return v, err
}

func (s *testStore) snapshots() []snapCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]snapCall(nil), s.snaps...)
}

// editor submits deltas of replica rid through member m.
type editor struct {
	t     testing.TB
	rm    *Room
	m     *fakeMember
	doc   *workflow.Doc
	clock *crdt.Clock
	n     int
}

func newEditor(t testing.TB, r *Registry, wf string, m *fakeMember) *editor {
	t.Helper()
	rm, err := r.Join(context.Background(), wf, m, JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &editor{t: t, rm: rm, m: m, doc: workflow.New(), clock: crdt.NewClock(m.id.ReplicaID)}
}

// add submits one delta adding a block; it returns the block id.
func (e *editor) add() string {
	e.n++
	id := fmt.Sprintf("%s-b%d", e.m.sid, e.n)
	d, err := e.doc.Apply(e.clock.Now(time.Now().UnixMilli()), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: id}}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.rm.SubmitDelta(e.m, fmt.Sprintf("op-%d", e.n), d.Encode(), d)
	return id
}

func count[T protocol.Frame](t testing.TB, m *fakeMember) (n int, last T) {
	for _, f := range m.decoded(t) {
		if x, ok := f.(T); ok {
			n++
			last = x
		}
	}
	return n, last
}

// relayedBlocks merges every RemoteDelta m received and counts the blocks
// they show: relays may be coalesced, so frames are not counted.
func relayedBlocks(t testing.TB, m *fakeMember) int {
	doc := workflow.New()
	for _, f := range m.decoded(t) {
		if rd, ok := f.(*protocol.RemoteDelta); ok {
			d, err := workflow.Decode(rd.Delta, workflow.DeltaLimits)
			if err != nil {
				t.Fatalf("relayed delta: %v", err)
			}
			doc.Merge(d)
		}
	}
	return len(doc.View().Blocks)
}

func durableOps(t testing.TB, m *fakeMember) int {
	n := 0
	for _, f := range m.decoded(t) {
		if d, ok := f.(*protocol.Durable); ok {
			n += len(d.OpIDs)
		}
	}
	return n
}

func hasBlock(d *workflow.Doc, id string) bool {
	_, ok := d.View().Blocks[id]
	return ok
}

// A change is snapshotted once the document has been quiet for
// SnapshotInterval, and a document that does not change again is not
// snapshotted again.
func TestSnapshotAfterQuietInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newTestStore()
		r := newRegistry(t, Config{}, store)
		e := newEditor(t, r, "wf", member("a", "ra"))
		start := time.Now()
		id := e.add()
		advance(DefaultSnapshotInterval - time.Millisecond)
		if n := len(store.snapshots()); n != 0 {
			t.Fatalf("%d snapshots before the document was quiet for %v", n, DefaultSnapshotInterval)
		}
		advance(time.Millisecond)
		snaps := store.snapshots()
		if len(snaps) != 1 {
			t.Fatalf("%d snapshots once quiet for %v, want 1", len(snaps), DefaultSnapshotInterval)
		}
		if d := snaps[0].at.Sub(start); d != DefaultSnapshotInterval {
			t.Errorf("snapshot %v after the change, want %v", d, DefaultSnapshotInterval)
		}
		if !hasBlock(snaps[0].doc, id) {
			t.Error("the snapshot lacks the change")
		}
		advance(10 * DefaultSnapshotMaxDelay)
		if n := len(store.snapshots()); n != 1 {
			t.Errorf("%d snapshots of a document that did not change again", n)
		}
	})
}

// Under constant editing (never quiet for SnapshotInterval) a snapshot is
// taken SnapshotMaxDelay after the first change not yet captured.
func TestSnapshotMaxDelayUnderConstantEdits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newTestStore()
		r := newRegistry(t, Config{}, store)
		e := newEditor(t, r, "wf", member("a", "ra"))
		// Edits every 0.3 s: never quiet for the 1 s interval, and never at
		// the instant a snapshot timer fires (neither 1 s nor 10 s is a
		// multiple of 0.3 s), so the order of the two is never a tie.
		const every = 300 * time.Millisecond
		start := time.Now()
		var last string
		for time.Since(start) < 2*DefaultSnapshotMaxDelay+DefaultSnapshotInterval/2 {
			last = e.add()
			advance(every)
		}
		snaps := store.snapshots()
		// The first change, at 0, is captured at the max delay; the second
		// snapshot comes the max delay after the first edit that capture
		// missed.
		missed := (DefaultSnapshotMaxDelay/every + 1) * every
		want := []time.Duration{DefaultSnapshotMaxDelay, missed + DefaultSnapshotMaxDelay}
		var got []time.Duration
		for _, s := range snaps {
			got = append(got, s.at.Sub(start))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("snapshots at %v, want %v", got, want)
		}
		advance(DefaultSnapshotInterval)
		if s := store.snapshots(); len(s) != 3 || !hasBlock(s[2].doc, last) {
			t.Fatalf("%d snapshots once the edits stopped; want a third holding the last change", len(s))
		}
	})
}

// Snapshots slower than the changes coalesce: one in flight at a time, and
// the last holds the last change.
func TestOneSnapshotInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newTestStore()
		store.snapDelay = 150 * time.Millisecond
		r := newRegistry(t, Config{SnapshotInterval: time.Millisecond, SnapshotMaxDelay: 2 * time.Millisecond}, store)
		e := newEditor(t, r, "wf", member("a", "ra"))
		var last string
		for range 200 {
			last = e.add()
			advance(3 * time.Millisecond)
		}
		if p := store.snapMaxPar.Load(); p != 1 {
			t.Fatalf("%d snapshots in flight at once", p)
		}
		advance(time.Second)
		s := store.snapshots()
		if len(s) == 0 || !hasBlock(s[len(s)-1].doc, last) {
			t.Fatal("the last change was not snapshotted")
		}
		// 200 changes over 0.6 s, each snapshot taking 0.15 s: they
		// coalesce into one snapshot per 0.15 s, and one for the rest.
		if n := len(s); n < 2 || n > 6 {
			t.Errorf("%d snapshots of 200 changes in 0.6 s of 150 ms snapshots", n)
		}
	})
}

// A room evicted after IdleTimeout snapshots its dirty document in the
// background.
func TestEvictionSnapshots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newTestStore()
		r := newRegistry(t, Config{SnapshotInterval: time.Hour, SnapshotMaxDelay: time.Hour}, store)
		a := member("a", "ra")
		e := newEditor(t, r, "wf", a)
		id := e.add()
		settled(t, "Durable", func() bool { return durableOps(t, a) == 1 })
		e.rm.Leave(a)
		advance(DefaultIdleTimeout - time.Millisecond)
		if r.Len() != 1 {
			t.Fatal("evicted before IdleTimeout")
		}
		advance(time.Millisecond)
		if r.Len() != 0 {
			t.Fatal("not evicted after IdleTimeout")
		}
		snaps := store.snapshots()
		if len(snaps) != 1 {
			t.Fatalf("%d eviction snapshots, want 1", len(snaps))
		}
		if s := snaps[0]; s.err != nil || !hasBlock(s.doc, id) {
			t.Fatalf("eviction snapshot: err %v, has the change: %v", s.err, hasBlock(s.doc, id))
		}
	})
}

// A store that refuses every snapshot does not keep evicted rooms loaded:
// each eviction snapshot is tried EvictionSnapshotAttempts times in the
// background, and the log still holds every durable change.
func TestEvictionSnapshotFailingDoesNotPinTheRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newTestStore()
		store.snapFail.Store(true)
		r := newRegistry(t, Config{SnapshotInterval: time.Hour, SnapshotMaxDelay: time.Hour, EvictionSnapshotAttempts: 3}, store)
		for i := range 20 {
			a := member(fmt.Sprint("a", i), fmt.Sprint("ra", i))
			e := newEditor(t, r, fmt.Sprint("wf-", i), a)
			e.add()
			settled(t, "Durable", func() bool { return durableOps(t, a) == 1 })
			e.rm.Leave(a)
		}
		advance(DefaultIdleTimeout)
		if n := r.Len(); n != 0 {
			t.Fatalf("%d rooms still live after IdleTimeout", n)
		}
		// Three attempts: now, after RetryBackoff, after twice that.
		advance(3 * DefaultRetryBackoff)
		if n := r.BackgroundSnapshots(); n != 0 {
			t.Fatalf("%d background snapshots still running", n)
		}
		if n := len(store.snapshots()); n != 60 {
			t.Errorf("%d snapshot attempts, want 20 rooms × 3", n)
		}
		// The log still holds everything: a new room loads it.
		b := member("b", "rb")
		rm, err := r.Join(context.Background(), "wf-7", b, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		doc, err := rm.Snapshot(context.Background())
		if err != nil || !hasBlock(doc, "a7-b1") {
			t.Fatalf("reloaded room lacks the durable change (err %v)", err)
		}
	})
}

// Closing the registry writes what is pending, acks it and snapshots the
// dirty document once before closing the members with 1012.
func TestShutdownSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newTestStore()
		r, err := NewRegistry(Config{SnapshotInterval: time.Hour, SnapshotMaxDelay: time.Hour}, store, nil, NewMetrics(nil))
		if err != nil {
			t.Fatal(err)
		}
		a := member("a", "ra")
		e := newEditor(t, r, "wf", a)
		ids := []string{e.add(), e.add(), e.add()}
		settled(t, "Applied", func() bool { n, _ := count[*protocol.Applied](t, a); return n == 3 })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Fatal(err)
		}
		snaps := store.snapshots()
		if len(snaps) != 1 || snaps[0].err != nil {
			t.Fatalf("%d shutdown snapshots (%+v)", len(snaps), snaps)
		}
		for _, id := range ids {
			if !hasBlock(snaps[0].doc, id) {
				t.Errorf("shutdown snapshot lacks %s", id)
			}
		}
		if n := durableOps(t, a); n != 3 {
			t.Errorf("%d Durable ops before the 1012, want 3", n)
		}
		if a.closed != protocol.CloseServiceRestart {
			t.Errorf("closed with %d", a.closed)
		}
	})
}

// While the store is down the room keeps merging, relaying and acking
// Applied, retries the write with backoff and reports itself degraded;
// Durable comes once the store is back.
func TestStoreDownRelayContinuesDurableWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newTestStore()
		r := newRegistry(t, Config{}, store)
		a, b := member("a", "ra"), member("b", "rb")
		ea := newEditor(t, r, "wf", a)
		if _, err := r.Join(context.Background(), "wf", b, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		if !r.StoreHealth().OK {
			t.Fatal("unhealthy before any write")
		}
		store.down.Store(true)
		for range 10 {
			ea.add()
		}
		settled(t, "relays and Applied while the store is down", func() bool {
			applied, _ := count[*protocol.Applied](t, a)
			return relayedBlocks(t, b) == 10 && applied == 10
		})
		if r.StoreHealth().OK {
			t.Fatal("healthy after a failed write")
		}
		before := store.appends.Load()
		advance(time.Minute) // retries at 0.1, 0.3, 0.7, … s, then every MaxRetryBackoff
		if n := store.appends.Load() - before; n < 5 {
			t.Fatalf("%d append retries in a minute", n)
		}
		if n := durableOps(t, a); n != 0 {
			t.Fatalf("%d Durable ops while the store is down", n)
		}
		h := r.StoreHealth()
		if h.OK || h.FailingSince.IsZero() || h.LastError == "" {
			t.Errorf("health %+v", h)
		}
		store.down.Store(false)
		advance(DefaultMaxRetryBackoff)
		if n := durableOps(t, a); n != 10 {
			t.Fatalf("%d Durable ops after recovery, want 10", n)
		}
		if !r.StoreHealth().OK {
			t.Fatal("still degraded after a write succeeded")
		}
		doc, err := store.Store.Load(context.Background(), "wf")
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 10; i++ {
			if !hasBlock(doc, fmt.Sprintf("a-b%d", i)) {
				t.Errorf("stored document lacks a-b%d", i)
			}
		}
	})
}

// Past MaxPendingBytes waiting for the store, deltas are refused with the
// retryable STORAGE_UNAVAILABLE (and not relayed); the admitted ones become
// durable once the store is back.
func TestPendingBytesCapRefusesRetryably(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newTestStore()
		store.down.Store(true)
		r := newRegistry(t, Config{MaxPendingBytes: 1000}, store)
		a, b := member("a", "ra"), member("b", "rb")
		ea := newEditor(t, r, "wf", a)
		if _, err := r.Join(context.Background(), "wf", b, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		for range 40 {
			ea.add()
		}
		settle()
		applied, _ := count[*protocol.Applied](t, a)
		nacks, last := count[*protocol.Nack](t, a)
		if applied+nacks != 40 || applied == 0 || nacks == 0 {
			t.Fatalf("applied %d, refused %d of 40: want both, and every delta answered", applied, nacks)
		}
		if last.Code != protocol.CodeStorageUnavailable || !last.Retryable {
			t.Fatalf("refusal %+v, want retryable STORAGE_UNAVAILABLE", last)
		}
		if relayed := relayedBlocks(t, b); relayed != applied {
			t.Fatalf("relayed %d, applied %d: a refused delta was relayed", relayed, applied)
		}
		store.down.Store(false)
		advance(DefaultMaxRetryBackoff)
		if n := durableOps(t, a); n != applied {
			t.Fatalf("%d Durable ops, want one per applied delta (%d)", n, applied)
		}
	})
}

func TestDeleteWorkflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newTestStore()
		r := newRegistry(t, Config{}, store)
		a, b := member("a", "ra"), member("b", "rb")
		ea := newEditor(t, r, "wf", a)
		if _, err := r.Join(context.Background(), "wf", b, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		ea.add()
		settled(t, "Durable", func() bool { return durableOps(t, a) == 1 })
		if err := r.DeleteWorkflow(context.Background(), "wf"); err != nil {
			t.Fatal(err)
		}
		for _, m := range []*fakeMember{a, b} {
			n, ev := count[*protocol.Event](t, m)
			if n != 1 || ev.Kind != protocol.EventWorkflowDeleted {
				t.Errorf("%s: %d events, last %+v", m.sid, n, ev)
			}
			m.mu.Lock()
			code := m.closed
			m.mu.Unlock()
			if code != protocol.CloseWorkflowDeleted {
				t.Errorf("%s closed with %d, want 4503", m.sid, code)
			}
		}
		if r.Len() != 0 {
			t.Error("the deleted workflow's room is still live")
		}
		if _, err := r.Join(context.Background(), "wf", member("c", "rc"), JoinOptions{}); !errors.Is(err, storage.ErrDeleted) {
			t.Fatalf("join after delete: %v", err)
		}
		if _, err := store.Store.Load(context.Background(), "wf"); !errors.Is(err, storage.ErrDeleted) {
			t.Fatalf("load after delete: %v", err)
		}
		// Deleting a workflow with no live room only touches the store.
		if err := r.DeleteWorkflow(context.Background(), "other"); err != nil {
			t.Fatal(err)
		}
	})
}

// Typing into one field under load: a burst of deltas is relayed as fewer
// frames, the joined frame keeps only the field's latest value, and every
// member still ends with the author's state.
func TestRelayCoalescesBurstsLatestWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, Config{}, newTestStore())
		a, b := member("a", "ra"), member("b", "rb")
		ea := newEditor(t, r, "wf", a)
		if _, err := r.Join(context.Background(), "wf", b, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		id := ea.add()
		settled(t, "block relayed", func() bool { return relayedBlocks(t, b) == 1 })
		before, _ := count[*protocol.RemoteDelta](t, b)
		const burst = 200
		for i := range burst {
			d, err := ea.doc.Apply(ea.clock.Now(time.Now().UnixMilli()),
				workflow.UpdateSubBlock{BlockID: id, SubBlockID: "prompt", Value: fmt.Sprintf("typed %d", i)})
			if err != nil {
				t.Fatal(err)
			}
			ea.rm.SubmitDelta(a, fmt.Sprintf("type-%d", i), d.Encode(), d)
		}
		settled(t, "every keystroke applied", func() bool { n, _ := count[*protocol.Applied](t, a); return n == burst+1 })
		frames, _ := count[*protocol.RemoteDelta](t, b)
		frames -= before
		doc := workflow.New()
		for _, f := range b.decoded(t) {
			if rd, ok := f.(*protocol.RemoteDelta); ok {
				d, err := workflow.Decode(rd.Delta, workflow.DeltaLimits)
				if err != nil {
					t.Fatal(err)
				}
				if n := len(d.Store().Get(workflow.Key{Kind: workflow.KindSubBlock, ID: id, Sub: "prompt"})); n > 1 {
					t.Fatalf("a relayed frame holds %d values of one field; coalescing must keep the latest only", n)
				}
				doc.Merge(d)
			}
		}
		if !doc.Equal(ea.doc) {
			t.Fatalf("member b's state differs from the author's after coalesced relays")
		}
		if frames >= burst {
			t.Fatalf("%d frames for %d deltas sent in a burst: nothing was coalesced", frames, burst)
		}
		t.Logf("%d keystrokes relayed in %d frames", burst, frames)
	})
}
