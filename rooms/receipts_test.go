package rooms

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/receipt"
)

func testKeyring(t testing.TB) *receipt.Keyring {
	t.Helper()
	k, err := receipt.NewKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := receipt.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

func framesOf[F protocol.Frame](t *testing.T, m *fakeMember) []F {
	t.Helper()
	var out []F
	for _, f := range m.decoded(t) {
		if x, ok := f.(F); ok {
			out = append(out, x)
		}
	}
	return out
}

func verifies(ring *receipt.Keyring, wf string, d []byte, r protocol.Receipt) error {
	return ring.Verify(wf, d, receipt.Receipt{KeyID: r.KeyID, MAC: r.MAC})
}

// Every relayed frame carries its sequence and a receipt that checks; once
// the store has the edit, the members that received it hear the mark move.
func TestRelayCarriesReceiptSeqAndStable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ring := testKeyring(t)
		r := newRegistry(t, Config{Receipts: ring}, memory.New())
		ctx := context.Background()
		ma, mb := member("sa", "rep-a"), member("sb", "rep-b")
		room, err := r.Join(ctx, "wf", ma, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Join(ctx, "wf", mb, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		a := newReplicaEditor(t, "rep-a")
		d := a.apply(addAgent("x", 1))
		room.SubmitDelta(ma, "a-1", d.Encode(), d)
		settle()
		rds := framesOf[*protocol.RemoteDelta](t, mb)
		if len(rds) != 1 || rds[0].Seq != 1 {
			t.Fatalf("B got %d RemoteDeltas (first seq %v), want one with seq 1", len(rds), rds)
		}
		if err := verifies(ring, "wf", rds[0].Delta, rds[0].Receipt); err != nil {
			t.Fatalf("relay receipt: %v", err)
		}
		joined := framesOf[*protocol.Joined](t, mb)[0]
		stables := framesOf[*protocol.Stable](t, mb)
		if len(stables) != 1 || stables[0].Seq != 1 || stables[0].Epoch != joined.Epoch || joined.Epoch == "" {
			t.Fatalf("B's Stable frames %+v (joined epoch %q), want one at seq 1", stables, joined.Epoch)
		}
		if n := len(framesOf[*protocol.Stable](t, ma)); n != 0 {
			t.Fatalf("the author, sent nothing, got %d Stable frames", n)
		}
	})
}

// A catch-up taken while edits wait for the store says so (Stable < Seq)
// and carries receipts; the joiner hears when they are durable.
func TestCatchUpOfUnstableEditsHasReceipts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ring := testKeyring(t)
		store := &flakyStore{Store: memory.New()}
		store.fail.Store(1)
		r := newRegistry(t, Config{Receipts: ring}, store)
		ctx := context.Background()
		ma, mb, mc := member("sa", "rep-a"), member("sb", "rep-b"), member("sc", "rep-c")
		room, err := r.Join(ctx, "wf", ma, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Join(ctx, "wf", mb, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		a := newReplicaEditor(t, "rep-a")
		d := a.apply(addAgent("x", 1))
		room.SubmitDelta(ma, "a-1", d.Encode(), d)
		settle() // the first write failed: a retry is armed
		if _, err := r.Join(ctx, "wf", mc, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		settle()
		j := framesOf[*protocol.Joined](t, mc)[0]
		if j.Seq != 1 || j.Stable != 0 {
			t.Fatalf("joined seq=%d stable=%d, want 1 and 0", j.Seq, j.Stable)
		}
		cus := framesOf[*protocol.CatchUp](t, mc)
		if len(cus) == 0 {
			t.Fatal("no catch-up")
		}
		for _, cu := range cus {
			if err := verifies(ring, "wf", cu.Delta, cu.Receipt); err != nil {
				t.Fatalf("catch-up receipt: %v", err)
			}
		}
		advance(DefaultRetryBackoff)
		if s := framesOf[*protocol.Stable](t, mc); len(s) != 1 || s[0].Seq != 1 {
			t.Fatalf("joiner's Stable frames %+v, want seq 1 once the retry wrote", s)
		}
	})
}

