package client

import (
	"fmt"
	"slices"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Deltas of other sessions are kept with their receipts while the room has
// not made them durable, the catch-up of a join too when the room's durable
// mark lags; a Stable frame drops them, and a join with the mark up to date
// keeps nothing.
func TestRemoteDeltasKeptUntilStable(t *testing.T) {
	f := newFakeServer(t).withReceipts()
	f.set(func(f *fakeServer) { f.holdDurable = true })
	a := startClient(t, f, "alice", oneFramePerEdit)
	b := startClient(t, f, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	for i := range 3 {
		mustApply(t, a.Client, addBlock(fmt.Sprint("b", i), fmt.Sprint("Block ", i)))
	}
	testutil.WaitFor(t, "bob keeps the 3 relayed deltas", func() bool { return b.Receipts().Kept == 3 })
	if got := a.Receipts().Kept; got != 0 {
		t.Fatalf("the author keeps %d deltas; the fake server relays to the others only", got)
	}
	carol := startClient(t, f, "carol", nil)
	carol.waitLive(t)
	if got := carol.Receipts().Kept; got != 1 {
		t.Fatalf("a join behind the durable mark keeps %d catch-up chunks, want 1", got)
	}
	if st := b.Receipts(); st.Bytes == 0 || st.Dropped != 0 {
		t.Fatalf("bob's receipts: %+v", st)
	}

	f.releaseDurable()
	testutil.WaitFor(t, "Stable drops what bob and carol kept", func() bool {
		return b.Receipts().Kept == 0 && carol.Receipts().Kept == 0 && b.Receipts().Bytes == 0
	})
	dave := startClient(t, f, "dave", nil)
	dave.waitLive(t)
	if got := dave.Receipts().Kept; got != 0 {
		t.Fatalf("a join at the durable mark keeps %d catch-up chunks", got)
	}
}

// A rejoin of the same room incarnation hands nothing back: the room still
// holds what it relayed. Its Joined drops what the durable mark covers,
// even when the Stable frame never came.
func TestRejoinOfTheSameEpochKeepsAndDrops(t *testing.T) {
	f := newFakeServer(t).withReceipts()
	f.set(func(f *fakeServer) { f.holdDurable = true })
	a := startClient(t, f, "alice", oneFramePerEdit)
	b := startClient(t, f, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	for i := range 3 {
		mustApply(t, a.Client, addBlock(fmt.Sprint("b", i), fmt.Sprint("Block ", i)))
	}
	testutil.WaitFor(t, "bob keeps 3", func() bool { return b.Receipts().Kept == 3 })

	joins := f.numJoins()
	f.dropAll(protocol.CloseServiceRestart)
	testutil.WaitFor(t, "both rejoined", func() bool { return f.numJoins() == joins+2 })
	a.waitLive(t)
	b.waitLive(t)
	if got := b.Receipts().Kept; got != 3 {
		t.Fatalf("after a rejoin of the same epoch bob keeps %d, want 3", got)
	}

	f.set(func(f *fakeServer) { f.quietStable = true })
	f.releaseDurable()
	a.waitSaved(t)
	if got := b.Receipts().Kept; got != 3 {
		t.Fatalf("bob keeps %d without a Stable frame, want 3", got)
	}
	f.dropAll(protocol.CloseServiceRestart)
	testutil.WaitFor(t, "the Joined's durable mark drops them", func() bool { return b.Receipts().Kept == 0 })
	b.waitSaved(t)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.vouches) != 0 {
		t.Fatalf("%d vouches sent to the room that relayed the deltas", len(f.vouches))
	}
}

// The case a receipt exists for: the server relays alice's edit before it
// is stored, bob builds on it (moves the block, adds another), the server
// crashes and alice is gone. Bob hands alice's edit back before resending
// his own, and the new room ends up with everything bob sees.
func TestVouchHandsBackWhatACrashLost(t *testing.T) {
	f := newFakeServer(t).withReceipts()
	a := startClient(t, f, "alice", oneFramePerEdit)
	b := startClient(t, f, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	f.set(func(f *fakeServer) { f.holdDurable = true })
	mustApply(t, a.Client, addBlock("x", "X"))
	testutil.WaitFor(t, "bob has x", func() bool { return b.View().Blocks["x"] != nil })
	mustApply(t, b.Client, workflow.UpdatePosition{ID: "x", Position: workflow.Position{X: 40, Y: 50}})
	mustApply(t, b.Client, addBlock("y", "Y"))
	testutil.WaitFor(t, "the room has y", func() bool { return f.snapshot().View().Blocks["y"] != nil })
	a.Close()

	f.crash()
	if f.snapshot().View().Blocks["x"] != nil {
		t.Fatal("the crash kept x")
	}
	b.waitSaved(t)
	testutil.WaitFor(t, "the room converges with bob", func() bool {
		return f.snapshot().Equal(b.Doc()) && b.Receipts().Kept == 0
	})
	x := f.snapshot().View().Blocks["x"]
	if x == nil || x.Position != (workflow.Position{X: 40, Y: 50}) || f.snapshot().View().Blocks["y"] == nil {
		t.Fatalf("the room's x = %+v", x)
	}
	if st := b.Receipts(); st.Vouched != 1 || st.Refused != 0 {
		t.Fatalf("bob's receipts: %+v", st)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.edits) < 2 || f.edits[0] != protocol.FrameVouch || slices.Contains(f.edits[1:], protocol.FrameVouch) {
		t.Fatalf("frames after the crash: %v; want the Vouch first", f.edits)
	}
}

// A new room that already holds a kept delta (another client re-sent it, the
// store had it) is not handed it again.
func TestKeptDeltaTheNewRoomHoldsIsDropped(t *testing.T) {
	f := newFakeServer(t).withReceipts()
	a := startClient(t, f, "alice", oneFramePerEdit)
	b := startClient(t, f, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	f.set(func(f *fakeServer) { f.holdDurable = true })
	x := mustApply(t, a.Client, addBlock("x", "X"))
	testutil.WaitFor(t, "bob keeps x", func() bool { return b.Receipts().Kept == 1 })
	a.Close()

	f.set(func(f *fakeServer) { f.refuseDials = true })
	f.crash()
	f.seed(x)
	f.set(func(f *fakeServer) { f.refuseDials = false })
	b.waitSaved(t)
	testutil.WaitFor(t, "bob drops x", func() bool { return b.Receipts().Kept == 0 })
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.vouches) != 0 {
		t.Fatalf("%d vouches for a delta the new room holds", len(f.vouches))
	}
}

// A Vouch refused for good (the deployment's key changed) drops the delta:
// the client goes on, and its own edits are saved.
func TestVouchRefusedForGoodIsDropped(t *testing.T) {
	f := newFakeServer(t).withReceipts()
	a := startClient(t, f, "alice", oneFramePerEdit)
	b := startClient(t, f, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	f.set(func(f *fakeServer) { f.holdDurable = true })
	mustApply(t, a.Client, addBlock("x", "X"))
	testutil.WaitFor(t, "bob keeps x", func() bool { return b.Receipts().Kept == 1 })
	a.Close()

	f.set(func(f *fakeServer) { f.ring = newRing(t) }) // same key id, other secret
	mustApply(t, b.Client, addBlock("y", "Y"))
	f.crash()
	b.waitSaved(t)
	testutil.WaitFor(t, "bob drops x", func() bool { return b.Receipts().Kept == 0 })
	if st := b.Receipts(); st.Refused != 1 || st.Vouched != 0 {
		t.Fatalf("bob's receipts: %+v", st)
	}
	if v := f.snapshot().View(); v.Blocks["y"] == nil || v.Blocks["x"] != nil {
		t.Fatalf("the room holds %d blocks", len(v.Blocks))
	}
	if s := b.Status(); !s.Saved() {
		t.Fatalf("bob's status %s", s)
	}
}

// A Vouch refused for now is resent after backoff under its op id.
func TestVouchRetryableNackResent(t *testing.T) {
	f := newFakeServer(t).withReceipts()
	a := startClient(t, f, "alice", oneFramePerEdit)
	b := startClient(t, f, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	f.set(func(f *fakeServer) { f.holdDurable = true })
	mustApply(t, a.Client, addBlock("x", "X"))
	testutil.WaitFor(t, "bob keeps x", func() bool { return b.Receipts().Kept == 1 })
	a.Close()

	refusals := 0
	f.set(func(f *fakeServer) {
		f.vouchNack = func(v *protocol.Vouch) *protocol.Nack {
			if refusals == 2 {
				return nil
			}
			refusals++
			return &protocol.Nack{OpID: v.OpID, Code: protocol.CodeStorageUnavailable, Retryable: true}
		}
	})
	f.crash()
	testutil.WaitFor(t, "x handed back", func() bool { return f.snapshot().View().Blocks["x"] != nil && b.Receipts().Kept == 0 })
	if st := b.Receipts(); st.Vouched != 1 {
		t.Fatalf("bob's receipts: %+v", st)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.vouches) != 3 || f.vouches[0].OpID != f.vouches[2].OpID {
		t.Fatalf("%d vouches, want 3 under one op id", len(f.vouches))
	}
}

// Past the bound the oldest kept deltas go, counted; a crash then hands
// back only the newest.
func TestKeptDeltasBounded(t *testing.T) {
	old := maxKeptItems
	maxKeptItems = 4
	t.Cleanup(func() { maxKeptItems = old })
	f := newFakeServer(t).withReceipts()
	a := startClient(t, f, "alice", oneFramePerEdit)
	b := startClient(t, f, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	f.set(func(f *fakeServer) { f.holdDurable = true })
	for i := range 10 {
		mustApply(t, a.Client, addBlock(fmt.Sprint("b", i), fmt.Sprint("Block ", i)))
		testutil.WaitFor(t, "bob has it", func() bool { return b.View().Blocks[fmt.Sprint("b", i)] != nil })
	}
	if st := b.Receipts(); st.Kept != 4 || st.Dropped != 6 {
		t.Fatalf("bob's receipts: %+v, want 4 kept, 6 dropped", st)
	}
	a.Close()
	f.crash()
	testutil.WaitFor(t, "the newest handed back", func() bool { return b.Receipts().Kept == 0 })
	v := f.snapshot().View()
	for i := range 10 {
		if got, want := v.Blocks[fmt.Sprint("b", i)] != nil, i >= 6; got != want {
			t.Errorf("the room holds b%d: %v, want %v", i, got, want)
		}
	}
}

// oneFramePerEdit makes alice's edits arrive one relayed delta each.
func oneFramePerEdit(cfg *Config) { cfg.DisableCoalescing = true }

func TestKeptSetByteBound(t *testing.T) {
	old := maxKeptBytes
	maxKeptBytes = 25
	t.Cleanup(func() { maxKeptBytes = old })
	var s keptSet
	var all []*kept
	for i := range 5 {
		k := &kept{relay: uint64(i + 1), enc: make([]byte, 10)}
		all = append(all, k)
		s.add(k)
	}
	if len(s.items) != 2 || s.bytes != 20 || s.dropped != 3 || s.items[0] != all[3] {
		t.Fatalf("kept %d items, %d bytes, %d dropped", len(s.items), s.bytes, s.dropped)
	}
	for _, k := range all[:3] {
		if !k.gone || s.remove(k) {
			t.Fatal("an evicted delta is still kept")
		}
	}
	// One delta larger than the bound is still kept: the bound drops older
	// deltas for newer ones, never the newest.
	s.add(&kept{enc: make([]byte, 40)})
	if len(s.items) != 1 || s.bytes != 40 {
		t.Fatalf("kept %d items, %d bytes", len(s.items), s.bytes)
	}
}

// With Config.Dir, kept deltas survive a restart of the client, which
// hands them back; what it drops is dropped on disk too.
func TestKeptDeltasPersisted(t *testing.T) {
	f := newFakeServer(t).withReceipts()
	dir := t.TempDir()
	a := startClient(t, f, "alice", oneFramePerEdit)
	b := startClient(t, f, "", withDir(dir))
	a.waitLive(t)
	b.waitLive(t)
	f.set(func(f *fakeServer) { f.holdDurable = true })
	mustApply(t, a.Client, addBlock("x", "X"))
	mustApply(t, a.Client, addBlock("y", "Y"))
	testutil.WaitFor(t, "bob keeps 2", func() bool { return b.Receipts().Kept == 2 })
	want := b.Doc()
	a.Close()
	b.Close()
	f.crash()

	stored := openOffline(t, dir, "")
	if got := stored.Receipts().Kept; got != 2 {
		t.Fatalf("the directory keeps %d deltas, want 2", got)
	}
	stored.Close()
	b2 := startClient(t, f, "", withDir(dir))
	b2.waitSaved(t)
	testutil.WaitFor(t, "handed back after the restart", func() bool {
		return b2.Receipts().Kept == 0 && f.snapshot().Equal(want)
	})
	b2.Close()
	if got := openOffline(t, dir, "").Receipts().Kept; got != 0 {
		t.Fatalf("the directory still keeps %d deltas", got)
	}
}

// A deleted workflow keeps nothing to hand back.
func TestDeletedDropsKeptDeltas(t *testing.T) {
	f := newFakeServer(t).withReceipts()
	dir := t.TempDir()
	a := startClient(t, f, "alice", oneFramePerEdit)
	b := startClient(t, f, "", withDir(dir))
	a.waitLive(t)
	b.waitLive(t)
	f.set(func(f *fakeServer) { f.holdDurable = true })
	mustApply(t, a.Client, addBlock("x", "X"))
	testutil.WaitFor(t, "bob keeps x", func() bool { return b.Receipts().Kept == 1 })
	f.emit(&protocol.Event{WorkflowID: "wf-1", Kind: protocol.EventWorkflowDeleted, TimestampMs: 1})
	testutil.WaitFor(t, "bob deleted", func() bool { return b.Status().State == StateDeleted })
	if got := b.Receipts().Kept; got != 0 {
		t.Fatalf("a deleted workflow keeps %d deltas", got)
	}
	b.Close()
	if got := openOffline(t, dir, "").Receipts().Kept; got != 0 {
		t.Fatalf("the directory of a deleted workflow keeps %d deltas", got)
	}
}

// BenchmarkKeptStable measures a Stable frame at the bound: the set is full
// (8,192 deltas) and each Stable drops the oldest one and a new delta
// arrives, the steady state of a busy room whose store lags.
func BenchmarkKeptStable(b *testing.B) {
	var s keptSet
	for i := range maxKeptItems {
		s.add(&kept{epoch: "e", relay: uint64(i + 1), enc: make([]byte, 64)})
	}
	next := uint64(maxKeptItems)
	b.ReportAllocs()
	for b.Loop() {
		stable := next - uint64(maxKeptItems) + 1
		s.removeIf(func(k *kept) bool { return k.epoch == "e" && k.relay <= stable })
		next++
		s.add(&kept{epoch: "e", relay: next, enc: make([]byte, 64)})
	}
	if len(s.items) != maxKeptItems {
		b.Fatalf("kept %d", len(s.items))
	}
}
