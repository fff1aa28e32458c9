package rooms

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// remoteSince returns the RemoteDelta frames m was sent after its first n
// frames.
func remoteSince(t *testing.T, m *fakeMember, n int) []*protocol.RemoteDelta {
	var out []*protocol.RemoteDelta
	for _, f := range m.decoded(t)[n:] {
		if rd, ok := f.(*protocol.RemoteDelta); ok {
			out = append(out, rd)
		}
	}
	return out
}

// TestEchoOnlyWhenChanged: an author is not sent its own delta back when
// the room took it as it was, and is sent what the room took when Vet
// changed it: here an entry whose dot the room has seen removed, which the
// author drops by merging the echo, converging with the room.
func TestEchoOnlyWhenChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, Config{}, nil)
		a, b := member("a", "ra"), member("b", "rb")
		rm, err := r.Join(context.Background(), "wf", a, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Join(context.Background(), "wf", b, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		wall := time.Now().UnixMilli()
		ca, cb := crdt.NewClock("ra"), crdt.NewClock("rb")
		docA, docB := workflow.New(), workflow.New()

		// A adds a block: taken as it was, relayed to B only.
		d1, err := docA.Apply(ca.Now(wall), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b1", Type: "agent", Name: "First"}}})
		if err != nil {
			t.Fatal(err)
		}
		n := len(a.decoded(t))
		rm.SubmitDelta(a, "op-1", d1.Encode(), d1)
		settle()
		if got := remoteSince(t, a, n); len(got) != 0 {
			t.Fatalf("A was sent %d frames of its own unchanged delta", len(got))
		}

		// B renames it: the room has seen A's name dot removed.
		docB.Merge(d1)
		d2, err := docB.Apply(cb.Now(wall+1), workflow.UpdateName{ID: "b1", NewName: "Second"})
		if err != nil {
			t.Fatal(err)
		}
		rm.SubmitDelta(b, "op-b", d2.Encode(), d2)
		settle()

		// A, before merging the rename, moves the block and resends its
		// outbox folded: the fold carries the old name entry.
		d3, err := docA.Apply(ca.Now(wall+2), workflow.UpdatePosition{ID: "b1", Position: workflow.Position{X: 5, Y: 6}})
		if err != nil {
			t.Fatal(err)
		}
		fold := workflow.New()
		fold.Merge(d1)
		fold.Merge(d3)
		n = len(a.decoded(t))
		rm.SubmitDelta(a, "op-2", fold.Encode(), fold)
		settle()
		echo := remoteSince(t, a, n)
		if len(echo) != 1 {
			t.Fatalf("A was sent %d frames of its changed delta, want 1", len(echo))
		}
		got, err := workflow.Decode(echo[0].Delta, workflow.DeltaLimits)
		if err != nil {
			t.Fatal(err)
		}
		if got.Equal(fold) {
			t.Fatal("the echo is the delta A sent, not what the room took")
		}
		// Merging the echo drops the name the room has seen removed; with
		// the rename A had not merged yet, A holds what the room holds.
		docA.Merge(got)
		if name := docA.View().Blocks["b1"].Name; name == "First" {
			t.Fatal("A still shows the name the room has seen removed after merging the echo")
		}
		docA.Merge(d2)
		snap, err := rm.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !docA.Equal(snap) {
			t.Fatalf("A holds %+v, the room %+v", docA.View().Blocks["b1"], snap.View().Blocks["b1"])
		}
	})
}
