package workflow

import (
	"errors"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// uReplica is one replica with its own clock and undo manager, editing a
// document that it syncs by hand with others (sync).
type uReplica struct {
	t    testing.TB
	d    *Doc
	c    *crdt.Clock
	m    *UndoManager
	wall *int64
}

func newUReplica(t testing.TB, id string, wall *int64, d *Doc) *uReplica {
	return &uReplica{t: t, d: d, c: crdt.NewClock(crdt.ReplicaID(id)), m: NewUndoManager(UndoConfig{Window: -1}), wall: wall}
}

func (r *uReplica) now() crdt.Timestamp {
	*r.wall += 10
	return r.c.Now(*r.wall)
}

// edit applies op as a local edit, recorded for undo.
func (r *uReplica) edit(op Op) *Doc {
	r.t.Helper()
	ts := r.now()
	delta, err := r.d.Prepare(ts, op)
	if err != nil {
		r.t.Fatalf("%s %+v: %v", op.Name(), op, err)
	}
	r.m.Record(r.d, delta, ts)
	r.d.Merge(delta)
	return delta
}

func (r *uReplica) undo() *Doc {
	r.t.Helper()
	delta, err := r.m.Undo(r.d, r.now())
	if err != nil {
		r.t.Fatalf("undo: %v", err)
	}
	return delta
}

func (r *uReplica) redo() *Doc {
	r.t.Helper()
	delta, err := r.m.Redo(r.d, r.now())
	if err != nil {
		r.t.Fatalf("redo: %v", err)
	}
	return delta
}

// sync brings every replica to the join of all of them, observing the
// timestamps it merges as a real replica does.
func uSync(rs ...*uReplica) {
	all := New()
	for _, r := range rs {
		all.Merge(r.d)
	}
	for _, r := range rs {
		r.d.Merge(all.DeltaSince(r.d.Context()))
		all.store.Range(func(_ Key, es []crdt.Dotted[Cell]) bool {
			for _, e := range es {
				r.c.Observe(e.Value.Stamp(e.Dot), *r.wall)
			}
			return true
		})
	}
}

func (r *uReplica) view() *View { return r.d.View() }

func sameView(t testing.TB, what string, got, want *View) {
	t.Helper()
	if diff := diffViews(got, want); diff != "" {
		t.Fatalf("%s: views differ (got, want):\n%s", what, diff)
	}
}

// TestUndoEachOperation applies every operation of the vocabulary to the
// fixture, undoes it (the view is the one before), redoes it (the view is
// the one after), and undoes it again.
func TestUndoEachOperation(t *testing.T) {
	cases := []Op{
		UpdatePosition{ID: "a", Position: Position{X: 50, Y: 60}},
		UpdateName{ID: "a", NewName: "Renamed"},
		ToggleEnabled{ID: "a"},
		ToggleEnabled{ID: "L"},
		UpdateParent{ID: "a", ParentID: "L", Extent: "parent"},
		UpdateParent{ID: "l1", ParentID: ""},
		UpdateAdvancedMode{ID: "a", AdvancedMode: true},
		UpdateErrorEnabled{ID: "a", ErrorEnabled: true},
		UpdateTriggerMode{ID: "a", TriggerMode: true},
		UpdateWide{ID: "a", IsWide: true},
		ToggleHandles{ID: "a", HorizontalHandles: false},
		UpdateCanonicalMode{ID: "a", CanonicalID: "c1", Mode: "advanced"},
		AddBlock{Block: otBlock("x", "agent", "X")},
		AddBlock{Block: otChild("x", "agent", "X", "L")},
		RemoveBlock{ID: "a"},
		RemoveBlock{ID: "L"},
		BatchRemoveBlocks{IDs: []string{"a", "b", "L"}},
		DuplicateBlock{SourceID: "a", ID: "a2"},
		DuplicateSubflowWithChildren{SourceID: "L", ID: "L2", IDMap: map[string]string{"l1": "l1c", "l2": "l2c", "l12": "l12c"}},
		BatchAddBlocks{Blocks: []BlockInput{otBlock("x", "agent", "X"), otBlock("y", "agent", "Y")},
			Edges: []EdgeInput{{ID: "xy", Source: "x", Target: "y"}, {ID: "ax", Source: "a", Target: "x"}}},
		BatchUpdatePositions{Updates: []PositionUpdate{{ID: "a", Position: Position{X: 5, Y: 5}}, {ID: "b", Position: Position{X: 7, Y: 7}}}},
		BatchToggleEnabled{BlockIDs: []string{"a", "b"}},
		BatchToggleHandles{BlockIDs: []string{"a", "b"}},
		BatchToggleLocked{BlockIDs: []string{"a", "k"}},
		BatchUpdateParent{Updates: []ParentUpdate{{ID: "a", ParentID: "P"}, {ID: "l2", ParentID: ""}}},
		AddEdge{Edge: EdgeInput{ID: "bc", Source: "b", Target: "c"}},
		BatchAddEdges{Edges: []EdgeInput{{ID: "bc", Source: "b", Target: "c"}, {ID: "ac", Source: "a", Target: "c"}}},
		RemoveEdge{ID: "ab"},
		BatchRemoveEdges{IDs: []string{"ab", "l12"}},
		UpdateSubBlock{BlockID: "a", SubBlockID: "prompt", Value: "hello"},
		SubBlockBatchUpdate{Updates: []SubBlockUpdate{{BlockID: "a", SubBlockID: "prompt", Value: "x"}, {BlockID: "b", SubBlockID: "url", Value: "y"}}},
		UpdateSubflow{ID: "L", Config: map[string]any{"iterations": 9}},
		AddSubflow{Block: otBlock("L9", TypeLoop, "Loop 9"), Config: map[string]any{"iterations": 3}},
		RemoveSubflow{ID: "P"},
		AddVariable{ID: "v1", VarName: "v1", Type: "string", Value: "x"},
	}
	for _, op := range cases {
		t.Run(op.Name()+"/"+jsonOf(op), func(t *testing.T) {
			wall := int64(1_000)
			r := newUReplica(t, "r1", &wall, otFixture(t).d)
			r.c.Observe(crdt.Timestamp{Wall: 5_000, Replica: "r1"}, wall)
			wall = 5_000
			before := r.view()
			r.edit(op)
			after := r.view()
			if !r.m.CanUndo() || r.m.CanRedo() {
				t.Fatalf("after the edit: CanUndo %v CanRedo %v", r.m.CanUndo(), r.m.CanRedo())
			}
			r.undo()
			sameView(t, "after undo", r.view(), before)
			if r.m.CanUndo() || !r.m.CanRedo() {
				t.Fatalf("after undo: CanUndo %v CanRedo %v", r.m.CanUndo(), r.m.CanRedo())
			}
			r.redo()
			sameView(t, "after redo", r.view(), after)
			r.undo()
			sameView(t, "after the second undo", r.view(), before)
		})
	}
}

// TestUndoReplaceState: undoing a replace-state brings back the old graph
// (the blocks it kept get their former records), and redo the new one. On
// a document with locked blocks the undo restores them locked, so a redo,
// which would have to remove them, leaves them (the lock rule).
func TestUndoReplaceState(t *testing.T) {
	wall := int64(1_000)
	r := newUReplica(t, "r1", &wall, New())
	r.edit(BatchAddBlocks{Blocks: []BlockInput{otBlock("a", "agent", "A"), otBlock("b", "agent", "B")},
		Edges: []EdgeInput{{ID: "ab", Source: "a", Target: "b"}}})
	r.edit(UpdateSubBlock{BlockID: "a", SubBlockID: "prompt", Value: "old"})
	r.m.Clear()
	before := r.view()
	r.edit(ReplaceState{Blocks: map[string]BlockInput{"a": otBlock("a", "api", "A2"), "z": otBlock("z", "agent", "Z")},
		Edges: []EdgeInput{{ID: "az", Source: "a", Target: "z"}}})
	after := r.view()
	r.undo()
	sameView(t, "undo", r.view(), before)
	r.redo()
	sameView(t, "redo", r.view(), after)
	r.undo()
	sameView(t, "undo again", r.view(), before)
}

// TestUndoVariableOps covers the variable vocabulary on a document that has
// one.
func TestUndoVariableOps(t *testing.T) {
	for _, op := range []Op{
		UpdateVariable{ID: "v", Field: "name", Value: "w"},
		UpdateVariable{ID: "v", Field: "value", Value: 42},
		RemoveVariable{ID: "v"},
		DuplicateVariable{SourceID: "v", ID: "v2"},
	} {
		t.Run(op.Name(), func(t *testing.T) {
			wall := int64(1_000)
			r := newUReplica(t, "r1", &wall, New())
			r.edit(AddVariable{ID: "v", VarName: "v", Type: "string", Value: "x"})
			r.m.Clear()
			before := r.view()
			r.edit(op)
			after := r.view()
			r.undo()
			sameView(t, "after undo", r.view(), before)
			r.redo()
			sameView(t, "after redo", r.view(), after)
		})
	}
}

// TestUndoDeleteRestoresChildrenAndEdges: undoing the removal of a loop
// brings back its children, their values and the edges between live ends;
// an edge to a block someone removed meanwhile stays gone.
func TestUndoDeleteRestoresChildrenAndEdges(t *testing.T) {
	wall := int64(1_000)
	alice := newUReplica(t, "alice", &wall, otFixture(t).d)
	bob := newUReplica(t, "bob", &wall, New())
	uSync(alice, bob)
	alice.edit(AddEdge{Edge: EdgeInput{ID: "cL", Source: "c", Target: "L"}})
	alice.edit(UpdateSubBlock{BlockID: "l1", SubBlockID: "prompt", Value: "keep me"})
	alice.edit(AddEdge{Edge: EdgeInput{ID: "aL", Source: "a", Target: "L"}})
	uSync(alice, bob)
	before := alice.view()
	alice.edit(RemoveBlock{ID: "L"})
	uSync(alice, bob)
	bob.edit(RemoveBlock{ID: "a"})
	uSync(alice, bob)
	alice.undo()
	uSync(alice, bob)
	v := bob.view()
	for _, id := range []string{"L", "l1", "l2"} {
		if v.Blocks[id] == nil {
			t.Fatalf("%s not restored", id)
		}
	}
	if got := v.Blocks["l1"].SubBlocks["prompt"].Value; got.asString() != "keep me" {
		t.Fatalf("l1's prompt is %v", got)
	}
	if v.Blocks["l1"].Data["parentId"].asString() != "L" {
		t.Fatalf("l1 is not back in L: %v", v.Blocks["l1"].Data)
	}
	edges := map[string]bool{}
	for _, e := range v.Edges {
		edges[e.ID] = true
	}
	if !edges["cL"] || !edges["l12"] || edges["aL"] {
		t.Fatalf("edges after undo: %v (want cL and l12, not aL: a is gone)", edges)
	}
	if before.Blocks["L"].Name != v.Blocks["L"].Name {
		t.Fatalf("name %q, want %q", v.Blocks["L"].Name, before.Blocks["L"].Name)
	}
}

// TestUndoDeleteKeepsAConcurrentEdit: Alice deletes a block while Bob,
// who has not seen the delete, renames it; Alice's undo brings the block
// back with Bob's name.
func TestUndoDeleteKeepsAConcurrentEdit(t *testing.T) {
	wall := int64(1_000)
	alice := newUReplica(t, "alice", &wall, otFixture(t).d)
	bob := newUReplica(t, "bob", &wall, New())
	uSync(alice, bob)
	alice.edit(RemoveBlock{ID: "a"})
	bob.edit(UpdateName{ID: "a", NewName: "Bobs"})
	bob.edit(UpdateSubBlock{BlockID: "a", SubBlockID: "prompt", Value: "bob typed"})
	uSync(alice, bob)
	if alice.view().Blocks["a"] != nil {
		t.Fatal("the delete did not win")
	}
	alice.undo()
	uSync(alice, bob)
	b := bob.view().Blocks["a"]
	if b == nil || b.Name != "Bobs" || b.SubBlocks["prompt"].Value.asString() != "bob typed" {
		t.Fatalf("restored block %s, want Bob's name and prompt", jsonOf(b))
	}
}

// TestUndoSkipsAFieldSomeoneElseOverwrote: Yjs's rule. Alice moves a block,
// Bob moves it later; Alice's undo leaves Bob's position and still undoes
// her other changes of the entry.
func TestUndoSkipsAFieldSomeoneElseOverwrote(t *testing.T) {
	wall := int64(1_000)
	alice := newUReplica(t, "alice", &wall, otFixture(t).d)
	bob := newUReplica(t, "bob", &wall, New())
	uSync(alice, bob)
	alice.m.Begin()
	alice.edit(UpdatePosition{ID: "a", Position: Position{X: 100, Y: 100}})
	alice.edit(UpdateName{ID: "b", NewName: "Bee"})
	alice.m.End()
	uSync(alice, bob)
	bob.edit(UpdatePosition{ID: "a", Position: Position{X: 300, Y: 300}})
	uSync(alice, bob)
	alice.undo()
	uSync(alice, bob)
	v := alice.view()
	if p := v.Blocks["a"].Position; p.X != 300 {
		t.Fatalf("a at %v: Alice's undo clobbered Bob's move", p)
	}
	if v.Blocks["b"].Name != "B" {
		t.Fatalf("b is named %q, want B back", v.Blocks["b"].Name)
	}
	sameView(t, "bob", bob.view(), v)
}

// TestUndoMoveIsAllOrNothing: a move writes parent, extent and position;
// when another replica moved the block after, none of them is undone.
func TestUndoMoveIsAllOrNothing(t *testing.T) {
	wall := int64(1_000)
	alice := newUReplica(t, "alice", &wall, otFixture(t).d)
	bob := newUReplica(t, "bob", &wall, New())
	uSync(alice, bob)
	alice.edit(UpdateParent{ID: "a", ParentID: "L", Extent: "parent"})
	alice.edit(UpdatePosition{ID: "a", Position: Position{X: 9, Y: 9}})
	uSync(alice, bob)
	bob.edit(UpdatePosition{ID: "a", Position: Position{X: 300, Y: 300}})
	uSync(alice, bob)
	// The nudge: Bob's later position stays. The move: Bob moved the block
	// since, so it stays in L. Neither entry has an effect left.
	if _, err := alice.m.Undo(alice.d, alice.now()); !errors.Is(err, ErrNothingToUndo) {
		t.Fatalf("undo: %v", err)
	}
	if alice.m.CanUndo() {
		t.Fatal("entries with no effect left stayed on the stack")
	}
	b := alice.view().Blocks["a"]
	if b.Data["parentId"].asString() != "L" || b.Position.X != 300 {
		t.Fatalf("a: parent %v at %v, want L at 300", b.Data["parentId"], b.Position)
	}
}

// TestUndoRedoChainFollowsRewrites: undoing two edits of one field in turn
// restores each former value, because an undo's rewrite is followed.
func TestUndoRedoChainFollowsRewrites(t *testing.T) {
	wall := int64(1_000)
	r := newUReplica(t, "r1", &wall, otFixture(t).d)
	v0 := r.view()
	r.edit(UpdateName{ID: "a", NewName: "One"})
	v1 := r.view()
	r.edit(UpdateName{ID: "a", NewName: "Two"})
	v2 := r.view()
	r.undo()
	sameView(t, "undo 2", r.view(), v1)
	r.undo()
	sameView(t, "undo 1", r.view(), v0)
	r.redo()
	sameView(t, "redo 1", r.view(), v1)
	r.redo()
	sameView(t, "redo 2", r.view(), v2)
	r.undo()
	r.undo()
	sameView(t, "undo both again", r.view(), v0)
	if _, err := r.m.Undo(r.d, r.now()); !errors.Is(err, ErrNothingToUndo) {
		t.Fatalf("undo past the bottom: %v", err)
	}
}

// TestUndoAddThenEditsUndoneInOrder: undoing the add of a block that later
// entries edited, then redoing everything.
func TestUndoAddThenEditsUndoneInOrder(t *testing.T) {
	wall := int64(1_000)
	r := newUReplica(t, "r1", &wall, New())
	v0 := r.view()
	r.edit(AddBlock{Block: otBlock("x", "agent", "X")})
	r.edit(UpdateSubBlock{BlockID: "x", SubBlockID: "p", Value: "v"})
	r.edit(RemoveBlock{ID: "x"})
	v3 := r.view()
	r.undo()
	r.undo()
	r.undo()
	sameView(t, "all undone", r.view(), v0)
	r.redo()
	r.redo()
	r.redo()
	sameView(t, "all redone", r.view(), v3)
	r.undo()
	if r.view().Blocks["x"].SubBlocks["p"].Value.asString() != "v" {
		t.Fatalf("the delete's undo lost the sub-block: %s", jsonOf(r.view().Blocks["x"]))
	}
}

// TestUndoRemoteEditsNeverEnterTheStack: a replica that only merged others'
// edits has nothing to undo.
func TestUndoRemoteEditsNeverEnterTheStack(t *testing.T) {
	wall := int64(1_000)
	alice := newUReplica(t, "alice", &wall, New())
	bob := newUReplica(t, "bob", &wall, New())
	bob.edit(AddBlock{Block: otBlock("x", "agent", "X")})
	uSync(alice, bob)
	if alice.m.CanUndo() {
		t.Fatal("a merged edit entered the undo stack")
	}
	if _, err := alice.m.Undo(alice.d, alice.now()); !errors.Is(err, ErrNothingToUndo) {
		t.Fatalf("got %v", err)
	}
}

// TestUndoGrouping: edits within the window are one entry, a transaction
// is one entry whatever its length, StopCapturing and an undo cut groups,
// and a new edit clears the redo stack.
func TestUndoGrouping(t *testing.T) {
	wall := int64(1_000)
	r := newUReplica(t, "r1", &wall, otFixture(t).d)
	r.m = NewUndoManager(UndoConfig{Window: 100})
	v0 := r.view()
	for _, s := range []string{"h", "he", "hel", "hell", "hello"} {
		r.edit(UpdateSubBlock{BlockID: "a", SubBlockID: "prompt", Value: s})
	}
	wall += 1_000 // a pause
	v1 := r.view()
	r.edit(UpdateName{ID: "a", NewName: "After pause"})
	r.undo()
	sameView(t, "undo after the pause", r.view(), v1)
	r.undo()
	sameView(t, "undo of the burst", r.view(), v0)
	r.redo()
	r.edit(UpdateName{ID: "b", NewName: "New"})
	if r.m.CanRedo() {
		t.Fatal("a new edit left the redo stack")
	}
	r.m.Begin()
	r.edit(UpdateName{ID: "c", NewName: "C1"})
	wall += 10_000
	r.m.Begin()
	r.edit(UpdateName{ID: "c", NewName: "C2"})
	r.m.End()
	r.edit(UpdateName{ID: "a", NewName: "A1"})
	r.m.End()
	v2 := r.view()
	_ = v2
	r.undo()
	if v := r.view(); v.Blocks["c"].Name != "C" || v.Blocks["a"].Name != "hello"[:0]+v1.Blocks["a"].Name {
		t.Fatalf("the transaction did not undo at once: c %q a %q", v.Blocks["c"].Name, v.Blocks["a"].Name)
	}
}

// TestUndoStackIsBounded: past MaxEntries the oldest entries go.
func TestUndoStackIsBounded(t *testing.T) {
	wall := int64(1_000)
	r := newUReplica(t, "r1", &wall, otFixture(t).d)
	r.m = NewUndoManager(UndoConfig{Window: -1, MaxEntries: 3})
	for i := range 10 {
		r.edit(UpdatePosition{ID: "a", Position: Position{X: float64(i), Y: 0}})
	}
	n := 0
	for r.m.CanUndo() {
		r.undo()
		n++
	}
	if n != 3 {
		t.Fatalf("undid %d entries, want 3", n)
	}
	if p := r.view().Blocks["a"].Position; p.X != 6 {
		t.Fatalf("a at %v after undoing the 3 kept entries, want x 6", p)
	}
}

// TestUndoRefusesNothingAndLeavesLocksAlone: an undo does not write to a
// block someone locked since.
func TestUndoLeavesLockedBlocksAlone(t *testing.T) {
	wall := int64(1_000)
	alice := newUReplica(t, "alice", &wall, otFixture(t).d)
	bob := newUReplica(t, "bob", &wall, New())
	uSync(alice, bob)
	alice.edit(UpdateName{ID: "a", NewName: "Mine"})
	uSync(alice, bob)
	bob.edit(BatchToggleLocked{BlockIDs: []string{"a"}})
	uSync(alice, bob)
	if _, err := alice.m.Undo(alice.d, alice.now()); !errors.Is(err, ErrNothingToUndo) {
		t.Fatalf("undo of a rename of a block locked since: %v", err)
	}
	if alice.view().Blocks["a"].Name != "Mine" {
		t.Fatal("the locked block changed")
	}
}

// TestUndoSharedReplica: a server writes two thin clients' operations
// under its one replica id, each client with its own manager. With
// SharedReplica, the other client's later nudge counts as another author's
// write, so the first client's move is not undone; only the dots a manager's
// stacks hold are its own.
func TestUndoSharedReplica(t *testing.T) {
	wall := int64(1_000)
	srv := newUReplica(t, "server", &wall, otFixture(t).d)
	ann := NewUndoManager(UndoConfig{Window: -1, SharedReplica: true})
	ben := NewUndoManager(UndoConfig{Window: -1, SharedReplica: true})
	run := func(m *UndoManager, op Op) {
		ts := srv.now()
		delta, err := srv.d.Prepare(ts, op)
		if err != nil {
			t.Fatal(err)
		}
		m.Record(srv.d, delta, ts)
		srv.d.Merge(delta)
	}
	run(ann, UpdateParent{ID: "a", ParentID: "L", Extent: "parent"})
	run(ann, UpdateName{ID: "b", NewName: "Ann's"})
	run(ben, UpdatePosition{ID: "a", Position: Position{X: 77, Y: 77}})
	if _, err := ann.Undo(srv.d, srv.now()); err != nil { // the rename
		t.Fatal(err)
	}
	if _, err := ann.Undo(srv.d, srv.now()); !errors.Is(err, ErrNothingToUndo) {
		t.Fatalf("undo of the move Ben nudged since: %v", err)
	}
	if v := srv.view().Blocks["a"]; v.Data["parentId"].asString() != "L" || v.Position.X != 77 {
		t.Fatalf("a: parent %v at %v, want L at 77", v.Data["parentId"], v.Position)
	}
	if _, err := ben.Undo(srv.d, srv.now()); err != nil {
		t.Fatal(err)
	}
}

// TestUndoEditOfNothingLeavesNoEntry: an edit that touched no value (a
// parent cleared on a top-level block) is not an undo step: Undo reverts
// the step before it, not nothing, and CanUndo says so.
func TestUndoEditOfNothingLeavesNoEntry(t *testing.T) {
	wall := int64(1_000)
	r := newUReplica(t, "r1", &wall, otFixture(t).d)
	r.edit(UpdateName{ID: "a", NewName: "Named"})
	r.edit(UpdateParent{ID: "b", ParentID: ""})
	if n := len(r.m.undo); n != 1 {
		t.Fatalf("%d entries, want 1 (the rename)", n)
	}
	r.undo()
	if r.m.CanUndo() || r.view().Blocks["a"].Name != "A" {
		t.Fatalf("CanUndo %v, a named %q", r.m.CanUndo(), r.view().Blocks["a"].Name)
	}
}
