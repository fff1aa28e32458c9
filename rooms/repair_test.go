package rooms

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// replicaEditor is a client replica for the repair tests.
type replicaEditor struct {
	t     *testing.T
	doc   *workflow.Doc
	clock *crdt.Clock
	wall  int64
}

func newReplicaEditor(t *testing.T, rid crdt.ReplicaID) *replicaEditor {
	return &replicaEditor{t: t, doc: workflow.New(), clock: crdt.NewClock(rid), wall: time.Now().UnixMilli()}
}

func (e *replicaEditor) apply(op workflow.Op) *workflow.Doc {
	e.t.Helper()
	e.wall += 10
	d, err := e.doc.Apply(e.clock.Now(e.wall), op)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func addAgent(id string, x float64) workflow.Op {
	return workflow.AddBlock{Block: workflow.BlockInput{ID: id, Type: "agent", Name: "Agent " + id, Position: &workflow.Position{X: x}}}
}

// crashScenario is the permanent divergence seen after a server crash: the
// server lost A's add of x (relayed, not yet durable), B had moved x and
// added y. B's re-send names A's lost dots in its context.
func crashScenario(t *testing.T) (a, b *replicaEditor, addX, folded *workflow.Doc) {
	a, b = newReplicaEditor(t, "rep-a"), newReplicaEditor(t, "rep-b")
	addX = a.apply(addAgent("x", 10))
	b.doc.Merge(addX)
	folded = workflow.New()
	folded.Merge(b.apply(workflow.UpdatePosition{ID: "x", Position: workflow.Position{X: 99, Y: 9}}))
	folded.Merge(b.apply(addAgent("y", 20)))
	return a, b, addX, folded
}

func lastFrame[F protocol.Frame](t *testing.T, m *fakeMember) F {
	t.Helper()
	var zero F
	var got F
	found := false
	for _, f := range m.decoded(t) {
		if x, ok := f.(F); ok {
			got, found = x, true
		}
	}
	if !found {
		t.Fatalf("member %s got no %T", m.sid, zero)
	}
	return got
}

// The honest re-send is taken (never FORGED_DOT); the dots it names that
// nobody can vouch for are left out; once A re-sends its add, the server
// shows what both clients show.
func TestHonestResendAfterCrashIsTaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, Config{}, memory.New())
		ctx := context.Background()
		ma, mb := member("sa", "rep-a"), member("sb", "rep-b")
		room, err := r.Join(ctx, "wf", mb, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a, b, addX, folded := crashScenario(t)
		room.SubmitDelta(mb, "b-1", folded.Encode(), folded)
		settled(t, "B's answer", func() bool {
			for _, f := range mb.decoded(t) {
				switch f := f.(type) {
				case *protocol.Applied:
					return f.OpID == "b-1"
				case *protocol.Nack:
					t.Fatalf("honest re-send refused: %+v", f)
				}
			}
			return false
		})
		if _, err := r.Join(ctx, "wf", ma, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		room.SubmitDelta(ma, "a-1", addX.Encode(), addX)
		settled(t, "A's add", func() bool {
			for _, f := range ma.decoded(t) {
				if ap, ok := f.(*protocol.Applied); ok && ap.OpID == "a-1" {
					return true
				}
			}
			return false
		})
		server, err := room.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a.doc.Merge(folded)
		sv, bv := server.View(), b.doc.View()
		if len(sv.Blocks) != 2 || sv.Blocks["x"].Position != bv.Blocks["x"].Position || sv.Blocks["y"].Name != bv.Blocks["y"].Name {
			t.Fatalf("server view %+v, B's view %+v", sv.Blocks, bv.Blocks)
		}
		if av := a.doc.View(); av.Blocks["x"].Position != sv.Blocks["x"].Position {
			t.Fatalf("A shows x at %v, the server at %v", av.Blocks["x"].Position, sv.Blocks["x"].Position)
		}
	})
}

// What the room relays is what it merged: the dots it left out are not in
// the RemoteDelta other members get.
func TestRelayCarriesOnlyWhatWasMerged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, Config{}, memory.New())
		ctx := context.Background()
		mb, mc := member("sb", "rep-b"), member("sc", "rep-c")
		room, err := r.Join(ctx, "wf", mb, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Join(ctx, "wf", mc, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		_, _, _, folded := crashScenario(t)
		room.SubmitDelta(mb, "b-1", folded.Encode(), folded)
		var relayed *workflow.Doc
		settled(t, "the relay", func() bool {
			for _, f := range mc.decoded(t) {
				if rd, ok := f.(*protocol.RemoteDelta); ok {
					d, err := workflow.Decode(rd.Delta, workflow.DeltaLimits)
					if err != nil {
						t.Fatal(err)
					}
					relayed = d
					return true
				}
			}
			return false
		})
		if relayed.Context().Max("rep-a") != 0 {
			t.Fatalf("relayed context names A's dots the room never saw: %v", relayed.Context().Ranges("rep-a"))
		}
		if relayed.Context().Max("rep-b") != folded.Context().Max("rep-b") {
			t.Fatal("relay lost B's own dots")
		}
	})
}

