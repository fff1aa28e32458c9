package rooms

import (
	"bytes"
	"context"
	"fmt"
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

// loopDoc is a document holding one loop with n agent blocks inside,
// written by replica "w" at wall times from 1_700_000_000_000 on.
func loopDoc(t testing.TB, n int) *workflow.Doc {
	t.Helper()
	d := workflow.New()
	clock := crdt.NewClock("w")
	wall := int64(1_700_000_000_000)
	apply := func(op workflow.Op) {
		wall++
		if _, err := d.Apply(clock.Now(wall), op); err != nil {
			t.Fatal(err)
		}
	}
	apply(workflow.AddBlock{Block: workflow.BlockInput{ID: "loop", Type: "loop", Name: "Outer loop"}})
	for i := 0; i < n; i += 500 {
		var batch workflow.BatchAddBlocks
		for j := i; j < min(i+500, n); j++ {
			batch.Blocks = append(batch.Blocks, workflow.BlockInput{ID: fmt.Sprint("c", j), Type: "agent", Name: fmt.Sprint("Child ", j),
				Data: map[string]any{"parentId": "loop", "extent": "parent"}})
		}
		apply(batch)
	}
	return d
}

// replayed is the document a member holds after merging every CatchUp and
// RemoteDelta it was sent.
func replayed(t testing.TB, m *fakeMember) *workflow.Doc {
	t.Helper()
	doc := workflow.New()
	for _, f := range m.decoded(t) {
		var raw []byte
		switch f := f.(type) {
		case *protocol.CatchUp:
			raw = f.Delta
		case *protocol.RemoteDelta:
			raw = f.Delta
		default:
			continue
		}
		d, err := workflow.Decode(raw, workflow.DocLimits)
		if err != nil {
			t.Fatal(err)
		}
		doc.Merge(d)
	}
	return doc
}

// TestLargeRemovalIsStepped removes a loop of 10,000 blocks, by a client's
// delta, a thin client's operation, the admin API, another node's delta
// and a reload of the store (another node made it durable), while a second
// member edits: the removal is merged in steps of at
// most RemovalStep values (an operation is prepared in steps first); the second member's edit, sent after the removal
// started, is relayed before the removal; the remover's next operation
// (which reuses a name the removal frees) waits for it and is applied; a
// member that joins mid-way, the watcher and the room end with the same
// document, the one merging everything at once gives; the store holds it.
func TestLargeRemovalIsStepped(t *testing.T) {
	const children, budget = 10_000, 2_000
	seed := loopDoc(t, children)
	for _, via := range []string{"delta", "operation", "cluster", "apply", "refresh"} {
		t.Run(via, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := memory.New()
				ctx := context.Background()
				if _, err := store.Snapshot(ctx, "wf", seed); err != nil {
					t.Fatal(err)
				}
				var steps []int
				var rm *Room
				var hook func(step int)
				r := newRegistry(t, Config{RemovalStep: budget, MaxClockLag: -1, onStep: func(removed int, _ time.Duration) {
					steps = append(steps, removed)
					hook(len(steps))
				}}, store)
				a, b, w := member("a", "ra"), member("b", "rb"), member("w", "rw")
				joiner := member("j", "rj")
				for _, m := range []*fakeMember{w, a, b} {
					var err error
					if rm, err = r.Join(ctx, "wf", m, JoinOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				now := time.Now().UnixMilli()
				removal, err := seed.Prepare(crdt.Timestamp{Wall: now, Replica: "ra"}, workflow.RemoveBlock{ID: "loop"})
				if err != nil {
					t.Fatal(err)
				}
				edit, err := seed.Prepare(crdt.Timestamp{Wall: now, Replica: "rb"}, workflow.AddBlock{Block: workflow.BlockInput{ID: "side", Type: "agent", Name: "Side"}})
				if err != nil {
					t.Fatal(err)
				}
				joined := make(chan joinReply, 1)
				applyDurable := make(chan error, 1)
				since := make(chan *workflow.Doc, 1)
				hook = func(step int) {
					// In the room loop, after a step: what arrives now
					// must go before the next one.
					switch step {
					case 1:
						rm.SubmitDelta(b, "b-1", edit.Encode(), edit)
						if via == "delta" || via == "operation" {
							// The name is free only once the removal is
							// merged (its block goes in the last part).
							rm.SubmitOperation(a, "a-2", workflow.AddBlock{Block: workflow.BlockInput{ID: "again", Type: "agent", Name: fmt.Sprint("Child ", children-1)}})
						}
					case 2:
						rm.inbox <- &joinEvent{m: joiner, reply: joined}
						// Another node's catch-up: it waits for the end.
						rm.inbox <- sinceEvent{have: crdt.NewContext(), reply: since}
					}
				}
				removed := 0
				seed.Store().Range(func(k workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
					if k.ID == "loop" || k.ID[0] == 'c' {
						removed += len(es)
					}
					return true
				})
				switch via {
				case "delta":
					rm.SubmitDelta(a, "a-1", removal.Encode(), removal)
				case "operation":
					rm.SubmitOperation(a, "a-1", workflow.RemoveBlock{ID: "loop"})
				case "cluster":
					go func() {
						if err := r.ClusterLocal().Apply("wf", removal); err != nil {
							t.Error(err)
						}
					}()
				case "refresh":
					// Written to the store behind the room's back (an
					// import); the Event makes the room read it back.
					if err := store.Append(ctx, "wf", []storage.Delta{storage.NewDelta(removal.Encode())}); err != nil {
						t.Fatal(err)
					}
					rm.Event(protocol.EventWorkflowUpdated, "imported")
				case "apply":
					// The admin API: the second operation reuses a name the
					// first frees, and runs once the first is merged.
					go func() {
						res, err := r.Apply(ctx, "wf", Identity{UserID: "admin", Role: protocol.RoleAdmin}, []workflow.Op{
							workflow.RemoveBlock{ID: "loop"},
							workflow.AddBlock{Block: workflow.BlockInput{ID: "again", Type: "agent", Name: fmt.Sprint("Child ", children-1)}},
						})
						if err != nil {
							t.Error(err)
							return
						}
						for i, o := range res.Results {
							if o.Err != nil {
								t.Errorf("operation %d: %v", i, o.Err)
							}
						}
						if len(res.Results) != 2 {
							t.Errorf("%d results", len(res.Results))
						}
						applyDurable <- <-res.Durable
					}()
				}
				settle()
				select {
				case jr := <-joined:
					if jr.err != nil {
						t.Fatalf("the join mid-way failed: %v", jr.err)
					}
				default:
					t.Fatal("no join mid-way: the removal took fewer than 2 steps")
				}
				select {
				case d := <-since:
					if n := blocksIn(d); n != 0 {
						t.Fatalf("a cluster catch-up served mid-way holds %d of the removed blocks", n)
					}
				default:
					t.Fatal("the cluster catch-up was never answered")
				}
				merges, prepares := 0, 0
				for _, n := range steps {
					if n == 0 {
						prepares++
					} else {
						merges++
					}
				}
				mb := budget
				if via == "operation" {
					mb = budget / 2 // recorded for the thin client's undo: half parts
				}
				if merges < removed/mb || merges > removed/mb+2 {
					t.Fatalf("%d values removed in %d steps of %d", removed, merges, mb)
				}
				if server := via == "operation" || via == "apply"; server && prepares < 2*children/(budget/4) {
					// The walk and the collection, budget/4 blocks a step.
					t.Fatalf("the server's Prepare took %d steps", prepares)
				} else if !server && prepares > 1 {
					t.Fatalf("%d steps removed nothing", prepares)
				}
				for i, n := range steps {
					if n > budget {
						t.Fatalf("step %d removed %d values, budget %d", i, n, budget)
					}
				}
				// The watcher saw B's edit before the removal.
				var origins []string
				for _, f := range w.decoded(t) {
					if rd, ok := f.(*protocol.RemoteDelta); ok {
						origins = append(origins, rd.Origin.UserID)
					}
				}
				remover := map[string]string{"cluster": remoteOrigin.UserID, "refresh": remoteOrigin.UserID, "apply": "admin"}[via]
				if remover == "" {
					remover = "u-a"
				}
				if len(origins) < 2 || origins[0] != "u-b" || origins[1] != remover {
					t.Fatalf("relays to the watcher by %v, want u-b, then %s", origins, remover)
				}
				// A's frames: the removal's Applied, then its next op's.
				var acks []string
				for _, f := range a.decoded(t) {
					switch f := f.(type) {
					case *protocol.Applied:
						acks = append(acks, f.OpID)
					case *protocol.Nack:
						t.Fatalf("%s refused: %s", f.OpID, f.Message)
					}
				}
				want := "[a-1 a-2]"
				if via == "cluster" || via == "apply" || via == "refresh" {
					want = "[]"
				}
				if fmt.Sprint(acks) != want {
					t.Fatalf("A's acks %v, want %s", acks, want)
				}
				// Everyone converges on the whole merge.
				final, err := rm.Snapshot(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if final.Store().Len() > 64 {
					t.Fatalf("%d keys left after the removal", final.Store().Len())
				}
				for _, m := range []*fakeMember{w, joiner, b} {
					got := replayed(t, m)
					if m == b {
						got.Merge(edit) // its own, never relayed back
					}
					if !bytes.Equal(got.Encode(), final.Encode()) {
						t.Fatalf("%s's replayed document differs from the room's", m.sid)
					}
				}
				if via == "apply" {
					if _, ok := final.View().Blocks["again"]; !ok {
						t.Fatal("the Apply's second operation is missing")
					}
				}
				if via != "operation" && via != "apply" {
					whole := seed.Clone()
					whole.Merge(removal)
					whole.Merge(edit)
					check := final.Clone()
					check.Merge(whole)
					if !bytes.Equal(check.Encode(), final.Encode()) {
						t.Fatal("the room's document lacks part of the whole merge")
					}
				}
				advance(time.Second)
				if via == "apply" {
					if err := <-applyDurable; err != nil {
						t.Fatalf("Durable: %v", err)
					}
				}
				stored, err := store.Load(ctx, "wf")
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(stored.Encode(), final.Encode()) {
					t.Fatal("the store's document differs from the room's")
				}
			})
		})
	}
}

// childrenStore keeps snapshots only (as snapshotOnlyStore) and records,
// after each snapshot, how many of a loopDoc's blocks the stored document
// still holds.
type childrenStore struct {
	snapshotOnlyStore
	mu     sync.Mutex
	counts []int
}

func (s *childrenStore) Snapshot(ctx context.Context, id string, doc *workflow.Doc, held ...storage.RowKey) (int64, error) {
	v, err := s.snapshotOnlyStore.Snapshot(ctx, id, doc, held...)
	if err != nil {
		return v, err
	}
	stored, err := s.Load(ctx, id)
	if err != nil {
		return v, err
	}
	s.mu.Lock()
	s.counts = append(s.counts, blocksIn(stored))
	s.mu.Unlock()
	return v, nil
}

// blocksIn counts the blocks of a loopDoc a document still holds.
func blocksIn(doc *workflow.Doc) int {
	n := 0
	doc.Store().Range(func(k workflow.Key, _ []crdt.Dotted[workflow.Cell]) bool {
		if k.Kind == workflow.KindBlock && (k.ID == "loop" || k.ID[0] == 'c') {
			n++
		}
		return true
	})
	return n
}

// TestSteppedRemovalMidway interrupts a stepped removal by a client's
// delta: a snapshot taken mid-way never stores part of it; the author
// leaving mid-way does not stop it (it is merged, relayed and stored, with
// no Applied to anyone); a shutdown whose deadline has passed either
// finishes it or drops it whole, and only a finished one is acknowledged.
func TestSteppedRemovalMidway(t *testing.T) {
	const children, budget = 3_000, 500
	seed := loopDoc(t, children)
	for _, what := range []string{"snapshot", "leave", "shutdown"} {
		t.Run(what, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				store := &childrenStore{snapshotOnlyStore: snapshotOnlyStore{memory.New()}}
				if _, err := store.Snapshot(ctx, "wf", seed); err != nil {
					t.Fatal(err)
				}
				var rm *Room
				var r *Registry
				a, w := member("a", "ra"), member("w", "rw")
				steps := 0
				closed := make(chan error, 1)
				cfg := Config{RemovalStep: budget, MaxClockLag: -1, SnapshotInterval: time.Hour, onStep: func(int, time.Duration) {
					steps++
					if steps != 2 {
						return
					}
					switch what {
					case "snapshot":
						if !rm.snap.inflight {
							rm.startSnapshot("test")
						}
					case "leave":
						rm.inbox <- leaveEvent{a}
					case "shutdown":
						gone, cancel := context.WithCancel(ctx)
						cancel()
						go func() { closed <- r.Close(gone) }()
					}
				}}
				r = newRegistry(t, cfg, store)
				for _, m := range []*fakeMember{w, a} {
					var err error
					if rm, err = r.Join(ctx, "wf", m, JoinOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				removal, err := seed.Prepare(crdt.Timestamp{Wall: time.Now().UnixMilli(), Replica: "ra"}, workflow.RemoveBlock{ID: "loop"})
				if err != nil {
					t.Fatal(err)
				}
				rm.SubmitDelta(a, "a-1", removal.Encode(), removal)
				settle()
				if steps < 2 {
					t.Fatalf("%d steps", steps)
				}
				applied := false
				for _, f := range a.decoded(t) {
					if _, ok := f.(*protocol.Applied); ok {
						applied = true
					}
				}
				relayed := false
				for _, f := range w.decoded(t) {
					if _, ok := f.(*protocol.RemoteDelta); ok {
						relayed = true
					}
				}
				store.mu.Lock()
				counts := slices.Clone(store.counts)
				store.mu.Unlock()
				for _, n := range counts {
					if n != 0 && n != children+1 {
						t.Fatalf("a snapshot stored %d of the %d blocks: a partial removal (all snapshots: %v)", n, children+1, counts)
					}
				}
				switch what {
				case "snapshot":
					if len(counts) < 2 || counts[1] != children+1 {
						t.Fatalf("snapshots stored %v blocks, want the mid-way one to hold them all", counts)
					}
					if !applied || !relayed {
						t.Fatalf("applied %v, relayed %v after the removal", applied, relayed)
					}
				case "leave":
					if applied || !relayed {
						t.Fatalf("applied %v, relayed %v: want relayed to the watcher, no Applied to the one who left", applied, relayed)
					}
				case "shutdown":
					if err := <-closed; err == nil {
						// The deadline had passed: Close reports it unless
						// every room was done first.
						t.Log("the room finished before the deadline was seen")
					}
					if applied != relayed {
						t.Fatalf("applied %v, relayed %v: an outcome between finished and dropped", applied, relayed)
					}
					t.Logf("steps %d, applied %v", steps, applied)
				}
			})
		})
	}
}

