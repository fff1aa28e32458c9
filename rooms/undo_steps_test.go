package rooms

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// TestUndoCaptureInSteps: a thin client's removal of a container of 3,000
// blocks is merged in parts of RemovalStep values, and its undo capture
// goes with them: no single capture touches more keys than a part removes
// (captured at once, one touched every key of the 3,000 blocks in the turn
// of the last prepare step). The undo then brings every block back.
func TestUndoCaptureInSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		// The fake clock starts in 2000; loopDoc was written in 2023.
		time.Sleep(time.Until(time.UnixMilli(1_700_000_100_000)))
		const n, step = 3000, 512
		seed := loopDoc(t, n)
		store := memory.New()
		if _, err := store.Snapshot(ctx, "wf", seed); err != nil {
			t.Fatal(err)
		}
		r := newRegistry(t, Config{RemovalStep: step, MaxClockLag: -1}, store)
		thin := member("thin", "")
		rm, err := r.Join(ctx, "wf", thin, JoinOptions{Have: seed.Context().Clone()})
		if err != nil {
			t.Fatal(err)
		}
		captures, most := 0, 0
		stop := workflow.CountUndoCapture(func(keys int) {
			captures++
			most = max(most, keys)
		})
		defer stop()
		rm.SubmitOperation(thin, "remove", workflow.RemoveBlock{ID: "loop"})
		settled(t, "the removal's Applied", func() bool { n, _ := count[*protocol.Applied](t, thin); return n == 1 })
		if most > step || captures < 2 {
			t.Fatalf("the undo capture of the removal took %d captures, the largest touching %d keys; want several of at most %d (RemovalStep)", captures, most, step)
		}
		if doc, err := r.Document(ctx, "wf"); err != nil || len(doc.View().Blocks) != 0 {
			t.Fatalf("after the removal: %v, %d blocks", err, len(doc.View().Blocks))
		}
		rm.SubmitUndo(thin, "undo", false)
		settled(t, "the undo's answer", func() bool { n, _ := count[*protocol.Applied](t, thin); return n == 2 })
		doc, err := r.Document(ctx, "wf")
		if err != nil {
			t.Fatal(err)
		}
		v, want := doc.View(), seed.View()
		if len(v.Blocks) != len(want.Blocks) || v.Blocks["c2999"].Name != want.Blocks["c2999"].Name || v.Blocks["loop"].Name != want.Blocks["loop"].Name {
			t.Fatalf("after the undo: %d blocks, want the %d removed", len(v.Blocks), len(want.Blocks))
		}
	})
}

// TestUndoTooLargeIsRefused: the undo of a removal whose inverse is larger
// than a delta may be (12,000 blocks) is refused with TOO_LARGE, the
// document unchanged: merged, it could never be stored.
func TestUndoTooLargeIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		time.Sleep(time.Until(time.UnixMilli(1_700_000_100_000)))
		seed := loopDoc(t, 12_000)
		store := memory.New()
		if _, err := store.Snapshot(ctx, "wf", seed); err != nil {
			t.Fatal(err)
		}
		r := newRegistry(t, Config{MaxClockLag: -1}, store)
		thin := member("thin", "")
		rm, err := r.Join(ctx, "wf", thin, JoinOptions{Have: seed.Context().Clone()})
		if err != nil {
			t.Fatal(err)
		}
		rm.SubmitOperation(thin, "remove", workflow.RemoveBlock{ID: "loop"})
		settled(t, "the removal's Applied", func() bool { n, _ := count[*protocol.Applied](t, thin); return n == 1 })
		rm.SubmitUndo(thin, "undo", false)
		settled(t, "the undo's Nack", func() bool { n, _ := count[*protocol.Nack](t, thin); return n == 1 })
		if _, nk := count[*protocol.Nack](t, thin); nk.OpID != "undo" || nk.Code != protocol.CodeTooLarge {
			t.Fatalf("the undo was answered %+v, want TOO_LARGE", nk)
		}
		if n, _ := count[*protocol.Applied](t, thin); n != 1 {
			t.Fatalf("%d Applied, want the removal's only", n)
		}
		doc, err := r.Document(ctx, "wf")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(doc.View().Blocks); n != 0 {
			t.Fatalf("the refused undo changed the document: %d blocks", n)
		}
	})
}
