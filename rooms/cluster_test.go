package rooms

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
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
	presence  [][]byte // PublishPresence entries, in order
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
func (f *fakeCluster) PublishPresence(id string, entry []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "presence "+id)
	f.presence = append(f.presence, entry)
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
	synctest.Test(t, func(t *testing.T) {
		store := memory.New()
		fc := &fakeCluster{}
		r := newRegistry(t, Config{Cluster: fc}, store)
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
		settled(t, "host", func() bool { c, _ := fc.snapshot(); return slices.Contains(c, "host wf") })
		fc.mu.Lock()
		hc := fc.hostCtx
		fc.mu.Unlock()
		if hc == nil || hc.IsEmpty() {
			t.Fatalf("Host saw context %v, want the loaded one", hc)
		}
		e.add()
		settled(t, "publish", func() bool { _, n := fc.snapshot(); return n == 1 })
		if err := l.Apply("wf", remoteDelta(t, "peer2", "remote")); err != nil {
			t.Fatal(err)
		}
		if err := l.Apply("wf", remoteDelta(t, "peer2", "remote")); err != nil { // duplicate
			t.Fatal(err)
		}
		settled(t, "relay of the remote delta", func() bool { return relayedBlocks(t, m) >= 1 })
		c, ok := l.Context("wf")
		if !ok || !c.Contains(crdt.Dot{Replica: "peer2", Counter: 1}) {
			t.Fatalf("context after Apply: %v %v", c, ok)
		}
		if _, n := fc.snapshot(); n != 1 {
			t.Fatalf("published %d deltas, want 1 (remote deltas are never published)", n)
		}
		// Written once MinWriteInterval has passed since the previous write.
		advance(DefaultMinWriteInterval)
		if d, err := store.Load(ctx, "wf"); err != nil || !hasBlock(d, "remote") {
			t.Fatalf("remote delta not stored: %v", err)
		}
		if d, ok := l.DeltaSince("wf", crdt.NewContext()); !ok || !hasBlock(d, "remote") || !hasBlock(d, e.m.sid+"-b1") {
			t.Fatalf("DeltaSince from the room: %v", ok)
		}

		// Eviction releases.
		r.rooms["wf"].Leave(m)
		advance(DefaultIdleTimeout)
		if c, _ := fc.snapshot(); !slices.Contains(c, "release wf") {
			t.Fatalf("no release after eviction: %v", c)
		}

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
		if _, err := r.Join(ctx, "wf", member("s2", "r2"), JoinOptions{}); ErrorCode(err) != protocol.CodeWorkflowDeleted {
			t.Fatalf("join after delete: %v", err)
		}
	})
}

// A deletion made by another node sharing the store, or before this
// process started, is answered from the store (see also
// TestDeletedAnswersFromTheStore).
func TestClusterLocalTombstoneFromStore(t *testing.T) {
	store := memory.New()
	r := newRegistry(t, Config{}, store)
	l := r.ClusterLocal()
	if err := store.Delete(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	if !l.Deleted("gone") {
		t.Fatal("a deletion in the store is not seen by a node that never hosted the workflow")
	}
	if err := l.Apply("gone", remoteDelta(t, "p", "x")); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("Apply: %v", err)
	}
}

// lastPresence decodes the last entry published (nil: withdrawn, or none).
func (f *fakeCluster) lastPresence(t testing.TB) []protocol.RosterEntry {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.presence) == 0 || f.presence[len(f.presence)-1] == nil {
		return nil
	}
	last := f.presence[len(f.presence)-1]
	fr, err := protocol.Decode(last, protocol.Limits{})
	if err != nil {
		t.Fatalf("published presence does not decode: %v", err)
	}
	ros, ok := fr.(*protocol.Roster)
	if !ok || ros.WorkflowID != "wf" {
		t.Fatalf("published presence is %#v", fr)
	}
	return ros.Entries
}

func sessions(es []protocol.RosterEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.SessionID
	}
	slices.Sort(out)
	return out
}

// lastRoster returns the sessions of the last roster m was sent (Joined or
// Roster).
func lastRoster(t testing.TB, m *fakeMember) []string {
	var es []protocol.RosterEntry
	for _, f := range m.decoded(t) {
		switch f := f.(type) {
		case *protocol.Joined:
			es = f.Roster
		case *protocol.Roster:
			es = f.Entries
		}
	}
	return sessions(es)
}

