package rooms

import (
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
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