// TestSteppedMergeKeepsTyping: a client's delta that removes a large loop
// and types into a prompt outside it (what a client's catch-up after a
// reconnect looks like) is merged in steps; the room ends holding the
// typing, and the author's re-send of the typing alone (its outbox entry,
// never acknowledged before the reconnect) is applied, not refused as
// FORGED_DOT, as fault campaigns once saw after server kills.
func TestSteppedMergeKeepsTyping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seed := loopDoc(t, 3_000)
		wall := time.Now().UnixMilli()
		clock := crdt.NewClock("w")
		if _, err := seed.Apply(clock.Now(wall), workflow.AddBlock{Block: workflow.BlockInput{ID: "p", Type: "agent", Name: "P",
			SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "hello"}}}}); err != nil {
			t.Fatal(err)
		}
		store := memory.New()
		ctx := context.Background()
		if _, err := store.Snapshot(ctx, "wf", seed); err != nil {
			t.Fatal(err)
		}
		steps := 0
		r := newRegistry(t, Config{RemovalStep: 500, MaxClockLag: -1, onStep: func(int, time.Duration) { steps++ }}, store)
		a := member("a", "ra")
		rm, err := r.Join(ctx, "wf", a, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tt := workflow.TextTarget{BlockID: "p", SubBlockID: "prompt"}
		mine := seed.Clone()
		ac := crdt.NewClock("ra")
		typed, err := mine.Apply(ac.Now(wall+1), workflow.InsertText{TextTarget: tt, Index: 5, Text: " world"})
		if err != nil {
			t.Fatal(err)
		}
		removal, err := mine.Apply(ac.Now(wall+2), workflow.RemoveBlock{ID: "loop"})
		if err != nil {
			t.Fatal(err)
		}
		catchUp := typed.Clone()
		catchUp.Merge(removal)
		rm.SubmitDelta(a, "a-1", catchUp.Encode(), catchUp)
		settle()
		if steps < 2 {
			t.Fatalf("the catch-up was merged in %d steps, want several", steps)
		}
		rm.SubmitDelta(a, "a-2", typed.Encode(), typed)
		settle()
		applied := map[string]bool{}
		for _, f := range a.decoded(t) {
			switch f := f.(type) {
			case *protocol.Applied:
				applied[f.OpID] = true
			case *protocol.Nack:
				t.Fatalf("%s refused: %s %s", f.OpID, f.Code, f.Message)
			}
		}
		if !applied["a-1"] || !applied["a-2"] {
			t.Fatalf("applied %v, want a-1 and a-2", applied)
		}
		doc, err := r.Document(ctx, "wf")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := doc.Text(tt); got != "hello world" {
			t.Fatalf("the room holds %q, want %q", got, "hello world")
		}
	})
}
