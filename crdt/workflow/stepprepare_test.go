package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// stepDoc is containerDoc(n) with a nested container holding some of the
// loop's children, edges inside both containers, and one
// outside it.
func stepDoc(t *testing.T, n int) (*Doc, int64) {
	t.Helper()
	d, wall := containerDoc(t, n)
	apply := func(op Op) {
		wall++
		if _, err := d.Apply(crdt.Timestamp{Wall: wall, Replica: "a"}, op); err != nil {
			t.Fatal(err)
		}
	}
	apply(BatchAddBlocks{Blocks: []BlockInput{
		{ID: "inner", Type: "parallel", Name: "Inner", Data: map[string]any{"parentId": "loop", "extent": "parent"}},
		{ID: "out1", Type: "agent", Name: "Out 1"}, {ID: "out2", Type: "agent", Name: "Out 2"},
	}})
	var moves BatchUpdateParent
	for i := 0; i < n; i += 7 {
		moves.Updates = append(moves.Updates, ParentUpdate{ID: fmt.Sprint("c", i), ParentID: "inner"})
	}
	apply(moves)
	apply(BatchAddEdges{Edges: []EdgeInput{
		{ID: "e1", Source: "c1", Target: "c2"}, {ID: "e3", Source: "out1", Target: "out2"},
		{ID: "e4", Source: "c7", Target: "c14"},
	}})
	return d, wall
}

// TestStepPrepareEqualsPrepare: prepared in steps of any size, a removal
// with nothing merged in between is byte for byte the delta Prepare makes,
// and a refused one is refused with the same error.
func TestStepPrepareEqualsPrepare(t *testing.T) {
	doc, wall := stepDoc(t, 300)
	ts := crdt.Timestamp{Wall: wall + 1, Replica: "s"}
	ops := []Op{
		RemoveBlock{ID: "loop"}, RemoveBlock{ID: "inner"}, RemoveBlock{ID: "c5"}, RemoveSubflow{ID: "loop"},
		BatchRemoveBlocks{IDs: []string{"inner", "out1", "c9", "nope"}},
		RemoveBlock{ID: "nope"}, RemoveSubflow{ID: "c5"}, BatchRemoveBlocks{IDs: []string{"nope"}},
		// The whole graph goes, variables stay; the new state is written.
		ReplaceState{
			Blocks: map[string]BlockInput{
				"n1":  {Type: "agent", Name: "N1", Position: &Position{X: 1}},
				"c5":  {Type: "agent", Name: "C5 again", Position: &Position{X: 2}},
				"lp2": {Type: "loop", Name: "L2", Position: &Position{X: 3}},
			},
			Edges: []EdgeInput{{ID: "e1", Source: "n1", Target: "c5"}},
			Loops: map[string]map[string]any{"lp2": {"iterations": 3}},
		},
		ReplaceState{},
		ReplaceState{Blocks: map[string]BlockInput{"bad": {Type: "agent", Name: "No position"}}},
	}
	wall++
	if _, err := doc.Apply(crdt.Timestamp{Wall: wall, Replica: "a"}, AddVariable{ID: "v1", VarName: "count", Type: "number", Value: 1.0}); err != nil {
		t.Fatal(err)
	}
	ts = crdt.Timestamp{Wall: wall + 1, Replica: "s"}
	for _, op := range ops {
		want, wantErr := doc.Clone().Prepare(ts, op)
		for _, budget := range []int{1, 7, 64, 100_000} {
			p, err := doc.StepPrepare(op, budget)
			if wantErr != nil {
				if err == nil || err.Error() != wantErr.Error() {
					t.Fatalf("%#v: StepPrepare refused with %v, Prepare with %v", op, err, wantErr)
				}
				continue
			}
			if err != nil || p == nil {
				t.Fatalf("%#v: %v", op, err)
			}
			for !p.Step() {
			}
			got, err := p.Finish(ts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Encode(), want.Encode()) {
				t.Fatalf("%#v in steps of %d: the delta differs from Prepare's", op, budget)
			}
			if rs, ok := op.(ReplaceState); ok {
				after := doc.Clone()
				after.Merge(got)
				if v := after.View(); len(v.Blocks) != len(rs.Blocks) || len(v.Variables) != 1 {
					t.Fatalf("%#v in steps of %d: %d blocks and %d variables after it", op, budget, len(v.Blocks), len(v.Variables))
				}
			}
			if budget == 1 && p.Steps() < 300/7 && op == (RemoveBlock{ID: "loop"}) {
				t.Fatalf("%d steps of 1 for a 300-block loop", p.Steps())
			}
			if _, ok := op.(ReplaceState); ok && budget == 1 && p.Steps() < 300 {
				t.Fatalf("%d steps of 1 for a replace-state of 300 blocks", p.Steps())
			}
		}
	}
	// A removal within the budget takes one step, as Prepare takes one
	// turn.
	if p, err := doc.StepPrepare(RemoveBlock{ID: "c5"}, 64); err != nil || !p.Step() {
		t.Fatalf("a one-block removal took more than one step (%v)", err)
	}
	if p, err := doc.StepPrepare(UpdateName{ID: "c1", NewName: "x"}, 10); p != nil || err != nil {
		t.Fatal("an operation that is not a removal was stepped")
	}
}

