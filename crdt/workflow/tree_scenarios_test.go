package workflow

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// These tests pin the container tree (tree.go): operations, checks and the
// view follow one effective parent. Each scenario converges over every
// delivery order, then runs follow-up operations on the merged state and
// checks that what they touch is what the view shows.

// merged returns the base with every branch merged in.
func (s *scenario) merged() *Doc {
	doc := s.base.Clone()
	for _, d := range s.delta {
		doc.Merge(d)
	}
	return doc
}

// after applies op to a copy of doc as replica "later" and returns the copy
// and its view.
func after(t *testing.T, doc *Doc, op Op) (*Doc, *View) {
	t.Helper()
	out := doc.Clone()
	clock := crdt.NewClock("later")
	if _, err := out.Apply(clock.Now(10_000), op); err != nil {
		t.Fatalf("%s: %v", op.Name(), err)
	}
	return out, out.View()
}

func parentIn(v *View, id string) string {
	return v.Blocks[id].Data["parentId"].asString()
}

// checkTree checks the invariants every view must hold: effective parents
// form a forest of visible containers, every live block shows, visible names
// are unique, and the paint order lists each visible block once, containers
// before their children and siblings by their winning add.
func checkTree(t *testing.T, doc *Doc, v *View) {
	t.Helper()
	for id := range v.Blocks {
		seen := map[string]bool{}
		for p := id; p != ""; p = parentIn(v, p) {
			if seen[p] {
				t.Fatalf("parent cycle through %q", p)
			}
			seen[p] = true
			if v.Blocks[p] == nil {
				t.Fatalf("block %q hangs from %q, which does not show", id, p)
			}
			if p != id && !IsContainer(v.Blocks[p].Type) {
				t.Fatalf("block %q hangs from non-container %q", id, p)
			}
		}
	}
	doc.store.Range(func(k Key, _ []crdt.Dotted[Cell]) bool {
		if k.Kind == KindBlock && v.Blocks[k.ID] == nil {
			t.Fatalf("live block %q is hidden", k.ID)
		}
		return true
	})
	names := map[string]string{}
	for id, b := range v.Blocks {
		n := NormalizeName(b.Name)
		if n == "" {
			continue
		}
		if o, dup := names[n]; dup {
			t.Fatalf("blocks %q and %q both show as %q", id, o, b.Name)
		}
		names[n] = id
	}
	if len(v.Order) != len(v.Blocks) {
		t.Fatalf("order lists %d blocks, view has %d", len(v.Order), len(v.Blocks))
	}
	at := map[string]int{}
	for i, id := range v.Order {
		if _, dup := at[id]; dup || v.Blocks[id] == nil {
			t.Fatalf("order entry %q repeated or not visible", id)
		}
		at[id] = i
	}
	for id := range v.Blocks {
		if p := parentIn(v, id); p != "" && at[p] > at[id] {
			t.Fatalf("order paints %q before its container %q", id, p)
		}
	}
	// Siblings paint by winning add (hybrid time, then dot), then id.
	last := map[string]string{} // parent → the sibling painted last
	for _, id := range v.Order {
		p := parentIn(v, id)
		if prev, ok := last[p]; ok {
			wp, _ := doc.rawWinner(blockKey(prev))
			wi, _ := doc.rawWinner(blockKey(id))
			c := stampOf(wp).compare(stampOf(wi))
			if c > 0 || c == 0 && prev > id {
				t.Fatalf("order paints sibling %q before %q, though it was added later or has the greater id", prev, id)
			}
		}
		last[p] = id
	}
	for id := range v.Blocks {
		if Parent(doc, id) != parentIn(v, id) {
			t.Fatalf("Parent(%q) = %q, view shows %q", id, Parent(doc, id), parentIn(v, id))
		}
	}
}

func visibleIDs(v *View) []string {
	ids := keys(v.Blocks)
	slices.Sort(ids)
	return ids
}

