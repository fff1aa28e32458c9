package workflow

import (
	"errors"
	"reflect"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// otDoc is a document driven by one replica's clock, with readers that look
// at stored fields directly (not through the view).
type otDoc struct {
	t     *testing.T
	d     *Doc
	clock *crdt.Clock
	wall  int64
}

func otNew(t *testing.T, setup ...Op) *otDoc {
	t.Helper()
	o := &otDoc{t: t, d: New(), clock: crdt.NewClock("r1"), wall: 1_000}
	for _, op := range setup {
		o.ok(op)
	}
	return o
}

func (o *otDoc) now() crdt.Timestamp {
	o.wall += 10
	return o.clock.Now(o.wall)
}

func (o *otDoc) ok(op Op) {
	o.t.Helper()
	if _, err := o.d.Apply(o.now(), op); err != nil {
		o.t.Fatalf("%s %+v: %v", op.Name(), op, err)
	}
}

// fails applies op, expects the sentinel want, and checks the document did
// not change.
func (o *otDoc) fails(op Op, want error) {
	o.t.Helper()
	before := o.d.Encode()
	delta, err := o.d.Apply(o.now(), op)
	if !errors.Is(err, want) {
		o.t.Fatalf("%s %+v: got %v, want %v", op.Name(), op, err, want)
	}
	if delta != nil {
		o.t.Fatalf("%s: refused op returned a delta", op.Name())
	}
	if string(before) != string(o.d.Encode()) {
		o.t.Fatalf("%s: refused op changed the document", op.Name())
	}
}

func (o *otDoc) field(id, f string) Value      { return o.d.get(fieldKey(id, f)) }
func (o *otDoc) str(id, f string) string       { return o.field(id, f).asString() }
func (o *otDoc) flag(id, f string) bool        { return o.field(id, f).asBool(false) }
func (o *otDoc) pos(id string) Position        { return o.field(id, FieldPosition).asPosition() }
func (o *otDoc) exists(id string) bool         { return o.d.has(blockKey(id)) }
func (o *otDoc) edgeExists(id string) bool     { return o.d.has(edgeKey(id)) }
func (o *otDoc) edge(id string) Edge           { return o.d.get(edgeKey(id)).asEdge() }
func (o *otDoc) subType(id, sub string) string { return o.d.get(subBlockTypeKey(id, sub)).asString() }

func (o *otDoc) decode(k Key) any {
	o.t.Helper()
	v, err := o.d.get(k).Decode()
	if err != nil {
		o.t.Fatalf("decode %v: %v", k, err)
	}
	return v
}

func (o *otDoc) sub(id, sub string) any    { return o.decode(subBlockKey(id, sub)) }
func (o *otDoc) cfg(id, key string) any    { return o.decode(subflowKey(id, key)) }
func (o *otDoc) data(id, key string) any   { return o.decode(fieldKey(id, FieldDataPrefix+key)) }
func (o *otDoc) varField(id, f string) any { return o.decode(variableFieldKey(id, f)) }

// keysOf counts the stored keys with the given id (any kind but edges).
func (o *otDoc) keysOf(id string) int {
	n := 0
	o.d.store.Range(func(k Key, _ []crdt.Dotted[Cell]) bool {
		if k.ID == id && k.Kind != KindEdge {
			n++
		}
		return true
	})
	return n
}

func otBlock(id, typ, name string) BlockInput {
	return BlockInput{ID: id, Type: typ, Name: name, Position: &Position{1, 2}}
}

func otChild(id, typ, name, parent string) BlockInput {
	in := otBlock(id, typ, name)
	in.Data = map[string]any{"parentId": parent, "extent": "parent"}
	return in
}

func ptr[T any](v T) *T { return &v }

// otFixture is the document most tests start from:
//
//	a, b, c: agents at top level     n: note     s: starter
//	L: loop with children l1, l2     P: parallel (empty)
//	k: locked agent                  LK: locked loop with child lk1
//	edges: ab (a→b), l12 (l1→l2), klk (k→c)
func otFixture(t *testing.T) *otDoc {
	t.Helper()
	return otNew(t,
		BatchAddBlocks{Blocks: []BlockInput{
			otBlock("a", "agent", "A"), otBlock("b", "agent", "B"), otBlock("c", "agent", "C"),
			otBlock("n", TypeNote, "Note"), otBlock("s", TypeStarter, "Start"),
			otBlock("L", TypeLoop, "Loop 1"), otChild("l1", "agent", "L1", "L"), otChild("l2", "agent", "L2", "L"),
			otBlock("P", TypeParallel, "Par 1"), otBlock("LK", TypeLoop, "Locked Loop"),
			otChild("lk1", "agent", "LK1", "LK"), otBlock("k", "agent", "K"),
		}, Edges: []EdgeInput{
			{ID: "ab", Source: "a", Target: "b"},
			{ID: "l12", Source: "l1", Target: "l2"},
			{ID: "klk", Source: "k", Target: "c"},
		}},
		BatchToggleLocked{BlockIDs: []string{"LK"}},
		BatchToggleLocked{BlockIDs: []string{"k"}},
	)
}

func TestFixtureLocks(t *testing.T) {
	o := otFixture(t)
	for _, id := range []string{"LK", "lk1", "k"} {
		if !o.flag(id, FieldLocked) {
			t.Errorf("%s not locked", id)
		}
		if !protected(o.d, id) {
			t.Errorf("%s not protected", id)
		}
	}
	if protected(o.d, "a") {
		t.Error("a protected")
	}
}

// TestRefusals runs every refused operation on a fresh fixture and checks
// the sentinel and that the document is unchanged.
func TestRefusals(t *testing.T) {
	cases := []struct {
		name string
		op   Op
		want error
	}{
		// block target
		{"position unknown", UpdatePosition{ID: "zz"}, ErrUnknownBlock},
		{"position empty id", UpdatePosition{}, ErrInvalid},
		{"position locked", UpdatePosition{ID: "k"}, ErrLocked},
		{"position under locked container", UpdatePosition{ID: "lk1"}, ErrLocked},
		{"name empty", UpdateName{ID: "a", NewName: " . "}, ErrNameConflict},
		{"name reserved", UpdateName{ID: "a", NewName: "Loop"}, ErrNameConflict},
		{"name reserved spaced", UpdateName{ID: "a", NewName: "Vari able"}, ErrNameConflict},
		{"name taken normalized", UpdateName{ID: "a", NewName: "b."}, ErrNameConflict},
		{"name taken by locked", UpdateName{ID: "a", NewName: "k"}, ErrNameConflict},
		{"name locked", UpdateName{ID: "k", NewName: "K2"}, ErrLocked},
		{"name unknown", UpdateName{ID: "zz", NewName: "Z"}, ErrUnknownBlock},
		{"toggle enabled locked", ToggleEnabled{ID: "lk1"}, ErrLocked},
		{"toggle enabled unknown", ToggleEnabled{ID: "zz"}, ErrUnknownBlock},
		{"parent unknown", UpdateParent{ID: "a", ParentID: "zz"}, ErrUnknownBlock},
		{"parent not container", UpdateParent{ID: "a", ParentID: "b"}, ErrNotContainer},
		{"parent itself", UpdateParent{ID: "L", ParentID: "L"}, ErrInvalid},
		{"parent locked", UpdateParent{ID: "a", ParentID: "LK"}, ErrLocked},
		{"parent of locked", UpdateParent{ID: "lk1", ParentID: ""}, ErrLocked},
		{"advanced locked", UpdateAdvancedMode{ID: "k", AdvancedMode: true}, ErrLocked},
		{"error enabled unknown", UpdateErrorEnabled{ID: "zz"}, ErrUnknownBlock},
		{"retry locked", UpdateRetry{ID: "k", Retry: map[string]any{"enabled": true}}, ErrLocked},
		{"canonical bad mode", UpdateCanonicalMode{ID: "a", CanonicalID: "x", Mode: "expert"}, ErrInvalid},
		{"canonical empty id", UpdateCanonicalMode{ID: "a", Mode: "basic"}, ErrInvalid},
		{"canonical locked", UpdateCanonicalMode{ID: "k", CanonicalID: "x", Mode: "basic"}, ErrLocked},
		{"replace canonical bad", ReplaceCanonicalModes{ID: "a", Modes: map[string]string{"x": "?"}}, ErrInvalid},
		{"handles locked", ToggleHandles{ID: "k"}, ErrLocked},
		{"wide unknown", UpdateWide{ID: "zz"}, ErrUnknownBlock},
		{"trigger locked", UpdateTriggerMode{ID: "lk1"}, ErrLocked},
		{"add exists", AddBlock{Block: otBlock("a", "agent", "New")}, ErrExists},
		{"add bad edge", AddBlock{Block: otBlock("x", "agent", "X"), AutoConnectEdge: &EdgeInput{ID: "e", Source: "x", Target: "s"}}, ErrEdgeRejected},
		{"remove unknown", RemoveBlock{ID: "zz"}, ErrUnknownBlock},
		{"remove locked", RemoveBlock{ID: "lk1"}, ErrLocked},
		{"duplicate unknown", DuplicateBlock{SourceID: "zz", ID: "x"}, ErrUnknownBlock},
		{"duplicate exists", DuplicateBlock{SourceID: "a", ID: "b"}, ErrExists},
		{"duplicate name taken", DuplicateBlock{SourceID: "a", ID: "x", NewName: "B"}, ErrNameConflict},
		{"duplicate under locked", DuplicateBlock{SourceID: "lk1", ID: "x"}, ErrLocked},
		// blocks target
		{"positions all unknown", BatchUpdatePositions{Updates: []PositionUpdate{{ID: "zz"}}}, ErrNoEffect},
		{"positions all locked", BatchUpdatePositions{Updates: []PositionUpdate{{ID: "k"}, {ID: "zz"}}}, ErrLocked},
		{"add blocks exists", BatchAddBlocks{Blocks: []BlockInput{otBlock("x", "agent", "X"), otBlock("a", "agent", "A2")}}, ErrExists},
		{"add blocks repeated id", BatchAddBlocks{Blocks: []BlockInput{otBlock("x", "agent", "X"), otBlock("x", "agent", "X2")}}, ErrExists},
		{"add blocks no name", BatchAddBlocks{Blocks: []BlockInput{otBlock("x", "agent", "")}}, ErrInvalid},
		{"add blocks no type", BatchAddBlocks{Blocks: []BlockInput{otBlock("x", "", "X")}}, ErrInvalid},
		{"add blocks empty id", BatchAddBlocks{Blocks: []BlockInput{otBlock("", "agent", "X")}}, ErrInvalid},
		{"add blocks long id", BatchAddBlocks{Blocks: []BlockInput{otBlock(string(make([]byte, 257)), "agent", "X")}}, ErrInvalid},
		{"add blocks name taken", BatchAddBlocks{Blocks: []BlockInput{otBlock("x", "agent", "a")}}, ErrNameConflict},
		{"add blocks name repeated", BatchAddBlocks{Blocks: []BlockInput{otBlock("x", "agent", "X"), otBlock("y", "agent", "x ")}}, ErrNameConflict},
		{"add blocks name reserved", BatchAddBlocks{Blocks: []BlockInput{otBlock("x", "agent", "Parallel")}}, ErrNameConflict},
		{"add blocks parent unknown", BatchAddBlocks{Blocks: []BlockInput{otChild("x", "agent", "X", "zz")}}, ErrUnknownBlock},
		{"add blocks parent not container", BatchAddBlocks{Blocks: []BlockInput{otChild("x", "agent", "X", "a")}}, ErrNotContainer},
		{"add blocks parent in batch not container", BatchAddBlocks{Blocks: []BlockInput{otBlock("y", "agent", "Y"), otChild("x", "agent", "X", "y")}}, ErrNotContainer},
		{"add blocks parent locked", BatchAddBlocks{Blocks: []BlockInput{otChild("x", "agent", "X", "LK")}}, ErrLocked},
		{"add blocks bad loop config", BatchAddBlocks{Blocks: []BlockInput{otBlock("x", TypeLoop, "X")}, Loops: map[string]map[string]any{"x": {"loopType": "until"}}}, ErrInvalid},
		{"add blocks bad edge", BatchAddBlocks{Blocks: []BlockInput{otBlock("x", "agent", "X")}, Edges: []EdgeInput{{ID: "e", Source: "x", Target: "x"}}}, ErrEdgeRejected},
		{"add blocks nothing", BatchAddBlocks{}, ErrNoEffect},
		{"remove blocks all locked", BatchRemoveBlocks{IDs: []string{"k", "lk1", "LK"}}, ErrLocked},
		{"remove blocks unknown", BatchRemoveBlocks{IDs: []string{"zz"}}, ErrNoEffect},
		{"toggle enabled all locked", BatchToggleEnabled{BlockIDs: []string{"k"}}, ErrLocked},
		{"toggle handles unknown", BatchToggleHandles{BlockIDs: []string{"zz"}}, ErrNoEffect},
		{"toggle locked unknown", BatchToggleLocked{BlockIDs: []string{"zz"}}, ErrNoEffect},
		{"update parent all skipped locked", BatchUpdateParent{Updates: []ParentUpdate{{ID: "a", ParentID: "LK"}, {ID: "k", ParentID: "L"}}}, ErrLocked},
		{"update parent all skipped invalid", BatchUpdateParent{Updates: []ParentUpdate{{ID: "a", ParentID: "b"}, {ID: "L", ParentID: "L"}, {ID: "zz"}}}, ErrNoEffect},
		// edges
		{"edge missing source", AddEdge{Edge: EdgeInput{ID: "e", Source: "zz", Target: "a"}}, ErrUnknownBlock},
		{"edge missing target", AddEdge{Edge: EdgeInput{ID: "e", Source: "a", Target: ""}}, ErrUnknownBlock},
		{"edge empty id", AddEdge{Edge: EdgeInput{Source: "a", Target: "c"}}, ErrInvalid},
		{"edge locked target", AddEdge{Edge: EdgeInput{ID: "e", Source: "a", Target: "k"}}, ErrEdgeRejected},
		{"edge target under locked", AddEdge{Edge: EdgeInput{ID: "e", Source: "LK", Target: "lk1"}}, ErrEdgeRejected},
		{"edge note source", AddEdge{Edge: EdgeInput{ID: "e", Source: "n", Target: "a"}}, ErrEdgeRejected},
		{"edge note target", AddEdge{Edge: EdgeInput{ID: "e", Source: "a", Target: "n"}}, ErrEdgeRejected},
		{"edge starter target", AddEdge{Edge: EdgeInput{ID: "e", Source: "a", Target: "s"}}, ErrEdgeRejected},
		{"edge scope", AddEdge{Edge: EdgeInput{ID: "e", Source: "a", Target: "l1"}}, ErrEdgeRejected},
		{"edge self loop", AddEdge{Edge: EdgeInput{ID: "e", Source: "a", Target: "a"}}, ErrEdgeRejected},
		{"edge duplicate", AddEdge{Edge: EdgeInput{ID: "e", Source: "a", Target: "b"}}, ErrEdgeRejected},
		{"edge id exists", AddEdge{Edge: EdgeInput{ID: "ab", Source: "a", Target: "c"}}, ErrExists},
		{"edge cycle", AddEdge{Edge: EdgeInput{ID: "e", Source: "b", Target: "a"}}, ErrEdgeRejected},
		{"batch edges duplicate in batch", BatchAddEdges{Edges: []EdgeInput{
			{ID: "e1", Source: "a", Target: "c", SourceHandle: "source-top"},
			{ID: "e2", Source: "a", Target: "c", SourceHandle: "source"}}}, ErrEdgeRejected},
		{"batch edges cycle in batch", BatchAddEdges{Edges: []EdgeInput{
			{ID: "e1", Source: "b", Target: "c"}, {ID: "e2", Source: "c", Target: "a"}}}, ErrEdgeRejected},
		{"batch edges repeated id", BatchAddEdges{Edges: []EdgeInput{
			{ID: "e1", Source: "b", Target: "c"}, {ID: "e1", Source: "a", Target: "c"}}}, ErrExists},
		{"remove edge unknown", RemoveEdge{ID: "zz"}, ErrUnknownEdge},
		{"remove edge locked target", RemoveEdge{ID: "klk"}, ErrNoEffect},
		{"batch remove edges unknown", BatchRemoveEdges{IDs: []string{"zz"}}, ErrNoEffect},
		// subflow
		{"subflow unknown", UpdateSubflow{ID: "zz", Config: map[string]any{"iterations": 3}}, ErrUnknownBlock},
		{"subflow not container", UpdateSubflow{ID: "a", Config: map[string]any{"iterations": 3}}, ErrNotContainer},
		{"subflow type mismatch", UpdateSubflow{ID: "L", Type: TypeParallel, Config: map[string]any{"count": 3}}, ErrInvalid},
		{"subflow locked", UpdateSubflow{ID: "LK", Config: map[string]any{"iterations": 3}}, ErrLocked},
		{"subflow bad loop type", UpdateSubflow{ID: "L", Config: map[string]any{"loopType": "until"}}, ErrInvalid},
		{"subflow bad parallel type", UpdateSubflow{ID: "P", Config: map[string]any{"parallelType": "all"}}, ErrInvalid},
		{"subflow bad batch size", UpdateSubflow{ID: "P", Config: map[string]any{"batchSize": "big"}}, ErrInvalid},
		{"subflow nothing", UpdateSubflow{ID: "L", Config: map[string]any{"nodes": []any{"l1"}}}, ErrNoEffect},
		{"add subflow not container", AddSubflow{Block: otBlock("x", "agent", "X")}, ErrNotContainer},
		{"add subflow exists", AddSubflow{Block: otBlock("L", TypeLoop, "Loop 9")}, ErrExists},
		{"remove subflow not container", RemoveSubflow{ID: "a"}, ErrNotContainer},
		{"remove subflow locked", RemoveSubflow{ID: "LK"}, ErrLocked},
		{"duplicate subflow missing map", DuplicateSubflowWithChildren{SourceID: "L", ID: "L2", IDMap: map[string]string{"l1": "m1"}}, ErrInvalid},
		{"duplicate subflow id taken", DuplicateSubflowWithChildren{SourceID: "L", ID: "L2", IDMap: map[string]string{"l1": "a", "l2": "m2", "l12": "e"}}, ErrExists},
		{"duplicate subflow not container", DuplicateSubflowWithChildren{SourceID: "a", ID: "x"}, ErrNotContainer},
		// subblock
		{"subblock unknown block", UpdateSubBlock{BlockID: "zz", SubBlockID: "p", Value: 1}, ErrUnknownBlock},
		{"subblock locked", UpdateSubBlock{BlockID: "lk1", SubBlockID: "p", Value: 1}, ErrLocked},
		{"subblock empty sub id", UpdateSubBlock{BlockID: "a", Value: 1}, ErrInvalid},
		{"subblock batch one locked", SubBlockBatchUpdate{Updates: []SubBlockUpdate{
			{BlockID: "a", SubBlockID: "p", Value: 1}, {BlockID: "k", SubBlockID: "p", Value: 1}}}, ErrLocked},
		{"subblock batch one unknown", SubBlockBatchUpdate{Updates: []SubBlockUpdate{
			{BlockID: "a", SubBlockID: "p", Value: 1}, {BlockID: "zz", SubBlockID: "p", Value: 1}}}, ErrUnknownBlock},
		{"subblock batch precondition", SubBlockBatchUpdate{Updates: []SubBlockUpdate{
			{BlockID: "a", SubBlockID: "p", Value: 1},
			{BlockID: "b", SubBlockID: "p", Value: 2, ExpectedValue: "old", HasExpected: true}}}, ErrPrecondition},
		// variables
		{"variable empty id", AddVariable{VarName: "x"}, ErrInvalid},
		{"variable remove unknown", RemoveVariable{ID: "zz"}, ErrUnknownVariable},
		{"variable update unknown", UpdateVariable{ID: "zz", Field: "value", Value: 1}, ErrUnknownVariable},
		{"variable update bad field", UpdateVariable{ID: "v", Field: "workflowId", Value: 1}, ErrInvalid},
		{"variable update name not string", UpdateVariable{ID: "v", Field: "name", Value: 1}, ErrInvalid},
		{"variable duplicate unknown", DuplicateVariable{SourceID: "zz", ID: "v2"}, ErrUnknownVariable},
		// workflow
		{"replace no position", ReplaceState{Blocks: map[string]BlockInput{"x": {ID: "x", Type: "agent"}}}, ErrInvalid},
		{"replace id mismatch", ReplaceState{Blocks: map[string]BlockInput{"x": otBlock("y", "agent", "Y")}}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := otFixture(t)
			if tc.name == "remove edge locked target" {
				// klk's target c is unprotected; lock it to test the rule.
				o.ok(BatchToggleLocked{BlockIDs: []string{"c"}})
				o.fails(RemoveEdge{ID: "klk"}, ErrLocked)
				o.fails(BatchRemoveEdges{IDs: []string{"klk", "zz"}}, ErrLocked)
				return
			}
			o.ok(AddVariable{ID: "v", VarName: "v", Type: "string"})
			o.fails(tc.op, tc.want)
		})
	}
}