func rosterEntry(t testing.TB, entries ...protocol.RosterEntry) []byte {
	t.Helper()
	return protocol.AppendFrame(nil, &protocol.Roster{WorkflowID: "wf", Entries: entries})
}

// The room publishes its local roster (after Host, without cursors) when
// its membership changes, and shows other nodes' entries to its members
// until they go.
func TestClusterPresence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := &fakeCluster{}
		r := newRegistry(t, Config{Cluster: fc}, nil)
		fc.local = r.ClusterLocal()
		l := fc.local
		ctx := context.Background()

		m1 := member("s1", "r1")
		rm, err := r.Join(ctx, "wf", m1, JoinOptions{TabSessionID: "tab-1"})
		if err != nil {
			t.Fatal(err)
		}
		settled(t, "presence of s1", func() bool {
			es := fc.lastPresence(t)
			return slices.Equal(sessions(es), []string{"s1"})
		})
		calls, _ := fc.snapshot()
		if h, p := slices.Index(calls, "host wf"), slices.Index(calls, "presence wf"); h < 0 || p < h {
			t.Fatalf("presence published before Host: %v", calls)
		}
		rm.Presence(m1, &protocol.Point{X: 1, Y: 2}, protocol.Selection{Type: protocol.SelectBlock, ID: "b"}, protocol.TextCaret{})

		// Another node's members: shown; a ghost of s1's tab (it moved here)
		// is not.
		remote := protocol.RosterEntry{SessionID: "n2-s9", UserID: "u-n2", Name: "n2", Role: protocol.RoleWrite, JoinedAtMs: 1, LastActivityMs: 1}
		ghost := protocol.RosterEntry{SessionID: "n2-old", TabSessionID: "tab-1", UserID: "u-s1", Role: protocol.RoleWrite, JoinedAtMs: 1, LastActivityMs: 1}
		l.RemotePresence("wf", "node-2", rosterEntry(t, remote, ghost))
		settled(t, "remote entry shown", func() bool { return slices.Equal(lastRoster(t, m1), []string{"n2-s9", "s1"}) })
		// Ignored: an entry that does not decode, a workflow not live here, an
		// entry of another workflow.
		l.RemotePresence("wf", "node-3", []byte("junk"))
		l.RemotePresence("other", "node-2", rosterEntry(t, remote))
		l.RemotePresence("wf", "node-4", protocol.AppendFrame(nil, &protocol.Roster{WorkflowID: "elsewhere", Entries: []protocol.RosterEntry{remote}}))

		// A join sees local and remote entries; only local ones are published,
		// without cursor or selection.
		m2 := member("s2", "r2")
		if _, err := r.Join(ctx, "wf", m2, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := lastRoster(t, m2); !slices.Equal(got, []string{"n2-s9", "s1", "s2"}) {
			t.Fatalf("joined roster %v", got)
		}
		settled(t, "presence of s1 and s2", func() bool {
			es := fc.lastPresence(t)
			return slices.Equal(sessions(es), []string{"s1", "s2"})
		})
		es := fc.lastPresence(t)
		for _, e := range es {
			if e.Cursor != nil || !e.Selection.IsZero() {
				t.Fatalf("published entry with cursor or selection: %+v", e)
			}
		}

		// The node's entries go: the members get the roster without them.
		l.RemotePresence("wf", "node-2", nil)
		settled(t, "remote entry dropped", func() bool {
			return slices.Equal(lastRoster(t, m1), []string{"s1", "s2"}) && slices.Equal(lastRoster(t, m2), []string{"s1", "s2"})
		})

		// Leaves republish; the last one withdraws.
		rm.Leave(m2)
		settled(t, "presence after s2 left", func() bool {
			es := fc.lastPresence(t)
			return slices.Equal(sessions(es), []string{"s1"})
		})
		rm.Leave(m1)
		settled(t, "presence withdrawn", func() bool {
			fc.mu.Lock()
			defer fc.mu.Unlock()
			return len(fc.presence) > 0 && fc.presence[len(fc.presence)-1] == nil
		})
	})
}