// cycleScenario: loops l1 and l2 at the top, c inside l2; alice moves l1
// into l2 while bob moves l2 into l1, a moment later. The newest pointer on
// the cycle (bob's) is cut: l2 stays at the top with l1 and c inside it.
func cycleScenario(t *testing.T, extra ...func(*scenario)) (*Doc, *View) {
	s := newScenario(t, addBlocks(block("l1", TypeLoop, "L1", 0, 0), block("l2", TypeLoop, "L2", 600, 0),
		child("c", "C", "l2")))
	s.concurrently("alice", 2_000, UpdateParent{ID: "l1", ParentID: "l2", Extent: "parent"})
	s.concurrently("bob", 2_001, UpdateParent{ID: "l2", ParentID: "l1", Extent: "parent"})
	for _, f := range extra {
		f(s)
	}
	v := s.converge()
	doc := s.merged()
	checkTree(t, doc, v)
	if parentIn(v, "l1") != "l2" || parentIn(v, "l2") != "" || parentIn(v, "c") != "l2" {
		t.Fatalf("parents l1=%q l2=%q c=%q, want l1 and c in l2, l2 top-level",
			parentIn(v, "l1"), parentIn(v, "l2"), parentIn(v, "c"))
	}
	return doc, v
}

func TestMoveCycleDeleteFollowsView(t *testing.T) {
	doc, _ := cycleScenario(t)
	d, v := after(t, doc, RemoveBlock{ID: "l1"})
	checkTree(t, d, v)
	if got := visibleIDs(v); !slices.Equal(got, []string{"c", "l2"}) {
		t.Fatalf("removing l1, which shows no children, left %v; want [c l2]", got)
	}
	d, v = after(t, doc, BatchRemoveBlocks{IDs: []string{"l2"}})
	checkTree(t, d, v)
	if len(v.Blocks) != 0 {
		t.Fatalf("removing l2 left %v; want its view descendants l1 and c gone with it", visibleIDs(v))
	}
}

func TestMoveCycleToggleFollowsView(t *testing.T) {
	doc, _ := cycleScenario(t)
	_, v := after(t, doc, BatchToggleEnabled{BlockIDs: []string{"l1"}})
	if v.Blocks["l1"].Enabled || !v.Blocks["l2"].Enabled || !v.Blocks["c"].Enabled {
		t.Fatalf("toggling l1: enabled l1=%v l2=%v c=%v; want only l1 disabled",
			v.Blocks["l1"].Enabled, v.Blocks["l2"].Enabled, v.Blocks["c"].Enabled)
	}
	_, v = after(t, doc, BatchToggleEnabled{BlockIDs: []string{"l2"}})
	for _, id := range []string{"l1", "l2", "c"} {
		if v.Blocks[id].Enabled {
			t.Fatalf("toggling l2 left %q enabled; it shows inside l2", id)
		}
	}
}

func TestMoveCycleLockFollowsView(t *testing.T) {
	lock := func(id string) func(*scenario) {
		return func(s *scenario) { s.concurrently("carol", 2_000, BatchToggleLocked{BlockIDs: []string{id}}) }
	}
	t.Run("lock l1", func(t *testing.T) {
		doc, _ := cycleScenario(t, lock("l1"))
		after(t, doc, UpdateName{ID: "l2", NewName: "Outer"})
		after(t, doc, UpdateName{ID: "c", NewName: "Inner"})
		if _, err := doc.Clone().Apply(crdt.Timestamp{Wall: 10_000, Replica: "later"}, UpdateName{ID: "l1", NewName: "X"}); !errors.Is(err, ErrLocked) {
			t.Fatalf("renaming locked l1: %v, want ErrLocked", err)
		}
		if Protected(doc, "l2") || !Protected(doc, "l1") {
			t.Fatalf("Protected l1=%v l2=%v, want only l1", Protected(doc, "l1"), Protected(doc, "l2"))
		}
	})
	t.Run("lock l2", func(t *testing.T) {
		doc, _ := cycleScenario(t, lock("l2"))
		for _, id := range []string{"l1", "l2", "c"} {
			if !Protected(doc, id) {
				t.Fatalf("%q shows inside locked l2 but is not protected", id)
			}
		}
	})
}

