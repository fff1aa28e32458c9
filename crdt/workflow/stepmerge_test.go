package workflow

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/internal/testutil"
)

var stepSeed = flag.Uint64("stepmerge.seed", 0, "seed for TestStepMergeEqualsMerge (0: from FLOWSYNC_SEED, else the time)")

// TestStepMergeEqualsMerge merges a container's removal in steps while
// another replica edits the half-removed document between steps (renames,
// moves, adds into the container), and checks that the document ends equal,
// byte for byte, to merging the removal at once followed by the same
// edits; and that no step removes more than its budget.
func TestStepMergeEqualsMerge(t *testing.T) {
	seed := testutil.Seed(t, *stepSeed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for round := range 8 {
		n := 200 + rng.IntN(400)
		base, wall := containerDoc(t, n)
		remove, err := base.Prepare(crdt.Timestamp{Wall: wall + 1, Replica: "a"}, RemoveBlock{ID: "loop"})
		if err != nil {
			t.Fatal(err)
		}
		if round%2 == 1 {
			// A delta that removes and adds (a replace-state): the final
			// step carries its values.
			add, err := base.Prepare(crdt.Timestamp{Wall: wall + 2, Replica: "a"}, AddBlock{Block: BlockInput{ID: "fresh", Type: "agent", Name: "Fresh"}})
			if err != nil {
				t.Fatal(err)
			}
			remove = remove.Clone()
			remove.Merge(add)
		}
		budget := 1 + rng.IntN(300)
		stepped := base.Clone()
		sm := stepped.StepMerge(remove, budget)
		if sm == nil {
			t.Fatalf("round %d: a removal of %d blocks was not stepped with budget %d", round, n, budget)
		}
		var edits []*Doc
		bw := wall + 10
		edit := func() {
			bw++
			ts := crdt.Timestamp{Wall: bw, Replica: "b"}
			var op Op
			switch rng.IntN(3) {
			case 0:
				op = UpdateName{ID: fmt.Sprint("c", rng.IntN(n)), NewName: fmt.Sprint("renamed ", bw)}
			case 1:
				op = AddBlock{Block: BlockInput{ID: fmt.Sprint("b", bw), Type: "agent", Name: fmt.Sprint("B ", bw),
					Data: map[string]any{"parentId": "loop", "extent": "parent"}}}
			default:
				op = UpdatePosition{ID: fmt.Sprint("c", rng.IntN(n)), Position: Position{X: float64(bw), Y: 1}}
			}
			d, err := stepped.Apply(ts, op)
			if err != nil {
				if errors.Is(err, ErrUnknownBlock) || errors.Is(err, ErrNoEffect) || errors.Is(err, ErrLocked) {
					return // removed already: what a racing editor meets
				}
				t.Fatalf("seed %d: %s: %v", seed, op.Name(), err)
			}
			edits = append(edits, d)
		}
		for {
			before := sm.Removed()
			done := sm.Step()
			if got := sm.Removed() - before; got > budget {
				t.Fatalf("seed %d: a step removed %d values, budget %d", seed, got, budget)
			}
			if done {
				break
			}
			if rng.IntN(2) == 0 {
				edit()
			}
		}
		sm.Finish()
		whole := base.Clone()
		whole.Merge(remove)
		for _, e := range edits {
			whole.Merge(e)
		}
		if !whole.Equal(stepped) || !bytes.Equal(whole.Encode(), stepped.Encode()) {
			t.Fatalf("seed %d round %d: stepped merge differs from a whole one", seed, round)
		}
		if min := sm.Removed() / budget; sm.Steps() < min {
			t.Fatalf("seed %d: %d steps removed %d values with budget %d", seed, sm.Steps(), sm.Removed(), budget)
		}
	}
}

// TestStepMergeSmallIsWhole: a delta covering no more than the budget of
// seen dots is not stepped, and the walk skips counters the document holds
// no value for (a context naming a long-removed history) a bounded number
// per step.
func TestStepMergeSmallIsWhole(t *testing.T) {
	base, wall := containerDoc(t, 20)
	d, err := base.Prepare(crdt.Timestamp{Wall: wall + 1, Replica: "a"}, RemoveBlock{ID: "c3"})
	if err != nil {
		t.Fatal(err)
	}
	if base.StepMerge(d, 64) != nil {
		t.Fatal("a one-block removal was stepped")
	}
	// A context covering every dot of the document (removing everything)
	// with a budget of 1: steps remove one value each, and a step looks up
	// at most stepProbes counters.
	all := &Doc{}
	all.ctx.Merge(&base.ctx)
	doc := base.Clone()
	sm := doc.StepMerge(all, 1)
	held := doc.store.NumDots()
	for !sm.Step() {
		if sm.Steps() > held*stepProbes+10 {
			t.Fatal("the walk does not end")
		}
	}
	sm.Finish()
	if doc.store.NumDots() != 0 || sm.Removed() != held {
		t.Fatalf("left %d values, removed %d of %d", doc.store.NumDots(), sm.Removed(), held)
	}
	if sm.Steps() < held {
		t.Fatalf("%d steps removed %d values with budget 1", sm.Steps(), held)
	}
}

// TestStepMergeSkipsUnheldCounters steps a removal whose context spans 2^53
// counters of replicas that hold a few hundred values, some of them far
// apart (sparse): the walk must jump over the counters nobody holds, so the
// number of steps follows the values removed, not the counters named. On a
// walk that probes every counter this never finishes.
func TestStepMergeSkipsUnheldCounters(t *testing.T) {
	d, wall := containerDoc(t, 300)
	// Replica b writes at counters a billion apart: its dots are sparse.
	for i := range 20 {
		jump := &Doc{} // a context past every counter b holds removes nothing
		jump.ctx.AddRange("b", crdt.Range{Lo: d.ctx.Max("b") + 1, Hi: uint64(i+1) * 1_000_000_000})
		d.Merge(jump)
		wall++
		if _, err := d.Apply(crdt.Timestamp{Wall: wall, Replica: "b"}, UpdateName{ID: fmt.Sprint("c", i), NewName: fmt.Sprint("far ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Both replicas' contexts now reach far past what they hold; the
	// removal names every counter up to the largest a dot may have.
	past := &Doc{}
	past.ctx.AddRange("a", crdt.Range{Lo: d.ctx.Max("a") + 1, Hi: crdt.MaxCounter})
	past.ctx.AddRange("b", crdt.Range{Lo: d.ctx.Max("b") + 1, Hi: crdt.MaxCounter})
	d.Merge(past)
	far := &Doc{}
	far.ctx.AddRange("a", crdt.Range{Lo: 1, Hi: crdt.MaxCounter})
	far.ctx.AddRange("b", crdt.Range{Lo: 1, Hi: crdt.MaxCounter})
	held, bDots := 0, 0
	d.store.Range(func(_ Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			held++
			if e.Dot.Replica == "b" && e.Dot.Counter > 1_000_000_000 {
				bDots++
			}
		}
		return true
	})
	if held == 0 || bDots < 10 {
		t.Fatalf("setup: %d values held, %d of b far apart", held, bDots)
	}
	whole := d.Clone()
	whole.Merge(far)
	const budget = 64
	sm := d.StepMerge(far, budget)
	if sm == nil {
		t.Fatal("a removal of every held value was not stepped")
	}
	maxSteps := held/budget + 8
	for !sm.Step() {
		if sm.Steps() > maxSteps {
			t.Fatalf("%d steps for %d held values with budget %d: the walk probes counters nobody holds", sm.Steps(), held, budget)
		}
	}
	sm.Finish()
	if !bytes.Equal(d.Encode(), whole.Encode()) {
		t.Fatal("stepped merge differs from the one-shot merge")
	}
	if sm.Removed() != held {
		t.Fatalf("parts removed %d values, want every one of the %d held", sm.Removed(), held)
	}
}

// TestStepMergeIndexUpkeepIsBounded steps the removal of a container of
// 20,000 blocks (one replica's 100,000 values) and counts, per step, the
// index upkeep that amortized structures pay now and then: counters dropped
// from the held-counter lists (compaction) and entries moved out of the
// dot array (thinning). Each must follow what the step removed, not the
// size of the document: with one counter list compacted whole, the step
// crossing the half-stale mark dropped ~50,000 counters, and the step
// thinning the array moved every entry left in it.
func TestStepMergeIndexUpkeepIsBounded(t *testing.T) {
	base, wall := containerDoc(t, 20_000)
	delta, err := base.Prepare(crdt.Timestamp{Wall: wall + 1, Replica: "a"}, RemoveBlock{ID: "loop"})
	if err != nil {
		t.Fatal(err)
	}
	d := base.Clone()
	d.index()
	const budget = 1024
	sm := d.StepMerge(delta, budget)
	if sm == nil {
		t.Fatal("not stepped")
	}
	counted := func() (listed, window int) {
		for _, c := range d.index().dots {
			c.all(func(uint64) { listed++ })
		}
		for _, rs := range d.store.byDot.byReplica {
			window += len(rs.dense)
		}
		return listed, window
	}
	listed, window := counted()
	if window < 90_000 {
		t.Fatalf("setup: the replica's dots are not in one array (%d entries)", window)
	}
	maxDropped, maxMoved := 0, 0
	for done := false; !done; {
		before := sm.Removed()
		if done = sm.Step(); done {
			sm.Finish()
		}
		removed := sm.Removed() - before
		l, w := counted()
		// A step reports each removed dot once to the lists: a block is
		// compacted when more than half of it is stale, so the counters
		// dropped are at most the stale ones it had plus one block.
		if dropped := listed - l - removed; dropped > removed+counterBlockMax {
			t.Fatalf("step %d removed %d values and dropped %d more counters from the index", sm.Steps(), removed, dropped)
		} else {
			maxDropped = max(maxDropped, dropped)
		}
		if moved := window - w; !done && moved > thinChunk*removed {
			t.Fatalf("step %d removed %d values and shrank the dot array by %d entries", sm.Steps(), removed, moved)
		} else {
			maxMoved = max(maxMoved, moved)
		}
		listed, window = l, w
	}
	t.Logf("%d steps; per step at most %d stale counters dropped, %d array entries moved", sm.Steps(), maxDropped, maxMoved)
	whole := base.Clone()
	whole.Merge(delta)
	if !bytes.Equal(d.Encode(), whole.Encode()) {
		t.Fatal("stepped merge differs from the one-shot merge")
	}
}

// TestWideContextKeepsIndex merges into an indexed document of 20,000
// blocks a delta whose context covers far more dots than the document
// holds: every counter of a replica it never held, and of its writer past
// its last write (what a client may claim of its own replica). The index
// must be kept, equal to a rebuild: dropping it made the next operation
// rebuild it in the room loop, at a cost that grows with the document.
func TestWideContextKeepsIndex(t *testing.T) {
	d, _ := containerDoc(t, 20_000)
	d.index()
	wide := &Doc{}
	wide.ctx.AddRange("stranger", crdt.Range{Lo: 1, Hi: crdt.MaxCounter})
	wide.ctx.AddRange("a", crdt.Range{Lo: d.ctx.Max("a") + 1, Hi: crdt.MaxCounter})
	before := d.store.NumDots()
	d.Merge(wide)
	if d.idx == nil {
		t.Fatal("the merge dropped the index")
	}
	if diff := diffIndex(d, d.idx, buildIndex(d)); diff != "" {
		t.Fatalf("index differs from a rebuilt one: %s", diff)
	}
	if d.store.NumDots() != before {
		t.Fatalf("%d values left of %d", d.store.NumDots(), before)
	}
}

// TestInterleavedRemovalKeepsIndexLinear merges into an indexed document a
// delta whose context interleaves with the document's (the document has
// seen a replica's even counters, the delta names the odd ones; neither
// holds a value under them) and counts the context ranges the merge
// touches: every dot is gone, and the index's removed set must take them
// in one merge, not one insertion each, which moved the set's tail once
// per dot (quadratic: 8,192 ranges cost ~33 million range moves, and
// 32,768 a second of CPU at 50,000 blocks).
func TestInterleavedRemovalKeepsIndexLinear(t *testing.T) {
	const ranges = 8192
	d, _ := containerDoc(t, 4000) // more values than the delta names: not a wide context
	evens, delta := New(), New()
	for i := range ranges {
		evens.ctx.Add(crdt.Dot{Replica: "evil", Counter: uint64(2*i + 2)})
		delta.ctx.Add(crdt.Dot{Replica: "evil", Counter: uint64(2*i + 3)})
	}
	d.index()
	d.Merge(evens)
	work := 0
	stop := crdt.CountRangeWork(func(n int) { work += n })
	d.Merge(delta)
	stop()
	if limit := 16 * (ranges + d.ctx.NumRanges()); work > limit {
		t.Fatalf("the merge touched %d context ranges for %d interleaved ones (limit %d)", work, ranges, limit)
	}
	if diff := diffIndex(d, d.idx, buildIndex(d)); diff != "" {
		t.Fatalf("index differs from a rebuilt one: %s", diff)
	}
}

// TestStepMergeCarriesTexts: a delta that removes a container and types into
// a text outside it (a client's catch-up after a reconnect carries both: the
// removals it learnt and its own typing) merged in steps ends equal to the
// delta merged at once, typed items included. The final step once merged
// the delta's context but not its text records, so the document held the
// items' dots without the items: the typing was lost on the server and an
// honest re-send of it looked like a forged dot.
func TestStepMergeCarriesTexts(t *testing.T) {
	base, wall := containerDoc(t, 300)
	at := func() crdt.Timestamp { wall++; return crdt.Timestamp{Wall: wall, Replica: "a"} }
	if _, err := base.Apply(at(), AddBlock{Block: BlockInput{ID: "out", Type: "agent", Name: "Outside",
		SubBlocks: map[string]SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "hello"}}}}); err != nil {
		t.Fatal(err)
	}
	target := TextTarget{BlockID: "out", SubBlockID: "prompt"}
	// The typing and the removal come from replica b, which saw base.
	edit := base.Clone()
	typed, err := edit.Apply(crdt.Timestamp{Wall: wall + 1, Replica: "b"}, InsertText{TextTarget: target, Index: 5, Text: " world"})
	if err != nil {
		t.Fatal(err)
	}
	removal, err := edit.Apply(crdt.Timestamp{Wall: wall + 2, Replica: "b"}, RemoveBlock{ID: "loop"})
	if err != nil {
		t.Fatal(err)
	}
	delta := typed.Clone()
	delta.Merge(removal)

	whole := base.Clone()
	whole.Merge(delta)
	stepped := base.Clone()
	sm := stepped.StepMerge(delta, 50)
	if sm == nil {
		t.Fatal("a removal of 300 blocks was not stepped with budget 50")
	}
	for !sm.Step() {
	}
	sm.Finish()
	if got, want := stepped.textString(liveMarker(t, stepped, target)), "hello world"; got != want {
		t.Fatalf("stepped merge: prompt %q, want %q", got, want)
	}
	if !whole.Equal(stepped) || !bytes.Equal(whole.Encode(), stepped.Encode()) {
		t.Fatal("stepped merge differs from a whole one")
	}
	// The author's re-send of its typing is admitted, as it is by the
	// document that merged the delta at once.
	if _, err := stepped.Vet(typed, "b"); err != nil {
		t.Fatalf("re-send after the stepped merge: %v", err)
	}
}

// liveMarker returns the marker dot of the text at target in d.
func liveMarker(t *testing.T, d *Doc, target TextTarget) crdt.Dot {
	t.Helper()
	m, _, ok := d.liveRecord(target)
	if !ok {
		t.Fatalf("%v is not a text", target)
	}
	return m
}

// TestStepMergeKeepsTexts: a large delta that writes texts (a restore's
// replace-state of blocks with prompts), merged in steps, gives the
// document merging it at once gives, prompts included. The final part
// lacked the delta's text records, so every prompt came out empty.
func TestStepMergeKeepsTexts(t *testing.T) {
	wall := int64(1000)
	r := newReplicaDoc(t, "srv", &wall)
	var blocks []BlockInput
	for i := range 600 {
		blocks = append(blocks, BlockInput{ID: fmt.Sprintf("b%04d", i), Type: "agent", Name: fmt.Sprintf("A %d", i), Position: &Position{},
			SubBlocks: map[string]SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: fmt.Sprintf("You are agent %d.", i)}}})
	}
	r.apply(BatchAddBlocks{Blocks: blocks})
	state := map[string]any{"blocks": map[string]any{}}
	for _, b := range blocks[:500] {
		state["blocks"].(map[string]any)[b.ID] = map[string]any{"id": b.ID, "type": "agent", "name": b.Name, "position": map[string]any{"x": 1, "y": 2},
			"subBlocks": map[string]any{"prompt": map[string]any{"id": "prompt", "type": "long-input", "value": "restored " + b.ID}}}
	}
	op, err := ParseOp("replace-state", "workflow", map[string]any{"state": state})
	if err != nil {
		t.Fatal(err)
	}
	delta, err := r.d.Prepare(r.clock.Now(wall+10), op)
	if err != nil {
		t.Fatal(err)
	}
	whole, stepped := r.d.Clone(), r.d.Clone()
	whole.Merge(delta)
	sm := stepped.StepMerge(delta, 64)
	if sm == nil {
		t.Fatal("the delta is not merged in steps")
	}
	for !sm.Step() {
	}
	sm.Finish()
	if got := textOf(t, stepped, prompt("b0007")); got != "restored b0007" {
		t.Fatalf("b0007's prompt after the stepped merge: %q", got)
	}
	if !stepped.Equal(whole) {
		t.Fatal("the stepped merge differs from the whole merge")
	}
}
