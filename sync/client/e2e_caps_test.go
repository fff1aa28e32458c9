package client_test

import (
	"fmt"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/client"
)

// bigPaste is one edit writing several times workflow.DeltaCaps.MaxValues
// values (blocks with many sub-blocks each), within the byte limit.
func bigPaste(blocks int) workflow.BatchAddBlocks {
	var op workflow.BatchAddBlocks
	for i := range blocks {
		subs := map[string]workflow.SubBlockInput{}
		for j := range 40 {
			id := fmt.Sprintf("field%02d", j)
			subs[id] = workflow.SubBlockInput{ID: id, Type: "short-input", Value: fmt.Sprintf("value %d of block %d", j, i)}
		}
		op.Blocks = append(op.Blocks, workflow.BlockInput{ID: fmt.Sprintf("paste-%03d", i), Type: "agent", Name: fmt.Sprintf("Pasted %d", i), SubBlocks: subs})
	}
	return op
}

// TestE2EEditPastTheCapsConverges: an edit whose delta passes the server's
// per-delta work caps (here ~3× the value cap) is sent as several deltas
// the server admits, by a client with and one without a directory, and
// every replica and the server end with it.
func TestE2EEditPastTheCapsConverges(t *testing.T) {
	s := newServer(t)
	a := startPeer(t, s, "alice", func(c *client.Config) { c.Dir = t.TempDir() })
	b := startPeer(t, s, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	for _, p := range []struct {
		who    *peer
		blocks int
	}{{a, 120}, {b, 90}} {
		op := bigPaste(p.blocks)
		for i := range op.Blocks {
			op.Blocks[i].ID += "-" + p.who.name
			op.Blocks[i].Name += " " + p.who.name
		}
		delta, err := p.who.Apply(op)
		if err != nil {
			t.Fatalf("%s: %v", p.who.name, err)
		}
		if n := delta.Counts().Values; n <= 2*workflow.DeltaCaps.MaxValues {
			t.Fatalf("the edit writes %d values: not past the cap of %d", n, workflow.DeltaCaps.MaxValues)
		}
		if _, err := workflow.DecodeDelta(delta.Encode()); !workflow.IsOverCap(err) {
			t.Fatalf("the edit as one delta: %v, want a cap's refusal", err)
		}
	}
	waitConverged(t, s, a, b)
	v := s.snapshot(t).View()
	if len(v.Blocks) != 210 {
		t.Fatalf("the server holds %d blocks, want 210", len(v.Blocks))
	}
	for _, p := range []*peer{a, b} {
		if st := p.Status(); st.Rejected != 0 {
			t.Fatalf("%s: %d edits refused", p.name, st.Rejected)
		}
	}
}