// The crash of the issue, repaired: the server relayed A's add and lost it
// (killed before the store had it); B moved the block and added another.
// On the restarted server B hands back A's add with its receipt, then
// re-sends its own edit: taken whole, and the server ends equal to B.
func TestVouchRepairsWhatACrashLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ring := testKeyring(t)
		shared := memory.New()
		down := &flakyStore{Store: shared}
		down.fail.Store(1 << 40)
		ctx := context.Background()
		first, err := NewRegistry(Config{Receipts: ring}, down, nil, NewMetrics(nil))
		if err != nil {
			t.Fatal(err)
		}
		ma, mb := member("sa", "rep-a"), member("sb", "rep-b")
		room, err := first.Join(ctx, "wf", ma, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Join(ctx, "wf", mb, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		a, b := newReplicaEditor(t, "rep-a"), newReplicaEditor(t, "rep-b")
		addX := a.apply(addAgent("x", 10))
		room.SubmitDelta(ma, "a-1", addX.Encode(), addX)
		settle()
		kept := framesOf[*protocol.RemoteDelta](t, mb)[0]
		relayed, err := workflow.Decode(kept.Delta, workflow.DeltaLimits)
		if err != nil {
			t.Fatal(err)
		}
		b.doc.Merge(relayed)
		folded := workflow.New()
		folded.Merge(b.apply(workflow.UpdatePosition{ID: "x", Position: workflow.Position{X: 99, Y: 9}}))
		folded.Merge(b.apply(addAgent("y", 20)))

		// "Restart": a new server on the store, which never got A's add.
		second := newRegistry(t, Config{Receipts: ring}, shared)
		mb2 := member("sb2", "rep-b")
		room2, err := second.Join(ctx, "wf", mb2, JoinOptions{Have: b.doc.Context()})
		if err != nil {
			t.Fatal(err)
		}
		if j := framesOf[*protocol.Joined](t, mb2)[0]; j.Epoch == framesOf[*protocol.Joined](t, mb)[0].Epoch {
			t.Fatal("a new room load kept the old epoch")
		}
		room2.SubmitVouch(mb2, "v-1", kept.Delta, relayed, kept.Receipt)
		room2.SubmitDelta(mb2, "b-1", folded.Encode(), folded)
		settle()
		for _, n := range framesOf[*protocol.Nack](t, mb2) {
			t.Fatalf("refused: %+v", n)
		}
		server, err := room2.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !server.Equal(b.doc) {
			t.Fatalf("server %v, B %v", server.View().Blocks, b.doc.View().Blocks)
		}
		if got := len(framesOf[*protocol.Durable](t, mb2)); got == 0 {
			t.Fatal("the vouch and the delta never became durable")
		}

		down.fail.Store(0)
		if err := first.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
	})
}

// A receipt that does not check is refused and changes nothing: a client
// cannot pass its own content off as another replica's edit.
func TestVouchWithBadReceiptRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ring := testKeyring(t)
		r := newRegistry(t, Config{Receipts: ring}, memory.New())
		ctx := context.Background()
		mm := member("sm", "rep-m")
		room, err := r.Join(ctx, "wf", mm, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		victim := newReplicaEditor(t, "rep-victim")
		forged := victim.apply(addAgent("evil", 1))
		raw := forged.Encode()
		good := ring.Sign("wf", raw)
		other := testKeyring(t).Sign("wf", raw)
		cases := map[string]protocol.Receipt{
			"random MAC":     {KeyID: "k1", MAC: bytes.Repeat([]byte{7}, receipt.MACSize)},
			"other key":      {KeyID: other.KeyID, MAC: other.MAC},
			"unknown key id": {KeyID: "k9", MAC: good.MAC},
			"other workflow": {KeyID: "k1", MAC: ring.Sign("wf-2", raw).MAC},
			"no receipt":     {},
		}
		for name, rc := range cases {
			room.SubmitVouch(mm, name, raw, forged, rc)
		}
		settle()
		nacks := framesOf[*protocol.Nack](t, mm)
		if len(nacks) != len(cases) {
			t.Fatalf("%d nacks for %d bad receipts", len(nacks), len(cases))
		}
		for _, n := range nacks {
			if n.Code != protocol.CodeBadReceipt || n.Retryable {
				t.Fatalf("%s: %+v, want BAD_RECEIPT, final", n.OpID, n)
			}
		}
		doc, _ := room.Snapshot(ctx)
		if !doc.IsEmpty() {
			t.Fatal("a refused vouch changed the document")
		}
		// Without keys, nothing is vouched for.
		bare := newRegistry(t, Config{}, memory.New())
		m2 := member("s2", "rep-m")
		room3, err := bare.Join(ctx, "wf", m2, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		room3.SubmitVouch(m2, "v", raw, forged, protocol.Receipt{KeyID: good.KeyID, MAC: good.MAC})
		settle()
		if n := framesOf[*protocol.Nack](t, m2); len(n) != 1 || n[0].Code != protocol.CodeBadReceipt {
			t.Fatalf("vouch to a server without keys: %+v", n)
		}
	})
}
