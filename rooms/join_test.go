package rooms

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// The room alone answers a Join, in one EnqueueReply: Joined first, then
// every CatchUp in sequence, the last marked; joining them gives the
// document.
func TestJoinReplyComesWhole(t *testing.T) {
	store := memory.New()
	want := buildDoc(t, 200)
	if _, err := store.Snapshot(context.Background(), "wf", want); err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, Config{MaxCatchUpChunk: 4 << 10}, store)
	a := member("a", "ra")
	if _, err := r.Join(context.Background(), "wf", a, JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	fs := a.decoded(t)
	j, ok := fs[0].(*protocol.Joined)
	if !ok {
		t.Fatalf("first frame %T, want Joined", fs[0])
	}
	chunks := fs[1:]
	if j.CatchUpChunks < 2 || uint64(len(chunks)) != j.CatchUpChunks {
		t.Fatalf("Joined announces %d chunks, the member has %d more frames", j.CatchUpChunks, len(chunks))
	}
	got := workflow.New()
	for i, f := range chunks {
		c, ok := f.(*protocol.CatchUp)
		if !ok || c.Seq != uint64(i) || c.Last != (i == len(chunks)-1) {
			t.Fatalf("reply frame %d: %+v", i+1, f)
		}
		d, err := workflow.Decode(c.Delta, workflow.DeltaLimits)
		if err != nil {
			t.Fatal(err)
		}
		got.Merge(d)
	}
	if !got.Equal(want) {
		t.Fatal("the catch-up is not the document")
	}
}

// A member whose queue cannot take Joined is dropped as a slow consumer,
// as for any frame.
func TestJoinReplyRefusedIsSlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, Config{}, nil)
		full := member("f", "rf")
		full.limit = 1 // and the queue is full: Enqueue fails
		full.frames = [][]byte{nil}
		if _, err := r.Join(context.Background(), "wf", full, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		settled(t, "the slow-consumer close", func() bool {
			full.mu.Lock()
			defer full.mu.Unlock()
			return full.closed == protocol.CloseSlowConsumer
		})
	})
}