// TestStepPrepareWithEditsBetween removes the loop in steps while another
// replica edits between them (moves a child out, renames, adds a child);
// the delta merges, covers only dots the document held, and the document
// ends as a concurrent removal and those edits would leave it: the moved
// child and the new one stay when the walk had not passed them.
func TestStepPrepareWithEditsBetween(t *testing.T) {
	doc, wall := stepDoc(t, 300)
	p, err := doc.StepPrepare(RemoveBlock{ID: "loop"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	bw := wall + 10
	i := 0
	for !p.Step() {
		i++
		bw++
		var op Op
		switch i % 3 {
		case 0:
			op = UpdateName{ID: fmt.Sprint("c", (i*13)%300), NewName: fmt.Sprint("renamed ", i)}
		case 1:
			op = UpdateParent{ID: fmt.Sprint("c", (i*17)%300), ParentID: ""}
		default:
			op = AddBlock{Block: BlockInput{ID: fmt.Sprint("n", i), Type: "agent", Name: fmt.Sprint("N ", i), Data: map[string]any{"parentId": "loop", "extent": "parent"}}}
		}
		if _, err := doc.Apply(crdt.Timestamp{Wall: bw, Replica: "b"}, op); err != nil && !errors.Is(err, ErrNoEffect) {
			t.Fatalf("%s: %v", op.Name(), err)
		}
	}
	delta, err := p.Finish(crdt.Timestamp{Wall: bw + 1, Replica: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := doc.Vet(delta, "s"); err != nil || v.Changed {
		t.Fatalf("vetting the stepped delta: %v (changed %v)", err, v.Changed)
	}
	unseen := delta.Context().Missing(doc.Context())
	if unseen.Len() != 1 {
		t.Fatalf("the delta covers %d dots the document never held; want only its own", unseen.Len())
	}
	doc.Merge(delta)
	view := doc.View()
	if _, ok := view.Blocks["loop"]; ok {
		t.Fatal("the loop is still there")
	}
	if len(view.Blocks) < 3 {
		t.Fatalf("%d blocks left: the blocks outside the loop went too", len(view.Blocks))
	}
}

// TestStepPrepareSortsPerStep prepares the removal of a 5,000-block loop in
// steps and checks that every step folds the dots it collected into the
// removal's context: none are left for Finish, which used to sort every
// dot of the removal in one turn (250,000 at 50,000 blocks).
func TestStepPrepareSortsPerStep(t *testing.T) {
	d, wall := containerDoc(t, 5000)
	p, err := d.StepPrepare(RemoveBlock{ID: "loop"}, 256)
	if err != nil || p == nil {
		t.Fatalf("StepPrepare: %v, %v", p, err)
	}
	for !p.Step() {
		if p.r != nil && len(p.r.dots) > 0 {
			t.Fatalf("step %d left %d dots unsorted", p.steps, len(p.r.dots))
		}
	}
	if p.r == nil || len(p.r.dots) > 0 || p.r.held < 5000 {
		t.Fatalf("the collection ended with %d dots unsorted, %d folded", len(p.r.dots), p.r.held)
	}
	delta, err := p.Finish(crdt.Timestamp{Wall: wall + 1, Replica: "a"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := d.Prepare(crdt.Timestamp{Wall: wall + 1, Replica: "a"}, RemoveBlock{ID: "loop"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(delta.Encode(), want.Encode()) {
		t.Fatal("the stepped removal differs from Prepare's")
	}
}