func TestBlockFieldOps(t *testing.T) {
	o := otFixture(t)
	o.ok(UpdatePosition{ID: "a", Position: Position{7, 8}})
	o.ok(UpdateName{ID: "a", NewName: "Agent One"})
	o.ok(UpdateName{ID: "a", NewName: "agent one."}) // its own name, normalized
	o.ok(ToggleEnabled{ID: "a"})
	o.ok(UpdateAdvancedMode{ID: "a", AdvancedMode: true})
	o.ok(UpdateErrorEnabled{ID: "a", ErrorEnabled: true})
	o.ok(UpdateRetry{ID: "a", Retry: map[string]any{"enabled": true, "maxTries": int64(4)}})
	o.ok(UpdateCanonicalMode{ID: "a", CanonicalID: "x", Mode: "advanced"})
	o.ok(UpdateCanonicalMode{ID: "a", CanonicalID: "y", Mode: "basic"})
	o.ok(ToggleHandles{ID: "a", HorizontalHandles: false})
	o.ok(UpdateWide{ID: "a", IsWide: true})
	o.ok(UpdateTriggerMode{ID: "c", TriggerMode: true})

	if p := o.pos("a"); p != (Position{7, 8}) {
		t.Errorf("position %v", p)
	}
	if n := o.str("a", FieldName); n != "agent one." {
		t.Errorf("name %q", n)
	}
	if o.field("a", FieldEnabled).asBool(true) || !o.flag("a", FieldAdvancedMode) || !o.flag("a", FieldErrorEnabled) ||
		o.field("a", FieldHorizontalHandles).asBool(true) || !o.flag("a", FieldIsWide) || !o.flag("c", FieldTriggerMode) {
		t.Error("flags not written")
	}
	retry := o.decode(fieldKey("a", FieldRetry)).(map[string]any)
	if retry["enabled"] != true || retry["maxTries"] != int8(4) && retry["maxTries"] != int64(4) && retry["maxTries"] != uint8(4) {
		t.Errorf("retry %#v", retry)
	}
	o.ok(ReplaceCanonicalModes{ID: "a", Modes: map[string]string{"y": "advanced", "z": "basic"}})
	if o.d.has(fieldKey("a", FieldCanonicalPrefix+"x")) || o.str("a", FieldCanonicalPrefix+"y") != "advanced" || o.str("a", FieldCanonicalPrefix+"z") != "basic" {
		t.Error("canonical modes not replaced")
	}
	o.ok(ToggleEnabled{ID: "a"})
	if !o.flag("a", FieldEnabled) {
		t.Error("toggle back")
	}
	// Renaming frees the old name.
	o.ok(UpdateName{ID: "b", NewName: "A"})
}

