package client

import (
	"slices"
	"sync"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/protocol"
)

// TestOnRenameOncePerRename: a block this client added is suffixed by a
// merge ("Agent 4" added earlier elsewhere); OnRename reports it once, and
// unrelated merges or the rename being settled report nothing more.
func TestOnRenameOncePerRename(t *testing.T) {
	f := newFakeServer(t)
	var mu sync.Mutex
	var got []workflow.Renamed
	a := startClient(t, f, "alice", func(cfg *Config) {
		cfg.OnRename = func(r workflow.Renamed) {
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
		}
	})
	a.waitLive(t)
	mustApply(t, a.Client, addBlock("mine", "Agent 4"))
	a.waitSaved(t)

	other := workflow.New()
	relay := func(wall int64, op workflow.Op) {
		d := serverDelta(t, other, wall, op)
		f.emit(&protocol.RemoteDelta{WorkflowID: "wf-1", Delta: d.Encode(), Origin: protocol.Origin{UserID: "bob", ReplicaID: "other", SessionID: "s-other"}})
	}
	calls := func() []workflow.Renamed {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
	relay(1, addBlock("theirs", "Agent 4")) // written long before ours: ours is suffixed
	testutil.WaitFor(t, "OnRename", func() bool { return len(calls()) > 0 })
	want := []workflow.Renamed{{ID: "mine", Name: "Agent 4", ShownAs: "Agent 4 2"}}
	if c := calls(); !slices.Equal(c, want) {
		t.Fatalf("OnRename calls %v, want %v", c, want)
	}
	relay(2, addBlock("x", "Unrelated"))
	relay(3, workflow.UpdatePosition{ID: "theirs", Position: workflow.Position{X: 9}})
	testutil.WaitFor(t, "merges", func() bool { return len(a.View().Blocks) == 3 && a.View().Blocks["theirs"].Position.X == 9 })
	if c := calls(); len(c) != 1 {
		t.Fatalf("OnRename called %d times, want once per rename: %v", len(c), c)
	}
	if a.View().Blocks["mine"].Name != "Agent 4 2" {
		t.Fatalf("view shows %q", a.View().Blocks["mine"].Name)
	}
}
