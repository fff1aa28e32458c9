package rooms

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/receipt"
)

// TestCatchUpFullStateCache checks that cold joiners share one encoding of
// the document while it is unchanged, and get the new state once it is
// merged into.
func TestCatchUpFullStateCache(t *testing.T) {
	r := newRegistry(t, Config{MaxCatchUpChunk: 4096}, nil)
	rm := newRoom(r, "wf")
	rm.doc = batchDoc(t, 60)
	empty := crdt.NewContext()
	first := rm.catchUp(empty)
	if len(first) < 2 {
		t.Fatalf("catch-up of 60 blocks in %d chunks, want several of 4 KiB", len(first))
	}
	assertCatchUpIs(t, first, rm.doc)
	if again := rm.catchUp(empty); &again[0] != &first[0] {
		t.Fatal("a second cold join re-encoded an unchanged document")
	}
	clock := crdt.NewClock("editor")
	edit, err := rm.doc.Prepare(clock.Now(1_800_000_000_000), workflow.UpdateName{ID: "block-00007", NewName: "Renamed"})
	if err != nil {
		t.Fatal(err)
	}
	rm.doc.Merge(edit)
	after := rm.catchUp(empty)
	assertCatchUpIs(t, after, rm.doc)
	if v := rm.doc.View(); v.Blocks["block-00007"].Name != "Renamed" {
		t.Fatalf("the edit did not apply: %q", v.Blocks["block-00007"].Name)
	}
}

// assertCatchUpIs checks that the chunks merged into an empty document give
// want.
func assertCatchUpIs(t *testing.T, chunks [][]byte, want *workflow.Doc) {
	t.Helper()
	got := workflow.New()
	for _, c := range chunks {
		d, err := workflow.Decode(c, workflow.DocLimits)
		if err != nil {
			t.Fatal(err)
		}
		got.Merge(d)
	}
	if !got.Equal(want) {
		t.Fatal("the catch-up of a cold join is not the document")
	}
}

// TestCatchUpFramesShared checks that cold joiners of an unchanged
// document share the CatchUp frames themselves (not only the chunks: no
// copy and no receipt per joiner), and that those frames carry the chunks
// in order with receipts that verify.
func TestCatchUpFramesShared(t *testing.T) {
	ring := testKeyring(t)
	r := newRegistry(t, Config{MaxCatchUpChunk: 4096, Receipts: ring}, nil)
	rm := newRoom(r, "wf")
	rm.doc = batchDoc(t, 60)
	empty := crdt.NewContext()
	first := rm.catchUpFrames(empty)
	if again := rm.catchUpFrames(empty); &again[0] != &first[0] {
		t.Fatal("a second cold join built its CatchUp frames again")
	}
	chunks := rm.catchUp(empty)
	if len(first) != len(chunks) || len(chunks) < 2 {
		t.Fatalf("%d frames for %d chunks", len(first), len(chunks))
	}
	for i, b := range first {
		f, err := protocol.Decode(b, protocol.Limits{MaxFrameBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		c, ok := f.(*protocol.CatchUp)
		if !ok || c.Seq != uint64(i) || c.Last != (i == len(first)-1) || !bytes.Equal(c.Delta, chunks[i]) {
			t.Fatalf("frame %d is not chunk %d: %+v", i, i, f)
		}
		if err := ring.Verify("wf", c.Delta, receipt.Receipt{KeyID: c.Receipt.KeyID, MAC: c.Receipt.MAC}); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	// A change makes new frames.
	clock := crdt.NewClock("editor")
	edit, err := rm.doc.Prepare(clock.Now(1_800_000_000_000), workflow.UpdateName{ID: "block-00007", NewName: "Renamed"})
	if err != nil {
		t.Fatal(err)
	}
	rm.doc.Merge(edit)
	if after := rm.catchUpFrames(empty); &after[0] == &first[0] {
		t.Fatal("the frames of an older version were reused")
	}
}

// TestCatchUpOfOneMissedEdit checks that a member that missed one edit of
// a document with a history of removals is sent that edit, not every
// removed dot of the document (rooms on one node: see catchUp).
func TestCatchUpOfOneMissedEdit(t *testing.T) {
	r := newRegistry(t, Config{CatchUpEdits: true}, nil)
	rm := newRoom(r, "wf")
	rm.doc = batchDoc(t, 400)
	clock := crdt.NewClock("editor")
	wall := int64(1_800_000_000_000)
	edit := func(op workflow.Op) {
		t.Helper()
		wall += 10
		if _, err := rm.doc.Apply(clock.Now(wall), op); err != nil {
			t.Fatal(err)
		}
	}
	// A history of removals: every block renamed (each rename removes the
	// name before it), then every other block removed, one by one.
	for i := 0; i < 400; i++ {
		edit(workflow.UpdateName{ID: fmt.Sprintf("block-%05d", i), NewName: fmt.Sprintf("Step %d", i)})
	}
	for i := 0; i < 400; i += 2 {
		edit(workflow.BatchRemoveBlocks{IDs: []string{fmt.Sprintf("block-%05d", i)}})
	}
	member := rm.doc.Clone()
	edit(workflow.UpdateName{ID: "block-00007", NewName: "Renamed"})
	chunks := rm.catchUp(member.Context())
	size := 0
	for _, c := range chunks {
		size += len(c)
		d, err := workflow.Decode(c, workflow.DocLimits)
		if err != nil {
			t.Fatal(err)
		}
		member.Merge(d)
	}
	if !member.Equal(rm.doc) {
		t.Fatal("the member merged with its catch-up differs from the room's document")
	}
	full := len(rm.doc.DeltaSince(member.Context()).Encode())
	if size > 512 {
		t.Errorf("the catch-up of one rename is %d bytes, want at most 512 (every removed dot: %d)", size, full)
	}
}