func TestUpdateParent(t *testing.T) {
	o := otFixture(t)
	o.ok(UpdateParent{ID: "a", ParentID: "L", Extent: "parent"})
	if o.str("a", FieldParentID) != "L" || o.str("a", FieldExtent) != "parent" {
		t.Fatal("not moved in")
	}
	o.ok(UpdateParent{ID: "a", ParentID: ""})
	if o.d.has(fieldKey("a", FieldParentID)) || o.d.has(fieldKey("a", FieldExtent)) {
		t.Fatal("not detached")
	}
	// A container cannot move into its own descendant.
	o.ok(UpdateParent{ID: "P", ParentID: "L"})
	o.fails(UpdateParent{ID: "L", ParentID: "P"}, ErrInvalid)
}

func TestBatchAddBlocksDefaultsAndSubflows(t *testing.T) {
	o := otNew(t)
	agent := otBlock("a", "agent", "A")
	agent.SubBlocks = map[string]SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "hi"}}
	agent.Data = map[string]any{"width": 300, "canonicalModes": map[string]any{"m": "basic"}}
	agent.Outputs = map[string]any{"content": "string"}
	o.ok(BatchAddBlocks{
		Blocks: []BlockInput{agent, otBlock("L", TypeLoop, "Loop 1"), otBlock("P", TypeParallel, "Par 1"),
			otBlock("P2", TypeParallel, "Par 2"), otChild("c", "agent", "C", "L")},
		Parallels:      map[string]map[string]any{"P2": {"parallelType": "collection", "batchSize": 99, "nodes": []any{"x"}, "distribution": "<items>"}},
		SubBlockValues: map[string]map[string]any{"a": {"prompt": "override", "model": "gpt"}},
		Edges:          []EdgeInput{{ID: "e", Source: "L", Target: "c", SourceHandle: "loop-start-source"}},
	})
	// Defaults are not stored (the view reads an absent field as its
	// default), so check them where an editor sees them.
	a := o.d.View().Blocks["a"]
	for f, got := range map[string][2]bool{FieldEnabled: {a.Enabled, true}, FieldHorizontalHandles: {a.HorizontalHandles, true},
		FieldAdvancedMode: {a.AdvancedMode, false}, FieldTriggerMode: {a.TriggerMode, false},
		FieldErrorEnabled: {a.ErrorEnabled, false}, FieldLocked: {a.Locked, false}, FieldIsWide: {a.IsWide, false}} {
		if got[0] != got[1] {
			t.Errorf("%s = %v, want %v", f, got[0], got[1])
		}
		if o.d.has(fieldKey("a", f)) {
			t.Errorf("%s: a default was stored", f)
		}
	}
	if a.Height != 0 || o.d.has(fieldKey("a", FieldHeight)) {
		t.Errorf("height %v (stored: %v)", a.Height, o.d.has(fieldKey("a", FieldHeight)))
	}
	if o.sub("a", "prompt") != "override" || o.subType("a", "prompt") != "long-input" {
		t.Error("subBlockValues did not override")
	}
	if o.sub("a", "model") != "gpt" || o.subType("a", "model") != "short-input" {
		t.Error("value without record not created as short-input")
	}
	if o.str("a", FieldCanonicalPrefix+"m") != "basic" || o.data("a", "width") == nil {
		t.Error("data not written")
	}
	if o.str("c", FieldParentID) != "L" || o.str("c", FieldExtent) != "parent" {
		t.Error("parent in batch not written")
	}
	if o.cfg("L", "loopType") != "for" || numEq(o.cfg("L", "iterations"), 5) == false {
		t.Error("loop defaults")
	}
	if o.cfg("P", "parallelType") != "count" || !numEq(o.cfg("P", "count"), 5) || !numEq(o.cfg("P", "batchSize"), 20) {
		t.Error("parallel defaults")
	}
	if o.cfg("P2", "parallelType") != "collection" || !numEq(o.cfg("P2", "batchSize"), 20) || o.d.has(subflowKey("P2", "nodes")) ||
		o.d.has(subflowKey("P2", "count")) || o.cfg("P2", "distribution") != "<items>" {
		t.Error("given parallel config not written as given (clamped, without nodes)")
	}
	if !o.edgeExists("e") || o.edge("e").SourceHandle != "loop-start-source" {
		t.Error("container-to-child edge not added")
	}
	if o.d.has(subflowKey("a", "loopType")) {
		t.Error("agent got subflow config")
	}
}

