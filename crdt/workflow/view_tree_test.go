package workflow

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/internal/testutil"
)

var viewTreeSeed = flag.Uint64("viewtree.seed", 0, "seed of TestViewTreeFollowsParent (0: from FLOWSYNC_SEED, else the time)")

// TestViewTreeFollowsParent: the view resolves effective parents on its
// own accumulators (view_tree.go); after random concurrent moves among
// containers (which close cycles of every length), every block shows under
// the parent Parent reads through tree.go, and the tree invariants hold.
func TestViewTreeFollowsParent(t *testing.T) {
	seed := testutil.Seed(t, *viewTreeSeed)
	rng := rand.New(rand.NewPCG(seed, seed^0x7ee))
	for iter := range 60 {
		n := 2 + rng.IntN(14)
		var blocks []BlockInput
		for i := range n {
			typ := TypeLoop
			if rng.IntN(3) == 0 {
				typ = TypeParallel
			}
			blocks = append(blocks, block(fmt.Sprintf("c%d", i), typ, fmt.Sprintf("C %d", i), 0, 0))
		}
		for i := range n {
			b := block(fmt.Sprintf("a%d", i), "agent", fmt.Sprintf("A %d", i), 0, 0)
			b.Data = map[string]any{"parentId": fmt.Sprintf("c%d", rng.IntN(n)), "extent": "parent"}
			blocks = append(blocks, b)
		}
		base := New()
		if _, err := base.Apply(crdt.NewClock("base").Now(1_000), BatchAddBlocks{Blocks: blocks}); err != nil {
			t.Fatal(err)
		}
		doc := base.Clone()
		for r := range 1 + rng.IntN(5) {
			replica := base.Clone()
			clock := crdt.NewClock(crdt.ReplicaID(fmt.Sprintf("r%d", r)))
			for k := range 1 + rng.IntN(4) {
				op := UpdateParent{ID: fmt.Sprintf("c%d", rng.IntN(n)), ParentID: fmt.Sprintf("c%d", rng.IntN(n)), Extent: "parent"}
				if rng.IntN(4) == 0 {
					op.ParentID = ""
				}
				d, err := replica.Apply(clock.Now(int64(2_000+100*k+rng.IntN(50))), op)
				if err == nil {
					doc.Merge(d)
				}
			}
		}
		v := doc.View()
		if len(v.Blocks) != 2*n {
			t.Fatalf("seed %d, iteration %d: %d blocks show, want %d", seed, iter, len(v.Blocks), 2*n)
		}
		checkTree(t, doc, v)
	}
}

// TestViewTreeDeepChainIsLinear: a view of a chain of nested containers
// walks each stored pointer once, however deep the chain.
func TestViewTreeDeepChainIsLinear(t *testing.T) {
	const n = 3000
	blocks := map[string]*blockAcc{}
	// Resolve the chain from its deepest block, then every other block:
	// each is resolved once, by the first walk.
	accs := make([]blockAcc, n)
	for i := range n {
		a := &accs[i]
		a.id, a.member = fmt.Sprintf("l%d", i), true
		a.fields = []namedValue{{FieldType, stringValue(TypeLoop)}}
		if i > 0 {
			a.fields = append(a.fields, namedValue{FieldParentID, stringValue(fmt.Sprintf("l%d", i-1))})
		}
		blocks[fmt.Sprintf("l%d", i)] = a
	}
	tr := viewTree{blocks: blocks}
	tr.resolve(fmt.Sprintf("l%d", n-1), &accs[n-1])
	if cap(tr.path) < n {
		t.Fatalf("the walk from the deepest block held %d steps, want %d", cap(tr.path), n)
	}
	for i := range n {
		if accs[i].walk != resolved {
			t.Fatalf("l%d not resolved by the walk from the deepest block", i)
		}
		if want := fmt.Sprintf("l%d", i-1); i > 0 && accs[i].parent != want {
			t.Fatalf("l%d: parent %q, want %q", i, accs[i].parent, want)
		}
	}
}