// TestMoveIntoCurrentParentKeepsIt: re-moving l1 into l2, where it already
// shows, must not flip the cycle (the new pointer would be the newest on it).
func TestMoveIntoCurrentParentKeepsIt(t *testing.T) {
	doc, _ := cycleScenario(t)
	d, v := after(t, doc, BatchUpdateParent{Updates: []ParentUpdate{{ID: "l1", ParentID: "l2"}}})
	checkTree(t, d, v)
	if parentIn(v, "l1") != "l2" || parentIn(v, "l2") != "" {
		t.Fatalf("after moving l1 into l2 again: l1 in %q, l2 in %q", parentIn(v, "l1"), parentIn(v, "l2"))
	}
	// A refused move into a descendant, at the cycle.
	if _, err := doc.Clone().Apply(crdt.Timestamp{Wall: 10_000, Replica: "later"}, UpdateParent{ID: "l2", ParentID: "l1"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("moving l2 into l1, which shows inside it: %v, want ErrInvalid", err)
	}
}

func TestThreeCycleMoveAcrossCut(t *testing.T) {
	// Three replicas close a three-loop cycle; the newest pointer is cut.
	s := newScenario(t, addBlocks(block("a", TypeLoop, "A", 0, 0), block("b", TypeLoop, "B", 0, 0), block("c", TypeLoop, "C", 0, 0)))
	s.concurrently("r1", 2_000, UpdateParent{ID: "a", ParentID: "b"})
	s.concurrently("r2", 2_001, UpdateParent{ID: "b", ParentID: "c"})
	s.concurrently("r3", 2_002, UpdateParent{ID: "c", ParentID: "a"})
	v := s.converge()
	doc := s.merged()
	checkTree(t, doc, v)
	if parentIn(v, "c") != "" || parentIn(v, "b") != "c" || parentIn(v, "a") != "b" {
		t.Fatalf("want c top, b in c, a in b; got a=%q b=%q c=%q", parentIn(v, "a"), parentIn(v, "b"), parentIn(v, "c"))
	}
	d, v := after(t, doc, UpdateParent{ID: "a", ParentID: "c"})
	checkTree(t, d, v)
	if parentIn(v, "a") != "c" || parentIn(v, "c") != "" {
		t.Fatalf("moving a into c: a in %q, c in %q; want a in top-level c", parentIn(v, "a"), parentIn(v, "c"))
	}
}

func TestDuplicateOfCutBlockLandsWhereItShows(t *testing.T) {
	doc, _ := cycleScenario(t)
	d, v := after(t, doc, DuplicateBlock{SourceID: "l2", ID: "l2copy"})
	checkTree(t, d, v)
	if p := parentIn(v, "l2copy"); p != "" {
		t.Fatalf("copy of top-level l2 shows in %q", p)
	}
}

// nested returns n loops, l0 at the top and each next one inside the last.
func nested(n int) Op {
	bs := make([]BlockInput, n)
	for i := range bs {
		bs[i] = block(fmt.Sprintf("l%d", i), TypeLoop, fmt.Sprintf("Loop %d", i), 0, 0)
		if i > 0 {
			bs[i].Data = map[string]any{"parentId": fmt.Sprintf("l%d", i-1)}
		}
	}
	return BatchAddBlocks{Blocks: bs}
}

func TestDeepNestingHasNoDepthCap(t *testing.T) {
	for _, n := range []int{70, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			doc := New()
			clock := crdt.NewClock("solo")
			if _, err := doc.Apply(clock.Now(1_000), nested(n)); err != nil {
				t.Fatal(err)
			}
			deepest := fmt.Sprintf("l%d", n-1)
			_, err := doc.Clone().Apply(clock.Now(2_000), UpdateParent{ID: "l0", ParentID: deepest})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("moving l0 into its descendant %s: %v, want ErrInvalid", deepest, err)
			}
			_, err = doc.Clone().Apply(clock.Now(2_000), BatchUpdateParent{Updates: []ParentUpdate{{ID: "l0", ParentID: deepest}}})
			if !errors.Is(err, ErrNoEffect) {
				t.Fatalf("batch-moving l0 into %s: %v, want the entry skipped (ErrNoEffect)", deepest, err)
			}
			d, v := after(t, doc, RemoveBlock{ID: deepest})
			checkTree(t, d, v)
			if len(v.Blocks) != n-1 {
				t.Fatalf("removing the deepest loop left %d blocks, want %d", len(v.Blocks), n-1)
			}
			if _, err := doc.Apply(clock.Now(3_000), BatchToggleLocked{BlockIDs: []string{"l0"}}); err != nil {
				t.Fatal(err)
			}
			if !Protected(doc, deepest) {
				t.Fatalf("%s sits %d levels under locked l0 but is not protected", deepest, n-1)
			}
		})
	}
}