func numEq(v any, want float64) bool {
	f, ok := toFloat(v)
	if !ok {
		switch x := v.(type) {
		case int8:
			f, ok = float64(x), true
		case uint8:
			f, ok = float64(x), true
		case int16:
			f, ok = float64(x), true
		case uint16:
			f, ok = float64(x), true
		}
	}
	return ok && f == want
}

func TestBatchSizeClamped(t *testing.T) {
	o := otFixture(t)
	for in, want := range map[any]float64{0: 1, int64(-3): 1, 7.0: 7, 21: 20, 1e9: 20} {
		o.ok(UpdateSubflow{ID: "P", Type: TypeParallel, Config: map[string]any{"batchSize": in}})
		if !numEq(o.cfg("P", "batchSize"), want) {
			t.Errorf("batchSize %v stored as %v, want %v", in, o.cfg("P", "batchSize"), want)
		}
	}
	// Shallow merge: other keys stay.
	o.ok(UpdateSubflow{ID: "L", Config: map[string]any{"loopType": "forEach", "forEachItems": "<x.items>"}})
	o.ok(UpdateSubflow{ID: "L", Config: map[string]any{"iterations": 9}})
	if o.cfg("L", "loopType") != "forEach" || o.cfg("L", "forEachItems") != "<x.items>" || !numEq(o.cfg("L", "iterations"), 9) {
		t.Error("shallow merge lost keys")
	}
}