// Forged content under a held dot is refused, whoever's dot it is, and
// nothing of it is relayed.
func TestForgedContentUnderHeldDotRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, Config{}, memory.New())
		ctx := context.Background()
		ma, mm := member("sa", "rep-a"), member("sm", "rep-m")
		room, err := r.Join(ctx, "wf", ma, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a := newReplicaEditor(t, "rep-a")
		addX := a.apply(addAgent("x", 10))
		room.SubmitDelta(ma, "a-1", addX.Encode(), addX)
		if _, err := r.Join(ctx, "wf", mm, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		// Mallory rewrites x's name under A's dot.
		forged := workflow.New()
		forged.Context().Merge(addX.Context())
		addX.Store().Range(func(k workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
			for _, e := range es {
				if k.Kind == workflow.KindBlockField && k.Sub == workflow.FieldName {
					e.Value.Value = workflow.Value("\xa7Mallory")
				}
				forged.Store().Put(k, e.Dot, e.Value)
			}
			return true
		})
		room.SubmitDelta(mm, "m-1", forged.Encode(), forged)
		settled(t, "Mallory's answer", func() bool {
			for _, f := range mm.decoded(t) {
				if n, ok := f.(*protocol.Nack); ok && n.OpID == "m-1" {
					if n.Code != protocol.CodeForgedDot {
						t.Fatalf("nack %+v, want FORGED_DOT", n)
					}
					return true
				}
				if ap, ok := f.(*protocol.Applied); ok && ap.OpID == "m-1" {
					t.Fatal("forged content applied")
				}
			}
			return false
		})
		server, _ := room.Snapshot(ctx)
		if got := server.View().Blocks["x"].Name; got != "Agent x" {
			t.Fatalf("x is named %q", got)
		}
	})
}

// In a cluster, dots another node made durable are read back from the
// shared store before a delta naming them is vetted: the re-send is taken
// whole and the room ends equal to the client.
func TestUnseenDotsReadBackFromSharedStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New()
		fc := &fakeCluster{}
		r := newRegistry(t, Config{Cluster: fc}, store)
		fc.local = r.ClusterLocal()
		ctx := context.Background()
		mb := member("sb", "rep-b")
		room, err := r.Join(ctx, "wf", mb, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, b, addX, folded := crashScenario(t)
		// Another node admitted A's add and made it durable; the bus never
		// brought it here.
		if err := store.Append(ctx, "wf", []storage.Delta{storage.NewDelta(addX.Encode())}); err != nil {
			t.Fatal(err)
		}
		room.SubmitDelta(mb, "b-1", folded.Encode(), folded)
		settled(t, "B's answer", func() bool {
			for _, f := range mb.decoded(t) {
				if ap, ok := f.(*protocol.Applied); ok && ap.OpID == "b-1" {
					return true
				}
			}
			return false
		})
		server, _ := room.Snapshot(ctx)
		if !server.Equal(b.doc) {
			t.Fatalf("server %v differs from B %v", server.View().Blocks, b.doc.View().Blocks)
		}
	})
}

// A replica id reused after losing local state is refused at join, before
// its new dots can collide with held ones.
func TestJoinRefusesReplicaBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, Config{}, memory.New())
		ctx := context.Background()
		m := member("s1", "rep-a")
		room, err := r.Join(ctx, "wf", m, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a := newReplicaEditor(t, "rep-a")
		d1 := a.apply(addAgent("x", 1))
		room.SubmitDelta(m, "a-1", d1.Encode(), d1)
		settled(t, "the add", func() bool {
			doc, _ := room.Snapshot(ctx)
			return doc.Context().Max("rep-a") > 0
		})
		// The same replica, state lost: joins with nothing.
		fresh := member("s2", "rep-a")
		if _, err := r.Join(ctx, "wf", fresh, JoinOptions{}); ErrorCode(err) != protocol.CodeReplicaBehind {
			t.Fatalf("join with a lost state: %v, want REPLICA_BEHIND", err)
		}
		// A context with only part of its own dots is behind too.
		d2 := a.apply(addAgent("y", 2))
		room.SubmitDelta(m, "a-2", d2.Encode(), d2)
		settled(t, "the second add", func() bool {
			doc, _ := room.Snapshot(ctx)
			return doc.Context().Max("rep-a") == a.doc.Context().Max("rep-a")
		})
		if _, err := r.Join(ctx, "wf", fresh, JoinOptions{Have: d1.Context()}); ErrorCode(err) != protocol.CodeReplicaBehind {
			t.Fatalf("join with part of its dots: %v, want REPLICA_BEHIND", err)
		}
		// The replica with its state, and another replica, join fine.
		if _, err := r.Join(ctx, "wf", fresh, JoinOptions{Have: a.doc.Context()}); err != nil {
			t.Fatalf("join with the full state: %v", err)
		}
		if _, err := r.Join(ctx, "wf", member("s3", "rep-b"), JoinOptions{}); err != nil {
			t.Fatalf("another replica: %v", err)
		}
	})
}
