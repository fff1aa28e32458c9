package rooms

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// fakeCluster records what the rooms tell the cluster. Its Host asks the
// local for the room's context, as cluster.Node.Host does.
type fakeCluster struct {
	local *ClusterLocal

	mu        sync.Mutex
	calls     []string
	published [][]byte
	hostCtx   *crdt.Context
}

func (f *fakeCluster) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeCluster) Host(id string) error {
	c, _ := f.local.Context(id)
	f.mu.Lock()
	f.hostCtx = c
	f.mu.Unlock()
	f.note("host " + id)
	return nil
}
func (f *fakeCluster) Release(id string) { f.note("release " + id) }
func (f *fakeCluster) Publish(id string, d []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, d)
	return nil
}
func (f *fakeCluster) Delete(id string) error {
	f.note("delete " + id)
	return f.local.MarkDeleted(id)
}

func (f *fakeCluster) snapshot() ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls), len(f.published)
}

func remoteDelta(t testing.TB, replica, block string) *workflow.Doc {
	t.Helper()
	d, err := workflow.New().Apply(crdt.NewClock(crdt.ReplicaID(replica)).Now(time.Now().UnixMilli()),
		workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: block, Type: "agent", Name: block}}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestClusterLocalAndCalls(t *testing.T) {
	store := memory.New()
	fc := &fakeCluster{}
	r := newRegistry(t, Config{Cluster: fc, IdleTimeout: 50 * time.Millisecond}, store)
	fc.local = r.ClusterLocal()
	l := fc.local
	ctx := context.Background()

	// Not live: Apply goes to the store; DeltaSince reads it.
	if err := l.Apply("wf", remoteDelta(t, "peer", "stored")); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Context("wf"); ok {
		t.Fatal("context of a room that is not live")
	}
	d, ok := l.DeltaSince("wf", crdt.NewContext())
	if !ok || !hasBlock(d, "stored") {
		t.Fatalf("DeltaSince from the store: %v %v", ok, d)
	}
	if _, ok := l.DeltaSince("never", crdt.NewContext()); ok {
		t.Fatal("DeltaSince of an unknown workflow")
	}

	// Live: Host after the load (with the loaded context), Publish of
	// admitted deltas, Apply relayed to members without being published.
	m := member("s1", "r1")
	e := newEditor(t, r, "wf", m)
	waitUntil(t, "host", func() bool { c, _ := fc.snapshot(); return slices.Contains(c, "host wf") })
	fc.mu.Lock()
	hc := fc.hostCtx
	fc.mu.Unlock()
	if hc == nil || hc.IsEmpty() {
		t.Fatalf("Host saw context %v, want the loaded one", hc)
	}
	e.add()
	waitUntil(t, "publish", func() bool { _, n := fc.snapshot(); return n == 1 })
	if err := l.Apply("wf", remoteDelta(t, "peer2", "remote")); err != nil {
		t.Fatal(err)
	}
	if err := l.Apply("wf", remoteDelta(t, "peer2", "remote")); err != nil { // duplicate
		t.Fatal(err)
	}
	waitUntil(t, "relay of the remote delta", func() bool { return relayedBlocks(t, m) >= 1 })
	c, ok := l.Context("wf")
	if !ok || !c.Contains(crdt.Dot{Replica: "peer2", Counter: 1}) {
		t.Fatalf("context after Apply: %v %v", c, ok)
	}
	if _, n := fc.snapshot(); n != 1 {
		t.Fatalf("published %d deltas, want 1 (remote deltas are never published)", n)
	}
	waitUntil(t, "remote delta stored", func() bool {
		d, err := store.Load(ctx, "wf")
		return err == nil && hasBlock(d, "remote")
	})
	if d, ok := l.DeltaSince("wf", crdt.NewContext()); !ok || !hasBlock(d, "remote") || !hasBlock(d, e.m.sid+"-b1") {
		t.Fatalf("DeltaSince from the room: %v", ok)
	}

	// Eviction releases.
	r.rooms["wf"].Leave(m)
	waitUntil(t, "release", func() bool { c, _ := fc.snapshot(); return slices.Contains(c, "release wf") })

	// Delete goes through the cluster; deleted stays deleted.
	if err := r.DeleteWorkflow(ctx, "wf"); err != nil {
		t.Fatal(err)
	}
	if calls, _ := fc.snapshot(); !slices.Contains(calls, "delete wf") || !l.Deleted("wf") {
		t.Fatalf("calls %v, deleted %v", calls, l.Deleted("wf"))
	}
	if err := l.Apply("wf", remoteDelta(t, "peer3", "late")); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("Apply after delete: %v", err)
	}
	if _, ok := l.DeltaSince("wf", crdt.NewContext()); ok {
		t.Fatal("DeltaSince of a deleted workflow")
	}
	if _, _, err := r.Join(ctx, "wf", member("s2", "r2"), JoinOptions{}); ErrorCode(err) != protocol.CodeWorkflowDeleted {
		t.Fatalf("join after delete: %v", err)
	}
}

// A deletion learned from the store (another node deleted it, sharing the
// store) fills the tombstone cache.
func TestClusterLocalTombstoneFromStore(t *testing.T) {
	store := memory.New()
	r := newRegistry(t, Config{}, store)
	l := r.ClusterLocal()
	if err := store.Delete(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	if l.Deleted("gone") {
		t.Fatal("deleted before anyone looked")
	}
	if err := l.Apply("gone", remoteDelta(t, "p", "x")); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("Apply: %v", err)
	}
	if !l.Deleted("gone") {
		t.Fatal("the store's ErrDeleted did not reach the cache")
	}
}