func TestRemoveContainerCascades(t *testing.T) {
	for _, op := range []Op{BatchRemoveBlocks{IDs: []string{"L"}}, RemoveBlock{ID: "L"}, RemoveSubflow{ID: "L"}} {
		t.Run(op.Name(), func(t *testing.T) {
			o := otFixture(t)
			o.ok(UpdateParent{ID: "P", ParentID: "L"})
			o.ok(AddBlock{Block: otChild("p1", "agent", "P1", "P")})
			o.ok(UpdateSubBlock{BlockID: "l1", SubBlockID: "prompt", Value: "x"})
			o.ok(op)
			for _, id := range []string{"L", "l1", "l2", "P", "p1"} {
				if o.exists(id) || o.keysOf(id) != 0 {
					t.Errorf("%s left %d keys", id, o.keysOf(id))
				}
			}
			if o.edgeExists("l12") || !o.edgeExists("ab") || !o.exists("a") {
				t.Error("edges not cascaded, or too much removed")
			}
		})
	}
}

func TestBatchRemoveSkipsLocked(t *testing.T) {
	o := otFixture(t)
	o.ok(BatchRemoveBlocks{IDs: []string{"k", "c", "zz", "lk1"}})
	if o.exists("c") || o.edgeExists("klk") || !o.exists("k") || !o.exists("lk1") {
		t.Error("wrong blocks removed")
	}
}

