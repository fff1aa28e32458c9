package workflow

import (
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// A removal merged in steps (StepMerge) is recorded under the rest of its
// delta: a replica that has the removal is sent nothing of it, one that
// missed it is sent what it removed, and both end equal to the document.
func TestCatchUpAfterSteppedRemoval(t *testing.T) {
	base, wall := containerDoc(t, 300)
	remove, err := base.Prepare(crdt.Timestamp{Wall: wall + 1, Replica: "a"}, RemoveBlock{ID: "loop"})
	if err != nil {
		t.Fatal(err)
	}
	server := base.Clone()
	server.PrimeIndex()
	sm := server.StepMerge(remove, 40)
	if sm == nil {
		t.Fatal("the removal of a 300-block container was not stepped")
	}
	for !sm.Step() {
	}
	sm.Finish()
	missed := base.Clone()
	seen := base.Clone()
	seen.Merge(remove)
	for name, r := range map[string]*Doc{"missed the removal": missed, "has the removal": seen} {
		delta := server.CatchUp(r.Context())
		r.Merge(delta)
		if !r.Equal(server) {
			t.Errorf("a replica that %s differs from the document after its catch-up", name)
		}
		if name == "has the removal" && (delta.Context().NumRanges() != 0 || delta.Store().NumDots() != 0) {
			t.Errorf("a replica that has the removal is sent %d ranges and %d values", delta.Context().NumRanges(), delta.Store().NumDots())
		}
	}
}

// Deaths past maxDeaths fold into the base: a replica that missed an edit
// folded away is sent every removed dot (and converges), one that missed
// only the last edit is still sent that edit alone.
func TestCatchUpAfterFold(t *testing.T) {
	base, ids := buildDoc(t, 50)
	server := base.Clone()
	server.PrimeIndex()
	clock, other := newBenchClock("editor"), newBenchClock("other")
	other.wall = clock.wall
	var early *Doc
	for i := range maxDeaths + 100 {
		if i == 10 {
			// The one edit early misses: editor's edits are of other
			// blocks, so early may merge them all without it.
			early = server.Clone()
			if _, err := server.Apply(other.now(), UpdatePosition{ID: ids[40], Position: Position{X: -1, Y: -1}}); err != nil {
				t.Fatal(err)
			}
		}
		delta, err := server.Apply(clock.now(), UpdatePosition{ID: ids[i%25], Position: Position{X: float64(i), Y: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if early != nil {
			early.Merge(delta)
		}
	}
	if server.idx.deaths.first <= 10 {
		t.Fatalf("%d overwriting edits did not fold the eleventh death", maxDeaths+100)
	}
	late := server.Clone()
	if _, err := server.Apply(clock.now(), UpdateName{ID: ids[3], NewName: "Last"}); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*Doc{"early": early, "late": late} {
		delta := server.CatchUp(r.Context())
		if name == "late" && delta.Context().NumRanges() > 4 {
			t.Errorf("the late replica is sent %d ranges for one rename", delta.Context().NumRanges())
		}
		r.Merge(delta)
		if !r.Equal(server) {
			t.Errorf("the %s replica differs from the document after its catch-up", name)
		}
	}
}
