package client

import (
	"errors"
	"fmt"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// pastCapsPaste is one edit writing more values than a delta may carry.
func pastCapsPaste(blocks int) workflow.BatchAddBlocks {
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

// A directory written by a client that predates the per-delta work caps
// can hold one outbox entry past them, which a server refuses for good.
// Opening it cuts the entry into admitted chunks, stores the cut outbox,
// and the edit reaches the server whole.
func TestDirEntryPastTheCapsIsCutOnOpen(t *testing.T) {
	dir := t.TempDir()
	a := openOffline(t, dir, "r-old")
	mustApply(t, a, addBlock("before", "Before"))
	mustApply(t, a, pastCapsPaste(80))
	mustApply(t, a, addBlock("after", "After"))
	want := a.Doc()
	// Rewrite the outbox as an older client stored it: the paste's chunks
	// as the one entry they came from.
	a.mu.Lock()
	es := a.out.entries
	if len(es) < 4 {
		a.mu.Unlock()
		t.Fatalf("outbox holds %d entries: the paste was not cut", len(es))
	}
	paste := workflow.New()
	for _, e := range es[1 : len(es)-1] {
		paste.Merge(e.delta)
	}
	old := &entry{id: "old-paste", seq: es[1].seq, delta: paste, enc: paste.Encode()}
	for _, e := range es[1 : len(es)-1] {
		old.mine = append(old.mine, e.mine...)
	}
	stored := []*entry{es[0], old, es[len(es)-1]}
	a.mu.Unlock()
	if _, err := workflow.DecodeDelta(old.enc); !workflow.IsOverCap(err) {
		t.Fatalf("the stored paste decodes as a delta with %v, want a cap's refusal", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	d, _, err := openDisk(dir, "wf-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.update([]diskOp{opReplaceOutbox(stored)}); err != nil {
		t.Fatal(err)
	}
	if err := d.close(); err != nil {
		t.Fatal(err)
	}

	b := openOffline(t, dir, "r-old")
	b.mu.Lock()
	cut := b.out.entries
	ids := make([]string, len(cut))
	for i, e := range cut {
		ids[i] = e.id
		if _, err := workflow.DecodeDelta(e.enc); err != nil {
			b.mu.Unlock()
			t.Fatalf("entry %d of %d after open: %v", i, len(cut), err)
		}
	}
	first, last := cut[0].id, cut[len(cut)-1].id
	b.mu.Unlock()
	if len(cut) < 4 || first != es[0].id || last != es[len(es)-1].id {
		t.Fatalf("outbox after open: %d entries %v, want the first and last edits around the paste's chunks", len(cut), ids)
	}
	if !b.Doc().Equal(want) {
		t.Fatal("the document changed on open")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// The cut outbox was stored: a second open finds it as it was.
	c := openOffline(t, dir, "r-old")
	c.mu.Lock()
	again := make([]string, len(c.out.entries))
	for i, e := range c.out.entries {
		again[i] = e.id
	}
	c.mu.Unlock()
	if fmt.Sprint(again) != fmt.Sprint(ids) {
		t.Fatalf("second open: outbox %v, want %v", again, ids)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// A server that holds every delta to the caps admits them all.
	f := newFakeServer(t)
	f.set(func(f *fakeServer) {
		f.nack = func(op string, d *workflow.Doc) *protocol.Nack {
			if _, err := workflow.DecodeDelta(d.Encode()); err != nil {
				return &protocol.Nack{OpID: op, Code: protocol.CodeTooLarge, Message: err.Error()}
			}
			return nil
		}
	})
	s := startClient(t, f, "r-old", withDir(dir))
	s.waitSaved(t)
	if st := s.Status(); st.Rejected != 0 {
		t.Fatalf("%d edits refused", st.Rejected)
	}
	if !f.snapshot().Equal(want) {
		t.Fatal("the server does not hold the edits the directory held")
	}
}

// A single value with more msgpack nodes than a delta may carry cannot be
// cut into deltas a server admits: the operation is refused (ErrInvalid)
// and nothing changes, rather than queue an edit refused for good.
func TestApplyRefusesAValuePastTheNodeCap(t *testing.T) {
	c := openOffline(t, t.TempDir(), "r-1")
	mustApply(t, c, addBlock("b1", "Block"))
	before := c.Doc()
	rows := make([]any, workflow.DeltaCaps.MaxValueNodes)
	for i := range rows {
		rows[i] = i % 100
	}
	_, err := c.Apply(workflow.UpdateSubBlock{BlockID: "b1", SubBlockID: "table", Value: rows})
	if !errors.Is(err, workflow.ErrInvalid) {
		t.Fatalf("Apply of a %d-element value: %v, want ErrInvalid", len(rows), err)
	}
	if !c.Doc().Equal(before) {
		t.Fatal("the refused edit changed the document")
	}
	if n := c.Pending(); n != 1 {
		t.Fatalf("outbox holds %d edits, want the one before", n)
	}
	// One node fewer (the array's own) is within the cap and is sent.
	if _, err := c.Apply(workflow.UpdateSubBlock{BlockID: "b1", SubBlockID: "table", Value: rows[1:]}); err != nil {
		t.Fatalf("Apply of a value at the cap: %v", err)
	}
}