func TestLocks(t *testing.T) {
	o := otFixture(t)
	// Toggle-locked reaches protected blocks and container descendants.
	o.ok(BatchToggleLocked{BlockIDs: []string{"LK"}})
	if o.flag("LK", FieldLocked) || o.flag("lk1", FieldLocked) {
		t.Fatal("unlock did not cascade")
	}
	o.ok(UpdatePosition{ID: "lk1", Position: Position{3, 3}})
	o.ok(BatchToggleLocked{BlockIDs: []string{"L", "a"}})
	for _, id := range []string{"L", "l1", "l2", "a"} {
		if !o.flag(id, FieldLocked) {
			t.Errorf("%s not locked", id)
		}
	}
	o.fails(UpdateName{ID: "l1", NewName: "X"}, ErrLocked)
	o.fails(AddEdge{Edge: EdgeInput{ID: "e", Source: "l2", Target: "l1"}}, ErrEdgeRejected)
}

func TestBatchToggles(t *testing.T) {
	o := otFixture(t)
	o.ok(ToggleEnabled{ID: "b"}) // b disabled; a enabled
	o.ok(BatchToggleEnabled{BlockIDs: []string{"zz", "k", "a", "b", "L"}, PreviousStates: map[string]bool{"a": false}})
	for _, id := range []string{"a", "b", "L", "l1", "l2"} {
		if o.field(id, FieldEnabled).asBool(true) {
			t.Errorf("%s still enabled", id)
		}
	}
	if !o.field("k", FieldEnabled).asBool(true) {
		t.Error("locked block toggled")
	}
	o.ok(ToggleHandles{ID: "b", HorizontalHandles: false})
	o.ok(BatchToggleHandles{BlockIDs: []string{"a", "b", "b", "k"}})
	if o.field("a", FieldHorizontalHandles).asBool(true) || !o.field("b", FieldHorizontalHandles).asBool(true) ||
		!o.field("k", FieldHorizontalHandles).asBool(true) {
		t.Error("handles not flipped independently")
	}
}