// TestMoveIntoRemovedLoopShowsAtTop: a block moved into a loop that another
// replica removes at the same time stays visible at the top level with its
// values, and holds its name exactly once.
func TestMoveIntoRemovedLoopShowsAtTop(t *testing.T) {
	s := newScenario(t, addBlocks(block("L", TypeLoop, "Loop 1", 0, 0), block("w", "agent", "Worker", 700, 0)),
		UpdateSubBlock{BlockID: "w", SubBlockID: "prompt", Value: "keep me"})
	s.concurrently("alice", 2_000, BatchRemoveBlocks{IDs: []string{"L"}})
	s.concurrently("bob", 2_000, BatchUpdateParent{Updates: []ParentUpdate{{ID: "w", ParentID: "L", Position: &Position{X: 20, Y: 30}}}})
	v := s.converge()
	doc := s.merged()
	checkTree(t, doc, v)
	w := v.Blocks["w"]
	if w == nil || parentIn(v, "w") != "" || w.SubBlocks["prompt"].Value.asString() != "keep me" {
		t.Fatalf("moved block: %+v, want it at the top level with its values", w)
	}
	if _, ok := w.Data["extent"]; ok {
		t.Fatalf("a top-level block shows an extent")
	}
	if w.Position != (Position{X: 20, Y: 30}) {
		t.Fatalf("position %v, want the stored (container-relative) one kept", w.Position)
	}
	checkNameOnce(t, doc, "w", "Worker")
}

func TestAddIntoRemovedLoopShowsAtTop(t *testing.T) {
	s := newScenario(t, addBlocks(block("L", TypeLoop, "Loop 1", 0, 0), child("c1", "C1", "L")))
	s.concurrently("alice", 2_000, BatchRemoveBlocks{IDs: []string{"L"}})
	s.concurrently("bob", 2_000, addBlocks(child("c2", "C2", "L")),
		AddEdge{Edge: EdgeInput{ID: "e", Source: "c1", Target: "c2"}})
	v := s.converge()
	doc := s.merged()
	checkTree(t, doc, v)
	if got := visibleIDs(v); !slices.Equal(got, []string{"c2"}) || len(v.Edges) != 0 || len(v.Loops) != 0 {
		t.Fatalf("blocks=%v edges=%v loops=%v; want only c2, at the top level", got, v.Edges, v.Loops)
	}
	checkNameOnce(t, doc, "c2", "C2")
}

// checkNameOnce: the orphan holds its name (a new block may not take it);
// once renamed, the name can be taken exactly once.
func checkNameOnce(t *testing.T, doc *Doc, id, name string) {
	t.Helper()
	clock := crdt.NewClock("namer")
	doc = doc.Clone()
	if _, err := doc.Apply(clock.Now(20_000), addBlocks(block("n1", "agent", name, 0, 0))); !errors.Is(err, ErrNameConflict) {
		t.Fatalf("adding a second %q: %v, want ErrNameConflict (the orphan holds it)", name, err)
	}
	if _, err := doc.Apply(clock.Now(20_001), UpdateName{ID: id, NewName: name + " old"}); err != nil {
		t.Fatalf("renaming the orphan: %v", err)
	}
	if _, err := doc.Apply(clock.Now(20_002), addBlocks(block("n1", "agent", name, 0, 0))); err != nil {
		t.Fatalf("adding %q once it is free: %v", name, err)
	}
	if _, err := doc.Apply(clock.Now(20_003), addBlocks(block("n2", "agent", name, 0, 0))); !errors.Is(err, ErrNameConflict) {
		t.Fatalf("adding %q a second time: %v, want ErrNameConflict", name, err)
	}
	checkTree(t, doc, doc.View())
}

// TestRepeatedAddIntoRemovedLoopLeavesNothingHidden: many rounds of "add a
// child while another replica removes the loop" leave every live block
// visible, where they used to pile up hidden.
func TestRepeatedAddIntoRemovedLoopLeavesNothingHidden(t *testing.T) {
	doc := New()
	alice, bob := crdt.NewClock("alice"), crdt.NewClock("bob")
	wall := int64(1_000)
	for i := range 50 {
		wall += 10
		loop := fmt.Sprintf("L%d", i)
		d, err := doc.Apply(alice.Now(wall), addBlocks(block(loop, TypeLoop, "Loop "+loop, 0, 0)))
		if err != nil {
			t.Fatal(err)
		}
		_ = d
		a, b := doc.Clone(), doc.Clone()
		da, err := a.Apply(alice.Now(wall+1), RemoveBlock{ID: loop})
		if err != nil {
			t.Fatal(err)
		}
		db, err := b.Apply(bob.Now(wall+1), addBlocks(child(fmt.Sprintf("c%d", i), fmt.Sprintf("Child %d", i), loop)))
		if err != nil {
			t.Fatal(err)
		}
		doc.Merge(da)
		doc.Merge(db)
	}
	v := doc.View()
	checkTree(t, doc, v)
	if len(v.Blocks) != 50 {
		t.Fatalf("%d blocks show, want the 50 children", len(v.Blocks))
	}
}

