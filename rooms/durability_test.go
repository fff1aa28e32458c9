package rooms

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
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

func (s *testStore) Snapshot(ctx context.Context, wf string, doc *workflow.Doc) (int64, error) {
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
		time.Sleep(s.snapDelay)
	}
	var v int64
	err := errDown
	if !s.down.Load() && !s.snapFail.Load() {
		v, err = s.Store.Snapshot(ctx, wf, doc)
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

func TestSnapshotAfterQuietInterval(t *testing.T) {
	store := newTestStore()
	r := newRegistry(t, Config{SnapshotInterval: 60 * time.Millisecond, SnapshotMaxDelay: time.Second}, store)
	e := newEditor(t, r, "wf", member("a", "ra"))
	start := time.Now()
	id := e.add()
	waitUntil(t, "a snapshot", func() bool { return len(store.snapshots()) > 0 })
	s := store.snapshots()[0]
	if d := s.at.Sub(start); d < 50*time.Millisecond || d > 600*time.Millisecond {
		t.Errorf("snapshot %v after the change; want about the 60 ms interval", d)
	}
	if !hasBlock(s.doc, id) {
		t.Error("the snapshot lacks the change")
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(store.snapshots()); n != 1 {
		t.Errorf("%d snapshots of a document that did not change again", n)
	}
}

func TestSnapshotMaxDelayUnderConstantEdits(t *testing.T) {
	store := newTestStore()
	const interval, maxDelay = 100 * time.Millisecond, 300 * time.Millisecond
	r := newRegistry(t, Config{SnapshotInterval: interval, SnapshotMaxDelay: maxDelay}, store)
	e := newEditor(t, r, "wf", member("a", "ra"))
	start := time.Now()
	for time.Since(start) < 1100*time.Millisecond {
		e.add() // every 20 ms: the document is never quiet for 100 ms
		time.Sleep(20 * time.Millisecond)
	}
	snaps := store.snapshots()
	if len(snaps) < 2 || len(snaps) > 5 {
		t.Fatalf("%d snapshots in 1.1 s of constant edits; want about one per %v", len(snaps), maxDelay)
	}
	if d := snaps[0].at.Sub(start); d < maxDelay-20*time.Millisecond || d > maxDelay+300*time.Millisecond {
		t.Errorf("first snapshot %v after the first change; want about %v", d, maxDelay)
	}
	for i := 1; i < len(snaps); i++ {
		if gap := snaps[i].at.Sub(snaps[i-1].at); gap < interval {
			t.Errorf("snapshots %d and %d only %v apart (interval %v)", i-1, i, gap, interval)
		}
	}
}

func TestOneSnapshotInFlight(t *testing.T) {
	store := newTestStore()
	store.snapDelay = 150 * time.Millisecond
	r := newRegistry(t, Config{SnapshotInterval: time.Millisecond, SnapshotMaxDelay: 2 * time.Millisecond}, store)
	e := newEditor(t, r, "wf", member("a", "ra"))
	var last string
	for start := time.Now(); time.Since(start) < 600*time.Millisecond; time.Sleep(3 * time.Millisecond) {
		last = e.add()
	}
	if p := store.snapMaxPar.Load(); p != 1 {
		t.Fatalf("%d snapshots in flight at once", p)
	}
	// ~200 changes coalesced into a handful of snapshots, the last of
	// which holds the last change.
	waitUntil(t, "the last change snapshotted", func() bool {
		s := store.snapshots()
		return len(s) > 0 && hasBlock(s[len(s)-1].doc, last)
	})
	if n := len(store.snapshots()); n > 7 {
		t.Errorf("%d snapshots in 0.6 s of 150 ms snapshots", n)
	}
}

func TestEvictionSnapshots(t *testing.T) {
	store := newTestStore()
	r := newRegistry(t, Config{IdleTimeout: 30 * time.Millisecond, SnapshotInterval: time.Hour, SnapshotMaxDelay: time.Hour}, store)
	a := member("a", "ra")
	e := newEditor(t, r, "wf", a)
	id := e.add()
	waitUntil(t, "Durable", func() bool { return durableOps(t, a) == 1 })
	e.rm.Leave(a)
	waitUntil(t, "eviction", func() bool { return r.Len() == 0 })
	waitUntil(t, "the eviction snapshot", func() bool { return len(store.snapshots()) == 1 })
	if s := store.snapshots()[0]; s.err != nil || !hasBlock(s.doc, id) {
		t.Fatalf("eviction snapshot: err %v, has the change: %v", s.err, hasBlock(s.doc, id))
	}
}

func TestEvictionSnapshotFailingDoesNotPinTheRoom(t *testing.T) {
	store := newTestStore()
	store.snapFail.Store(true)
	r := newRegistry(t, Config{IdleTimeout: 30 * time.Millisecond, SnapshotInterval: time.Hour, SnapshotMaxDelay: time.Hour,
		RetryBackoff: 5 * time.Millisecond, EvictionSnapshotAttempts: 3}, store)
	for i := range 20 {
		a := member(fmt.Sprint("a", i), fmt.Sprint("ra", i))
		e := newEditor(t, r, fmt.Sprint("wf-", i), a)
		e.add()
		waitUntil(t, "Durable", func() bool { return durableOps(t, a) == 1 })
		e.rm.Leave(a)
	}
	waitUntil(t, "every room evicted", func() bool { return r.Len() == 0 })
	waitUntil(t, "background snapshots given up", func() bool { return r.BackgroundSnapshots() == 0 })
	if n := len(store.snapshots()); n != 60 {
		t.Errorf("%d snapshot attempts, want 20 rooms × 3", n)
	}
	// The log still holds everything: a new room loads it.
	b := member("b", "rb")
	if _, err := r.Join(context.Background(), "wf-7", b, JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	rm := r.Room("wf-7")
	doc, err := rm.Snapshot(context.Background())
	if err != nil || !hasBlock(doc, "a7-b1") {
		t.Fatalf("reloaded room lacks the durable change (err %v)", err)
	}
}

func TestShutdownSnapshot(t *testing.T) {
	store := newTestStore()
	r, err := NewRegistry(Config{SnapshotInterval: time.Hour, SnapshotMaxDelay: time.Hour}, store, nil, NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	a := member("a", "ra")
	e := newEditor(t, r, "wf", a)
	ids := []string{e.add(), e.add(), e.add()}
	waitUntil(t, "Applied", func() bool { n, _ := count[*protocol.Applied](t, a); return n == 3 })
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
}

func TestStoreDownRelayContinuesDurableWaits(t *testing.T) {
	store := newTestStore()
	r := newRegistry(t, Config{RetryBackoff: 5 * time.Millisecond, MaxRetryBackoff: 20 * time.Millisecond,
		SnapshotInterval: 10 * time.Millisecond, SnapshotMaxDelay: 20 * time.Millisecond}, store)
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
	waitUntil(t, "relays and Applied while the store is down", func() bool {
		applied, _ := count[*protocol.Applied](t, a)
		return relayedBlocks(t, b) == 10 && applied == 10
	})
	waitUntil(t, "degraded", func() bool { return !r.StoreHealth().OK })
	time.Sleep(100 * time.Millisecond) // several retries
	if n := durableOps(t, a); n != 0 {
		t.Fatalf("%d Durable ops while the store is down", n)
	}
	h := r.StoreHealth()
	if h.FailingSince.IsZero() || h.LastError == "" {
		t.Errorf("health %+v", h)
	}
	store.down.Store(false)
	waitUntil(t, "Durable after recovery", func() bool { return durableOps(t, a) == 10 })
	waitUntil(t, "healthy", func() bool { return r.StoreHealth().OK })
	doc, err := store.Store.Load(context.Background(), "wf")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		if !hasBlock(doc, fmt.Sprintf("a-b%d", i)) {
			t.Errorf("stored document lacks a-b%d", i)
		}
	}
}

func TestPendingBytesCapRefusesRetryably(t *testing.T) {
	store := newTestStore()
	store.down.Store(true)
	r := newRegistry(t, Config{MaxPendingBytes: 1000, RetryBackoff: 5 * time.Millisecond, MaxRetryBackoff: 10 * time.Millisecond}, store)
	a, b := member("a", "ra"), member("b", "rb")
	ea := newEditor(t, r, "wf", a)
	if _, err := r.Join(context.Background(), "wf", b, JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 40 {
		ea.add()
	}
	waitUntil(t, "40 answers", func() bool {
		applied, _ := count[*protocol.Applied](t, a)
		nacks, _ := count[*protocol.Nack](t, a)
		return applied+nacks == 40
	})
	applied, _ := count[*protocol.Applied](t, a)
	nacks, last := count[*protocol.Nack](t, a)
	if applied == 0 || nacks == 0 {
		t.Fatalf("applied %d, refused %d: want both", applied, nacks)
	}
	if last.Code != protocol.CodeStorageUnavailable || !last.Retryable {
		t.Fatalf("refusal %+v, want retryable STORAGE_UNAVAILABLE", last)
	}
	if relayed := relayedBlocks(t, b); relayed != applied {
		t.Fatalf("relayed %d, applied %d: a refused delta was relayed", relayed, applied)
	}
	store.down.Store(false)
	waitUntil(t, "Durable for every applied delta", func() bool { return durableOps(t, a) == applied })
}

func TestDeleteWorkflow(t *testing.T) {
	store := newTestStore()
	r := newRegistry(t, Config{}, store)
	a, b := member("a", "ra"), member("b", "rb")
	ea := newEditor(t, r, "wf", a)
	if _, err := r.Join(context.Background(), "wf", b, JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	ea.add()
	waitUntil(t, "Durable", func() bool { return durableOps(t, a) == 1 })
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
}

// Typing into one field under load: a burst of deltas is relayed as fewer
// frames, the joined frame keeps only the field's latest value, and every
// member still ends with the author's state.
func TestRelayCoalescesBurstsLatestWins(t *testing.T) {
	r := newRegistry(t, Config{}, newTestStore())
	a, b := member("a", "ra"), member("b", "rb")
	ea := newEditor(t, r, "wf", a)
	if _, err := r.Join(context.Background(), "wf", b, JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	id := ea.add()
	waitUntil(t, "block relayed", func() bool { return relayedBlocks(t, b) == 1 })
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
	waitUntil(t, "every keystroke applied", func() bool { n, _ := count[*protocol.Applied](t, a); return n == burst+1 })
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
}