func TestBatchUpdatePositionsAndParent(t *testing.T) {
	o := otFixture(t)
	o.ok(BatchUpdatePositions{Updates: []PositionUpdate{{ID: "a", Position: Position{5, 5}}, {ID: "k", Position: Position{9, 9}}, {ID: "zz"}}})
	if o.pos("a") != (Position{5, 5}) || o.pos("k") == (Position{9, 9}) {
		t.Error("positions")
	}
	o.ok(BatchUpdateParent{Updates: []ParentUpdate{
		{ID: "a", ParentID: "L", Position: &Position{1, 1}},
		{ID: "b", ParentID: "LK"}, // protected parent: skipped
		{ID: "l1", ParentID: ""},
		{ID: "c", ParentID: "a"}, // not a container: skipped
	}})
	if o.str("a", FieldParentID) != "L" || o.str("a", FieldExtent) != "parent" || o.pos("a") != (Position{1, 1}) {
		t.Error("a not moved")
	}
	if o.d.has(fieldKey("b", FieldParentID)) || o.d.has(fieldKey("c", FieldParentID)) || o.d.has(fieldKey("l1", FieldParentID)) {
		t.Error("skips or detach wrong")
	}
}

func TestEdgeOps(t *testing.T) {
	o := otFixture(t)
	o.ok(AddEdge{Edge: EdgeInput{ID: "bc", Source: "b", Target: "c", SourceHandle: "source-right", TargetHandle: "target-left"}})
	if e := o.edge("bc"); e.SourceHandle != "source" || e.TargetHandle != "target" {
		t.Errorf("handles not canonicalized: %+v", e)
	}
	// Different handles are not duplicates; a container and its child connect.
	o.ok(BatchAddEdges{Edges: []EdgeInput{
		{ID: "bc2", Source: "b", Target: "c", SourceHandle: "error"},
		{ID: "l2L", Source: "l2", Target: "L", TargetHandle: "loop-end"},
	}})
	// L→l1 would now close L→l1→l2→L.
	o.fails(AddEdge{Edge: EdgeInput{ID: "Ll1", Source: "L", Target: "l1"}}, ErrEdgeRejected)
	o.ok(RemoveEdge{ID: "bc"})
	o.ok(BatchRemoveEdges{IDs: []string{"bc2", "zz", "ab"}})
	if o.edgeExists("bc") || o.edgeExists("bc2") || o.edgeExists("ab") || !o.edgeExists("l2L") {
		t.Error("edges removed wrongly")
	}
	// The source may be locked; only the target's protection matters.
	o.ok(AddEdge{Edge: EdgeInput{ID: "kb", Source: "k", Target: "b"}})
}

func TestDuplicateBlock(t *testing.T) {
	o := otFixture(t)
	o.ok(UpdateSubBlock{BlockID: "l1", SubBlockID: "prompt", Value: "p"})
	o.ok(DuplicateBlock{SourceID: "l1", ID: "l1b"})
	o.ok(DuplicateBlock{SourceID: "l1", ID: "l1c"})
	if o.str("l1b", FieldName) != "L1 (copy)" || o.str("l1c", FieldName) != "L1 (copy 2)" {
		t.Errorf("names %q %q", o.str("l1b", FieldName), o.str("l1c", FieldName))
	}
	if o.sub("l1b", "prompt") != "p" || o.subType("l1b", "prompt") != subBlockTypeUnknown || o.str("l1b", FieldParentID) != "L" {
		t.Error("fields not copied")
	}
	if o.pos("l1b") != (Position{51, 52}) {
		t.Errorf("position %v", o.pos("l1b"))
	}
	o.ok(DuplicateBlock{SourceID: "k", ID: "k2", NewName: "K two", Position: &Position{0, 0}})
	if o.flag("k2", FieldLocked) || o.str("k2", FieldName) != "K two" {
		t.Error("copy of locked block")
	}
	o.ok(DuplicateBlock{SourceID: "P", ID: "P2"})
	if o.cfg("P2", "parallelType") != "count" {
		t.Error("subflow config not copied")
	}
}

func TestDuplicateSubflowWithChildren(t *testing.T) {
	o := otFixture(t)
	o.ok(UpdateSubflow{ID: "L", Config: map[string]any{"iterations": 3}})
	o.ok(DuplicateSubflowWithChildren{SourceID: "L", ID: "M", IDMap: map[string]string{"l1": "m1", "l2": "m2", "l12": "m12"}})
	if o.str("m1", FieldParentID) != "M" || o.str("m2", FieldParentID) != "M" || !numEq(o.cfg("M", "iterations"), 3) {
		t.Error("children or config not copied")
	}
	if e := o.edge("m12"); e.Source != "m1" || e.Target != "m2" {
		t.Errorf("edge %+v", e)
	}
	if o.str("M", FieldName) != "Loop 1 (copy)" || o.str("m1", FieldName) != "L1 (copy)" || o.str("M", FieldParentID) != "" {
		t.Error("names or container parent")
	}
}

