package rooms

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
)

// shadowClient is one editing replica of TestShadowFollowsEveryMerge.
type shadowClient struct {
	m     *fakeMember
	doc   *workflow.Doc
	clock *crdt.Clock
}

// TestShadowFollowsEveryMerge drives a room's handlers directly with random
// edits through every path that merges into its document — client deltas
// (vetted), thin-client operations, vouched deltas, other nodes' deltas and
// store reloads — and checks, at random points and at the end, that the
// loaded document joined with the shadow replica is exactly the room's
// document: what the snapshot side writes covers every merge.
func TestShadowFollowsEveryMerge(t *testing.T) {
	seed := testutil.Seed(t, 0)
	rng := rand.New(rand.NewPCG(seed, seed))
	ctx := context.Background()
	store := memory.New()
	base := buildDoc(t, 30)
	if _, err := store.Snapshot(ctx, "wf", base); err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, Config{ServerReplicaID: "server", Receipts: testKeyring(t), MaxClockLag: -1}, store)
	rm := newRoom(r, "wf")
	if !rm.load() {
		t.Fatal(rm.loadErr)
	}
	var clients []*shadowClient
	for _, rid := range []string{"ra", "rb", "rc"} {
		c := &shadowClient{m: member("s-"+rid, rid), doc: base.Clone(), clock: crdt.NewClock(crdt.ReplicaID(rid))}
		reply := make(chan joinReply, 1)
		rm.handleJoin(&joinEvent{m: c.m, opts: JoinOptions{Have: base.Context().Clone()}, reply: reply})
		if res := <-reply; res.err != nil {
			t.Fatal(res.err)
		}
		clients = append(clients, c)
	}
	other := &shadowClient{doc: base.Clone(), clock: crdt.NewClock("node-2")} // another node's editor
	wall := int64(1_800_000_000_000)
	ids := slices.Sorted(maps.Keys(base.View().Blocks))
	check := func(step int, path string) {
		t.Helper()
		rm.shadow.write(func(sh *workflow.Doc, _ uint64) {
			got := base.Clone()
			got.Merge(sh)
			if !got.Equal(rm.doc) {
				t.Fatalf("step %d (after %s): loaded ⊔ shadow is not the room's document", step, path)
			}
			// What reads of the whole document off the loop join (capture.go).
			got, err := decodeChunks(rm.base.chunks)
			if err != nil {
				t.Fatal(err)
			}
			got.Merge(sh)
			if !got.Equal(rm.doc) {
				t.Fatalf("step %d (after %s): the encoded base ⊔ shadow is not the room's document", step, path)
			}
		})
	}
	counts := map[string]int{}
	for step := range 1500 {
		wall += int64(rng.IntN(50))
		c := clients[rng.IntN(len(clients))]
		path := []string{"delta", "delta", "delta", "vouch", "remote", "operation", "refresh"}[rng.IntN(7)]
		if path == "remote" || path == "refresh" {
			c = other
		}
		op := randomOp(rng, step, ids)
		if add, ok := op.(workflow.BatchAddBlocks); ok {
			ids = append(ids, add.Blocks[0].ID)
		}
		opID := fmt.Sprint("op-", step)
		switch path {
		case "operation":
			rm.handleOperation(&opEvent{m: c.m, opID: opID, op: op})
		default:
			d, err := c.doc.Apply(c.clock.Now(wall), op)
			if err != nil {
				continue // refused on the client: nothing to send
			}
			raw := d.Encode()
			switch path {
			case "delta":
				rm.handleDelta(&deltaEvent{m: c.m, opID: opID, raw: raw, delta: d})
			case "vouch":
				rm.handleVouch(&vouchEvent{m: c.m, opID: opID, raw: raw, delta: d, receipt: rm.sign(raw)})
			case "remote":
				reply := make(chan error, 1)
				rm.handleRemote(&remoteEvent{delta: d, reply: reply})
				if err := <-reply; err != nil {
					t.Fatalf("remote delta: %v", err)
				}
			case "refresh":
				// Another node made it durable; this room reads it back.
				if err := store.Append(ctx, "wf", []storage.Delta{storage.NewDelta(raw)}); err != nil {
					t.Fatal(err)
				}
				stored, err := store.Load(ctx, "wf")
				if err != nil {
					t.Fatal(err)
				}
				rm.refresh.inflight = true
				rm.handleRefresh(reloaded(stored, rm.doc.Context()))
			}
		}
		counts[path]++
		if len(rm.pending) > 512 {
			rm.pending, rm.pendingBytes = nil, 0 // nothing writes them here
		}
		// Clients learn what others wrote, so their removals and
		// overwrites cover other replicas' dots.
		if rng.IntN(4) == 0 {
			c := clients[rng.IntN(len(clients))]
			c.doc.Merge(rm.doc.DeltaSince(c.doc.Context()))
		}
		if rng.IntN(5) == 0 {
			other.doc.Merge(rm.doc.DeltaSince(other.doc.Context()))
		}
		if rng.IntN(40) == 0 {
			check(step, path)
		}
	}
	check(-1, "the last step")
	t.Logf("merges by path: %v; %d blocks in the view", counts, len(rm.doc.View().Blocks))
}

