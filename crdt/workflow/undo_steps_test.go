package workflow

import (
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// TestUndoRecordingInPartsIsRecord: capturing a removal part by part as
// StepMerge merges it (UndoRecording, StepMerge.OnPart) records the same
// undo as Record with the whole delta before a merge at once: the two
// undos are the same delta, and both bring the container back. Each part's
// capture touches at most the step's budget of keys.
func TestUndoRecordingInPartsIsRecord(t *testing.T) {
	const budget = 64
	base, wall := containerDoc(t, 300)
	ts := crdt.Timestamp{Wall: wall + 1, Replica: "a"}
	delta, err := base.Prepare(ts, RemoveBlock{ID: "loop"})
	if err != nil {
		t.Fatal(err)
	}

	atOnce, inParts := base.Clone(), base.Clone()
	m1 := NewUndoManager(UndoConfig{})
	m1.Record(atOnce, delta, ts)
	atOnce.Merge(delta)

	m2 := NewUndoManager(UndoConfig{})
	most, parts := 0, 0
	stop := CountUndoCapture(func(keys int) { most, parts = max(most, keys), parts+1 })
	defer stop()
	rec := m2.StartRecord(ts)
	sm := inParts.StepMerge(delta, budget)
	if sm == nil {
		t.Fatal("the removal is not merged in steps")
	}
	sm.OnPart = func(part *Doc) { rec.Part(inParts, part) }
	for !sm.Step() {
	}
	sm.Finish()
	rec.End()
	stop()
	if most > budget || parts < 2 {
		t.Fatalf("%d captures, the largest touching %d keys; want several of at most %d", parts, most, budget)
	}
	if !inParts.Equal(atOnce) {
		t.Fatal("the stepped merge is not the merge")
	}

	uts := crdt.Timestamp{Wall: wall + 2, Replica: "a"}
	u1, err := m1.PrepareUndo(atOnce, uts)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := m2.PrepareUndo(inParts, uts)
	if err != nil {
		t.Fatal(err)
	}
	if !u1.Delta.Equal(u2.Delta) {
		t.Fatal("the undo recorded in parts is not the undo recorded at once")
	}
	inParts.Merge(u2.Delta)
	if v := inParts.View(); len(v.Blocks) != len(base.View().Blocks) || v.Blocks["c299"].Name != "Child 299" {
		t.Fatalf("the undo brought back %d blocks, want %d", len(v.Blocks), len(base.View().Blocks))
	}
}