// TestOfflineAddsPaintInOneOrder: two windows add a block at the same spot
// offline; every replica paints them in the same order.
func TestOfflineAddsPaintInOneOrder(t *testing.T) {
	s := newScenario(t, addBlocks(block("L", TypeLoop, "Loop 1", 0, 0)))
	s.concurrently("alice", 2_000, addBlocks(block("a4", "agent", "Agent 4", 100, 100)))
	s.concurrently("bob", 2_000, addBlocks(block("b4", "agent", "Agent 4", 100, 100), child("k", "Kid", "L")))
	v := s.converge() // every delivery order gives a DeepEqual view, Order included
	checkTree(t, s.merged(), v)
	if !slices.Equal(v.Order, []string{"L", "k", "a4", "b4"}) {
		t.Fatalf("order %v, want [L k a4 b4]: setup first, container before child, then by add stamp", v.Order)
	}
}

// TestOfflineAddsSameNameRenameReported: the later of two blocks added
// offline with one name shows suffixed; RenamedBy reports it to its author
// only, and the suffixed name is taken like any shown name.
func TestOfflineAddsSameNameRenameReported(t *testing.T) {
	s := newScenario(t)
	s.concurrently("alice", 2_000, addBlocks(block("a4", "agent", "Agent 4", 100, 100)))
	s.concurrently("bob", 2_000, addBlocks(block("b4", "agent", "Agent 4", 100, 100)))
	v := s.converge()
	doc := s.merged()
	checkTree(t, doc, v)
	if v.Blocks["a4"].Name != "Agent 4" || v.Blocks["b4"].Name != "Agent 4 2" {
		t.Fatalf("names a4=%q b4=%q", v.Blocks["a4"].Name, v.Blocks["b4"].Name)
	}
	if got := RenamedBy(doc, "alice"); len(got) != 0 {
		t.Fatalf("alice's block kept its name, yet RenamedBy reports %v", got)
	}
	want := []Renamed{{ID: "b4", Name: "Agent 4", ShownAs: "Agent 4 2"}}
	if got := RenamedBy(doc, "bob"); !slices.Equal(got, want) {
		t.Fatalf("RenamedBy(bob) = %v, want %v", got, want)
	}
	clock := crdt.NewClock("carol")
	if _, err := doc.Clone().Apply(clock.Now(5_000), addBlocks(block("c", "agent", "Agent 4 2", 0, 0))); !errors.Is(err, ErrNameConflict) {
		t.Fatalf("adding %q, which b4 shows: %v, want ErrNameConflict", "Agent 4 2", err)
	}
	// Renaming b4 to the name it shows makes it stored, and the report ends.
	d, v := after(t, doc, UpdateName{ID: "b4", NewName: "Agent 4 2"})
	checkTree(t, d, v)
	if got := RenamedBy(d, "later"); len(got) != 0 {
		t.Fatalf("after the rename RenamedBy reports %v", got)
	}
}

// TestChildOfLosingContainerAddShowsAtTop: alice adds loop L with child c
// while bob adds another L a moment later. Bob's add is L's record
// (incarnation.go); c joined alice's record, which does not show, so the
// orphan rule puts c at the top level rather than inside bob's loop.
func TestChildOfLosingContainerAddShowsAtTop(t *testing.T) {
	s := newScenario(t, addBlocks(block("x", "agent", "X", 0, 0)))
	s.concurrently("alice", 2_000, addBlocks(block("L", TypeLoop, "Loop A", 0, 0), child("c", "C", "L")))
	s.concurrently("bob", 2_001, addBlocks(block("L", TypeLoop, "Loop B", 100, 0)))
	v := s.converge()
	doc := s.merged()
	checkTree(t, doc, v)
	if v.Blocks["L"] == nil || v.Blocks["L"].Name != "Loop B" {
		t.Fatalf("L = %+v, want bob's record", v.Blocks["L"])
	}
	if v.Blocks["c"] == nil || parentIn(v, "c") != "" {
		t.Fatalf("c = %+v, want it visible at the top level", v.Blocks["c"])
	}
	if nodes := v.Loops["L"].Nodes; len(nodes) != 0 {
		t.Fatalf("bob's loop lists nodes %v, want none", nodes)
	}
	// Operations agree: removing L leaves c.
	_, after := after(t, doc, RemoveBlock{ID: "L"})
	if after.Blocks["c"] == nil {
		t.Fatal("removing L removed c, which the view shows outside it")
	}
}