// randomOp returns an edit of one of the blocks in ids (or a new block).
func randomOp(rng *rand.Rand, step int, ids []string) workflow.Op {
	id := ids[rng.IntN(len(ids))]
	switch rng.IntN(7) {
	case 0:
		nid := fmt.Sprintf("new-%d", step)
		return workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: nid, Type: "agent", Name: "Agent " + nid,
			SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: nid}}}}}
	case 1:
		return workflow.BatchRemoveBlocks{IDs: []string{id}}
	case 2:
		return workflow.UpdateName{ID: id, NewName: fmt.Sprintf("Renamed %d", step)}
	case 3:
		return workflow.AddEdge{Edge: workflow.EdgeInput{ID: fmt.Sprintf("e-%d", step), Source: id, Target: ids[rng.IntN(len(ids))]}}
	case 4:
		return workflow.UpdateSubBlock{BlockID: id, SubBlockID: "prompt", Value: fmt.Sprintf("text %d", step)}
	default:
		return workflow.UpdatePosition{ID: id, Position: workflow.Position{X: float64(step), Y: float64(rng.IntN(100))}}
	}
}

// snapshotOnlyStore keeps snapshots and drops appends, so what it loads is
// what snapshots wrote.
type snapshotOnlyStore struct{ storage.Store }

func (snapshotOnlyStore) Append(context.Context, string, []storage.Delta) error { return nil }

// TestSnapshotsCoverALiveRoom runs a real room (its goroutine, the fold
// and snapshot goroutines) under a stream of edits with snapshots every few
// milliseconds, over a store that keeps snapshots only, then checks that
// the stored document is the room's: the snapshots, written from the
// shadow while the loop kept merging, lost nothing.
func TestSnapshotsCoverALiveRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := snapshotOnlyStore{memory.New()}
		base := buildDoc(t, 20)
		if _, err := store.Snapshot(ctx, "wf", base); err != nil {
			t.Fatal(err)
		}
		r := newRegistry(t, Config{SnapshotInterval: 5 * time.Millisecond, SnapshotMaxDelay: 10 * time.Millisecond, MaxClockLag: -1}, store)
		a := member("a", "ra")
		rm, err := r.Join(ctx, "wf", a, JoinOptions{Have: base.Context().Clone()})
		if err != nil {
			t.Fatal(err)
		}
		doc, clock := base.Clone(), crdt.NewClock("ra")
		wall := time.Now().UnixMilli()
		for i := range 2000 {
			var op workflow.Op = workflow.UpdatePosition{ID: "mine", Position: workflow.Position{X: float64(i), Y: 1}}
			if i == 0 {
				op = promptBlock("mine", "a block of the editor's")
			}
			d, err := doc.Apply(clock.Now(wall+int64(i)), op)
			if err != nil {
				t.Fatal(err)
			}
			rm.SubmitDelta(a, fmt.Sprint("op-", i), d.Encode(), d)
			if i%50 == 0 {
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
		if !stored.Equal(live) {
			t.Fatal("the snapshots do not hold the room's document")
		}
		if !stored.Equal(doc) {
			t.Fatal("the room's document is not the editor's")
		}
	})
}
