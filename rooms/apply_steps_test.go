package rooms

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// TestApplyRunsInTurns: an Apply of 1,000 renames runs at most
// applyItemsPerTurn operation items per turn of the room loop, the rest in
// later turns (so the room serves what waits between them), and still
// answers every operation, in order, and applies them all; a second Apply
// waits behind the first.
func TestApplyRunsInTurns(t *testing.T) {
	var steps atomic.Int64
	r := newRegistry(t, Config{onStep: func(int, time.Duration) { steps.Add(1) }}, nil)
	var add workflow.BatchAddBlocks
	for i := range workflow.MaxOpItems {
		add.Blocks = append(add.Blocks, workflow.BlockInput{ID: fmt.Sprint("b", i), Type: "agent", Name: fmt.Sprint("B ", i)})
	}
	apply(t, r, "wf", appAdmin, add)
	ops := make([]workflow.Op, 1000)
	for i := range ops {
		ops[i] = workflow.UpdateName{ID: fmt.Sprint("b", i%workflow.MaxOpItems), NewName: fmt.Sprint("Name ", i)}
	}
	before := steps.Load()
	res := apply(t, r, "wf", appAdmin, ops...)
	if len(res.Results) != len(ops) {
		t.Fatalf("%d results for %d operations", len(res.Results), len(ops))
	}
	for i, o := range res.Results {
		if o.Err != nil {
			t.Fatalf("operation %d: %v", i, o.Err)
		}
	}
	if want := len(ops)/applyItemsPerTurn - 1; int(steps.Load()-before) < want {
		t.Fatalf("the Apply of %d renames ran in %d extra turns, want at least %d (%d items a turn)", len(ops), steps.Load()-before, want, applyItemsPerTurn)
	}
	res = apply(t, r, "wf", appAdmin, workflow.UpdateName{ID: "b1", NewName: "Last"})
	if res.Results[0].Err != nil {
		t.Fatal(res.Results[0].Err)
	}
	v, err := r.View(t.Context(), "wf")
	if err != nil {
		t.Fatal(err)
	}
	// The last rename of each block wins: b0 was last renamed by
	// operation 896 (7×128), b1 by the second Apply.
	if v.Blocks["b0"].Name != "Name 896" || v.Blocks["b1"].Name != "Last" {
		t.Fatalf("b0 %q, b1 %q", v.Blocks["b0"].Name, v.Blocks["b1"].Name)
	}
}