func TestAddSubflow(t *testing.T) {
	o := otFixture(t)
	o.ok(AddSubflow{Block: otBlock("W", TypeLoop, "While"), Config: map[string]any{"loopType": "while", "whileCondition": "<x> < 3"}})
	o.ok(AddSubflow{Block: otBlock("Q", TypeParallel, "Q")})
	if o.cfg("W", "loopType") != "while" || o.d.has(subflowKey("W", "iterations")) || !numEq(o.cfg("Q", "batchSize"), 20) {
		t.Error("add subflow config")
	}
}

func TestSubBlockOps(t *testing.T) {
	o := otFixture(t)
	o.ok(UpdateSubBlock{BlockID: "a", SubBlockID: "prompt", Value: "v1"})
	if o.sub("a", "prompt") != "v1" || o.subType("a", "prompt") != "unknown" {
		t.Error("update")
	}
	// An existing type is kept.
	o.ok(BatchAddBlocks{Blocks: []BlockInput{{ID: "x", Type: "agent", Name: "X", SubBlocks: map[string]SubBlockInput{"m": {ID: "m", Type: "dropdown"}}}}})
	o.ok(SubBlockBatchUpdate{Updates: []SubBlockUpdate{
		{BlockID: "x", SubBlockID: "m", Value: "gpt", ExpectedValue: nil, HasExpected: true},
		{BlockID: "a", SubBlockID: "prompt", Value: map[string]any{"k": 1.0}, ExpectedValue: "v1", HasExpected: true},
		{BlockID: "a", SubBlockID: "prompt", Value: "v3", ExpectedValue: map[string]any{"k": int64(1)}, HasExpected: true},
	}})
	if o.sub("x", "m") != "gpt" || o.subType("x", "m") != "dropdown" || o.sub("a", "prompt") != "v3" {
		t.Error("batch update")
	}
	// A nil expected value does not match a present one.
	o.fails(SubBlockBatchUpdate{Updates: []SubBlockUpdate{{BlockID: "a", SubBlockID: "prompt", Value: "v4", HasExpected: true}}}, ErrPrecondition)
}

func TestVariableOps(t *testing.T) {
	o := otFixture(t)
	o.ok(AddVariable{ID: "v", VarName: "apiKey", Type: "string"})
	if o.varField("v", VarFieldValue) != "" || o.varField("v", VarFieldName) != "apiKey" {
		t.Error("add defaults")
	}
	o.fails(AddVariable{ID: "v", VarName: "again"}, ErrExists)
	o.ok(UpdateVariable{ID: "v", Field: VarFieldValue, Value: []any{"x", 1.5}})
	o.ok(UpdateVariable{ID: "v", Field: VarFieldName, Value: "token"})
	o.ok(DuplicateVariable{SourceID: "v", ID: "w"})
	if o.varField("w", VarFieldName) != "token (copy)" || !reflect.DeepEqual(o.varField("w", VarFieldValue), o.varField("v", VarFieldValue)) {
		t.Error("duplicate")
	}
	o.fails(DuplicateVariable{SourceID: "v", ID: "w"}, ErrExists)
	o.ok(RemoveVariable{ID: "v"})
	if o.d.has(variableKey("v")) || o.keysOf("v") != 0 || !o.d.has(variableKey("w")) {
		t.Error("remove")
	}
}

func TestReplaceState(t *testing.T) {
	o := otFixture(t)
	o.ok(AddVariable{ID: "v", VarName: "keep", Type: "string"})
	o.ok(ReplaceState{
		Blocks: map[string]BlockInput{
			"x":  otBlock("x", "agent", "X"),
			"y":  {Type: "agent", Name: "x", Position: &Position{}}, // no name check; id from the key
			"L2": otBlock("L2", TypeLoop, "Loop"),
		},
		Edges: []EdgeInput{
			{ID: "e1", Source: "x", Target: "y", SourceHandle: "source-top"},
			{ID: "e2", Source: "x", Target: "y", SourceHandle: "source"}, // duplicate
			{ID: "e3", Source: "x", Target: "a"},                         // a is gone
			{ID: "e4", Source: "y", Target: "x"},                         // cycle: kept, no validation
		},
		Loops: map[string]map[string]any{"L2": {"loopType": "forEach"}, "L": {"iterations": 1}},
	})
	for _, id := range []string{"a", "b", "L", "l1", "k", "LK", "lk1"} {
		if o.exists(id) || o.keysOf(id) != 0 {
			t.Errorf("%s survived replace-state", id)
		}
	}
	if !o.exists("x") || !o.exists("y") || !o.edgeExists("e1") || o.edgeExists("e2") || o.edgeExists("e3") || !o.edgeExists("e4") || o.edgeExists("ab") {
		t.Error("new state")
	}
	if o.cfg("L2", "loopType") != "forEach" || o.d.has(subflowKey("L2", "iterations")) {
		t.Error("loops")
	}
	if !o.d.has(variableKey("v")) {
		t.Error("variables touched")
	}
}
