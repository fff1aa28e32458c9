package workflow

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// These tests pin the atomic-record rule (incarnation.go): of concurrent adds
// of one id exactly one record shows, whole, and a re-added id shows nothing
// of its earlier incarnation.

// alphaRecord and betaRecord are two adds of block x that differ in every
// field, including ones each leaves at its default (which an add does not
// write).
func alphaRecord() BlockInput {
	return BlockInput{ID: "x", Type: "agent", Name: "Alpha", Position: &Position{1, 2},
		IsWide: ptr(true), AdvancedMode: ptr(true), Height: ptr(120.0),
		SubBlocks: map[string]SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "from alpha"}},
		Data:      map[string]any{"width": 300.0}}
}

func betaRecord() BlockInput {
	return BlockInput{ID: "x", Type: "api", Name: "Beta", Position: &Position{3, 4},
		Enabled: ptr(false), HorizontalHandles: ptr(false), Locked: ptr(true),
		SubBlocks: map[string]SubBlockInput{"url": {ID: "url", Type: "short-input", Value: "https://beta"}},
		Outputs:   map[string]any{"status": "number"}}
}

// alone returns the view of block id in the base with only branch merged:
// the record that branch's author saw.
func (s *scenario) alone(branch int, id string) *BlockView {
	s.t.Helper()
	d := s.base.Clone()
	d.Merge(s.delta[branch])
	return d.View().Blocks[id]
}

func TestConcurrentAddsOfOneBlockShowOneRecordWhole(t *testing.T) {
	for _, tc := range []struct {
		name                string
		alphaWall, betaWall int64
		winner              int
	}{
		{"alpha later", 2_001, 2_000, 0},
		{"beta later", 2_000, 2_001, 1},
		{"same wall time, replica id breaks the tie", 2_000, 2_000, 1}, // "bob" > "alice"
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t, addBlocks(block("o", "agent", "Other", 0, 0)))
			s.concurrently("alice", tc.alphaWall, addBlocks(alphaRecord()))
			s.concurrently("bob", tc.betaWall, addBlocks(betaRecord()))
			v := s.converge()
			want := s.alone(tc.winner, "x")
			if got := v.Blocks["x"]; !reflect.DeepEqual(got, want) {
				t.Fatalf("block x is not one add's record whole:\n got %s\nwant %s", jsonOf(got), jsonOf(want))
			}
			// Operations read what the view shows: the loser's name is free,
			// and its sub-block is not there to compare against.
			d := s.base.Clone()
			for _, delta := range s.delta {
				d.Merge(delta)
			}
			loser := []string{"Alpha", "Beta"}[1-tc.winner]
			if _, err := d.Apply(crdt.Timestamp{Wall: 3_000, Replica: "carol"}, UpdateName{ID: "o", NewName: loser}); err != nil {
				t.Fatalf("renaming another block to the losing add's name %q: %v", loser, err)
			}
			loserSub := []string{"prompt", "url"}[1-tc.winner]
			if d.has(subBlockKey("x", loserSub)) || d.has(subBlockTypeKey("x", loserSub)) {
				t.Fatalf("the losing add's sub-block %q still reads as present", loserSub)
			}
			checkReadsMatchView(t, d)
		})
	}
}

func TestReAddedBlockShowsNothingOfTheRemovedOne(t *testing.T) {
	s := newScenario(t, addBlocks(alphaRecord()))
	// bob edits the old record while alice deletes it and adds x again (an
	// undo of an earlier delete, a replace-state).
	s.concurrently("bob", 1_500, UpdateName{ID: "x", NewName: "Edited"},
		UpdateSubBlock{BlockID: "x", SubBlockID: "prompt", Value: "edited"},
		UpdateSubBlock{BlockID: "x", SubBlockID: "extra", Value: 7},
		UpdateWide{ID: "x", IsWide: true},
		UpdateTriggerMode{ID: "x", TriggerMode: true})
	s.concurrently("alice", 2_000, RemoveBlock{ID: "x"}, addBlocks(betaRecord()))
	v := s.converge()
	if want := s.alone(1, "x"); !reflect.DeepEqual(v.Blocks["x"], want) {
		t.Fatalf("edits of the removed record leak into the new one:\n got %s\nwant %s", jsonOf(v.Blocks["x"]), jsonOf(want))
	}
}

func TestEditStampedAfterAReAddApplies(t *testing.T) {
	// The rule is by time, not by what the editor had seen: an edit of the
	// old record stamped after the re-add counts as a later edit, as any
	// last-writer-wins write stamped later would.
	s := newScenario(t, addBlocks(alphaRecord()))
	s.concurrently("alice", 2_000, RemoveBlock{ID: "x"}, addBlocks(betaRecord()))
	s.concurrently("bob", 2_500, UpdateWide{ID: "x", IsWide: true})
	v := s.converge()
	want := s.alone(0, "x")
	want.IsWide = true
	if !reflect.DeepEqual(v.Blocks["x"], want) {
		t.Fatalf("got %s\nwant %s", jsonOf(v.Blocks["x"]), jsonOf(want))
	}
}

func TestConcurrentAddsOfOneContainerKeepOneConfig(t *testing.T) {
	loop := BatchAddBlocks{Blocks: []BlockInput{block("c", TypeLoop, "Loop A", 0, 0)},
		Loops: map[string]map[string]any{"c": {"iterations": 9.0, "loopType": "forEach", "forEachItems": "<a.items>"}}}
	// The second add leaves the config at its defaults, which are written
	// too: only the values the first wrote and the second did not would
	// leak.
	loop2 := BatchAddBlocks{Blocks: []BlockInput{block("c", TypeLoop, "Loop B", 0, 0)},
		Loops: map[string]map[string]any{"c": {"loopType": "while", "whileCondition": "<x> < 3"}}}
	for _, later := range []int{0, 1} {
		t.Run(fmt.Sprint("later ", later), func(t *testing.T) {
			s := newScenario(t)
			s.concurrently("alice", 2_000+int64(1-later), loop)
			s.concurrently("bob", 2_000+int64(later), loop2)
			v := s.converge()
			want := s.alone(later, "c")
			if !reflect.DeepEqual(v.Blocks["c"], want) {
				t.Fatalf("got %s\nwant %s", jsonOf(v.Blocks["c"]), jsonOf(want))
			}
			d := s.base.Clone()
			d.Merge(s.delta[later])
			if wl := d.View().Loops["c"]; !reflect.DeepEqual(v.Loops["c"], wl) {
				t.Fatalf("loop config: got %s\nwant %s", jsonOf(v.Loops["c"]), jsonOf(wl))
			}
		})
	}
}

func TestConcurrentAddsOfOneEdgeShowOneEdge(t *testing.T) {
	setup := addBlocks(block("a", "agent", "A", 0, 0), block("b", "agent", "B", 100, 0),
		block("c", "agent", "C", 200, 0), block("d", "agent", "D", 300, 0))
	for _, later := range []int{0, 1} {
		t.Run(fmt.Sprint("later ", later), func(t *testing.T) {
			s := newScenario(t, setup)
			s.concurrently("alice", 2_000+int64(1-later), AddEdge{Edge: EdgeInput{ID: "e", Source: "a", Target: "b"}})
			s.concurrently("bob", 2_000+int64(later), AddEdge{Edge: EdgeInput{ID: "e", Source: "c", Target: "d", TargetHandle: "target"}})
			v := s.converge()
			want := []Edge{{ID: "e", Source: "a", Target: "b"}, {ID: "e", Source: "c", Target: "d", TargetHandle: "target"}}[later]
			if !reflect.DeepEqual(v.Edges, []Edge{want}) {
				t.Fatalf("edges = %+v, want only %+v", v.Edges, want)
			}
			// The losing add's ends are not the edge's: removing one of them
			// leaves the edge that shows.
			loserEnd := []string{"c", "a"}[later]
			d := s.base.Clone()
			for _, delta := range s.delta {
				d.Merge(delta)
			}
			if _, err := d.Apply(crdt.Timestamp{Wall: 3_000, Replica: "carol"}, RemoveBlock{ID: loserEnd}); err != nil {
				t.Fatal(err)
			}
			if got := d.View().Edges; !reflect.DeepEqual(got, []Edge{want}) {
				t.Fatalf("after removing %q (an end of the losing add only): edges = %+v, want %+v", loserEnd, got, want)
			}
			// The winner's end takes the edge with it.
			if _, err := d.Apply(crdt.Timestamp{Wall: 3_001, Replica: "carol"}, RemoveBlock{ID: want.Source}); err != nil {
				t.Fatal(err)
			}
			if d.has(edgeKey("e")) || len(d.View().Edges) != 0 {
				t.Fatalf("edge e outlived its source %q", want.Source)
			}
		})
	}
}

func TestConcurrentAddsOfOneVariableShowOneRecord(t *testing.T) {
	for _, later := range []int{0, 1} {
		t.Run(fmt.Sprint("later ", later), func(t *testing.T) {
			s := newScenario(t)
			s.concurrently("alice", 2_000+int64(1-later), AddVariable{ID: "v", VarName: "count", Type: "number", Value: 3.0})
			s.concurrently("bob", 2_000+int64(later), AddVariable{ID: "v", VarName: "label", Type: "string"})
			v := s.converge()
			d := s.base.Clone()
			d.Merge(s.delta[later])
			want := d.View().Variables["v"]
			if !reflect.DeepEqual(v.Variables["v"], want) || len(v.Variables) != 1 {
				t.Fatalf("variables = %s, want only %s", jsonOf(v.Variables), jsonOf(want))
			}
		})
	}
}

func TestReAddedVariableShowsNothingOfTheRemovedOne(t *testing.T) {
	s := newScenario(t, AddVariable{ID: "v", VarName: "count", Type: "number", Value: 3.0})
	s.concurrently("bob", 1_500, UpdateVariable{ID: "v", Field: VarFieldValue, Value: 99.0},
		UpdateVariable{ID: "v", Field: VarFieldName, Value: "edited"})
	s.concurrently("alice", 2_000, RemoveVariable{ID: "v"}, AddVariable{ID: "v", VarName: "label", Type: "string", Value: "new"})
	v := s.converge()
	d := s.base.Clone()
	d.Merge(s.delta[1])
	if want := d.View().Variables["v"]; !reflect.DeepEqual(v.Variables["v"], want) {
		t.Fatalf("variable = %s, want %s", jsonOf(v.Variables["v"]), jsonOf(want))
	}
}

// checkReadsMatchView fails unless the reads operations make (Doc.get and
// Doc.has) show each visible block as the view does: a value the view hides
// must not be there for an operation either.
func checkReadsMatchView(t interface {
	Helper()
	Fatalf(string, ...any)
}, d *Doc) {
	t.Helper()
	v := d.View()
	for _, e := range v.Edges {
		got := d.get(edgeKey(e.ID)).asEdge()
		got.ID = e.ID
		if !d.has(edgeKey(e.ID)) || got != e {
			t.Fatalf("edge %q reads %+v (present: %v), view shows %+v", e.ID, got, d.has(edgeKey(e.ID)), e)
		}
	}
	for id, bv := range v.Blocks {
		if got := blockType(d, id); got != bv.Type {
			t.Fatalf("block %q: type reads %q, view shows %q", id, got, bv.Type)
		}
		if got := d.get(fieldKey(id, FieldName)).asString(); NormalizeName(got) != "" && got != bv.Name && !isSuffixed(bv.Name, got) {
			t.Fatalf("block %q: name reads %q, view shows %q", id, got, bv.Name)
		}
		flags := []struct {
			field string
			def   bool
			view  bool
		}{
			{FieldEnabled, true, bv.Enabled}, {FieldHorizontalHandles, true, bv.HorizontalHandles},
			{FieldIsWide, false, bv.IsWide}, {FieldAdvancedMode, false, bv.AdvancedMode},
			{FieldTriggerMode, false, bv.TriggerMode}, {FieldErrorEnabled, false, bv.ErrorEnabled},
			{FieldLocked, false, bv.Locked},
		}
		for _, f := range flags {
			if got := d.get(fieldKey(id, f.field)).asBool(f.def); got != f.view {
				t.Fatalf("block %q: %s reads %v, view shows %v", id, f.field, got, f.view)
			}
		}
		if got := d.get(fieldKey(id, FieldPosition)).asPosition(); got != bv.Position {
			t.Fatalf("block %q: position reads %v, view shows %v", id, got, bv.Position)
		}
		d.store.Range(func(k Key, _ []crdt.Dotted[Cell]) bool {
			if k.ID != id || (k.Kind != KindSubBlock && k.Kind != KindSubBlockType) {
				return true
			}
			// The view shows a sub-block with a value or a type, as an
			// operation reads one (a nil value reads as no value).
			sv, shown := bv.SubBlocks[k.Sub]
			present := d.get(k) != nil
			if k.Kind == KindSubBlockType {
				present = d.get(k).asString() != ""
			}
			switch {
			case present && !shown:
				t.Fatalf("block %q: sub-block %q reads as present, the view hides it", id, k.Sub)
			case k.Kind == KindSubBlock && shown && !sameCellValue(d.get(k), sv.Value):
				t.Fatalf("block %q: sub-block %q reads %s, view shows %s", id, k.Sub, jsonOf(d.get(k)), jsonOf(sv.Value))
			}
			return true
		})
	}
}

// isSuffixed reports whether shown is name with the view's " N" suffix for
// a name another block holds.
func isSuffixed(shown, name string) bool {
	var n int
	_, err := fmt.Sscanf(shown[min(len(name), len(shown)):], " %d", &n)
	return len(shown) > len(name) && shown[:len(name)] == name && err == nil
}

func TestReplaceStateReAddsTheBlocksItKeeps(t *testing.T) {
	// replace-state removes every block and writes the new ones: a block it
	// keeps is a new record, so a concurrent edit stamped before the replace
	// belongs to the replaced one (stamped after, it applies:
	// TestReplaceStateVsConcurrentEdit).
	s := newScenario(t, addBlocks(block("a", "agent", "A", 0, 0)))
	s.concurrently("alice", 2_000, ReplaceState{Blocks: map[string]BlockInput{"a": block("a", "agent", "A", 50, 50)}})
	s.concurrently("bob", 1_999, UpdateSubBlock{BlockID: "a", SubBlockID: "prompt", Value: "old"}, UpdateWide{ID: "a", IsWide: true})
	v := s.converge()
	if want := s.alone(0, "a"); !reflect.DeepEqual(v.Blocks["a"], want) {
		t.Fatalf("got %s\nwant %s", jsonOf(v.Blocks["a"]), jsonOf(want))
	}
}

func TestOperationStampedBeforeTheAddIsRefused(t *testing.T) {
	d := New()
	if _, err := d.Apply(crdt.Timestamp{Wall: 5_000, Replica: "alice"}, addBlocks(alphaRecord())); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Apply(crdt.Timestamp{Wall: 5_000, Replica: "alice"}, AddVariable{ID: "v", VarName: "n"}); err != nil {
		t.Fatal(err)
	}
	before := d.Clone()
	// bob's clock lags: his edits would be hidden the moment they merge.
	lagging := crdt.Timestamp{Wall: 4_000, Replica: "bob"}
	for _, op := range []Op{
		UpdateWide{ID: "x", IsWide: false},
		UpdateSubBlock{BlockID: "x", SubBlockID: "prompt", Value: "late"},
		UpdateVariable{ID: "v", Field: VarFieldName, Value: "m"},
	} {
		if delta, err := d.Prepare(lagging, op); !errors.Is(err, ErrInvalid) || delta != nil {
			t.Fatalf("%s stamped before the add: err %v, delta %v; want ErrInvalid and no delta", op.Name(), err, delta != nil)
		}
	}
	if !d.Equal(before) {
		t.Fatalf("a refused operation changed the document")
	}
	// Same wall time, smaller replica id: still before the add.
	if _, err := d.Prepare(crdt.Timestamp{Wall: 5_000, Replica: "aaron"}, UpdateWide{ID: "x", IsWide: false}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err %v, want ErrInvalid", err)
	}
	// Stamped after the add, the edit goes through and shows.
	if _, err := d.Apply(crdt.Timestamp{Wall: 5_001, Replica: "bob"}, UpdateWide{ID: "x", IsWide: false}); err != nil {
		t.Fatal(err)
	}
	if d.View().Blocks["x"].IsWide {
		t.Fatalf("the edit stamped after the add does not show")
	}
}

func TestEdgeToARemovedRecordDoesNotJoinItsReAdd(t *testing.T) {
	s := newScenario(t, addBlocks(block("a", "agent", "A", 0, 0), block("x", "agent", "X", 100, 0)))
	// bob connects a to the old x while alice deletes x and adds it again.
	s.concurrently("bob", 1_500, AddEdge{Edge: EdgeInput{ID: "e", Source: "a", Target: "x"}})
	s.concurrently("alice", 2_000, RemoveBlock{ID: "x"}, addBlocks(block("x", "api", "X2", 100, 0)))
	v := s.converge()
	if len(v.Edges) != 0 {
		t.Fatalf("edges = %+v: an edge to the removed x must not attach to the new one", v.Edges)
	}
	d := s.base.Clone()
	for _, delta := range s.delta {
		d.Merge(delta)
	}
	if d.has(edgeKey("e")) {
		t.Fatalf("operations still see edge e")
	}
	// The id is free, and the same connection can be made to the new x.
	if _, err := d.Apply(crdt.Timestamp{Wall: 3_000, Replica: "carol"}, AddEdge{Edge: EdgeInput{ID: "e", Source: "a", Target: "x"}}); err != nil {
		t.Fatal(err)
	}
	if got := d.View().Edges; len(got) != 1 || got[0].Target != "x" {
		t.Fatalf("edges = %+v, want the new edge a→x", got)
	}
}

func TestEdgeToTheLosingAddOfABlockGoesWithIt(t *testing.T) {
	s := newScenario(t, addBlocks(block("a", "agent", "A", 0, 0)))
	// alice adds x and connects it; bob adds x concurrently, later, and wins.
	s.concurrently("alice", 2_000, addBlocks(block("x", "agent", "Mine", 100, 0)),
		AddEdge{Edge: EdgeInput{ID: "e", Source: "a", Target: "x"}})
	s.concurrently("bob", 2_500, addBlocks(block("x", "api", "Theirs", 100, 0)))
	v := s.converge()
	if v.Blocks["x"] == nil || v.Blocks["x"].Name != "Theirs" || len(v.Edges) != 0 {
		t.Fatalf("x = %s, edges = %+v: want bob's x and no edge", jsonOf(v.Blocks["x"]), v.Edges)
	}
	// An edge added with its ends in one operation carries their timestamp.
	s = newScenario(t)
	s.concurrently("alice", 2_000, BatchAddBlocks{Blocks: []BlockInput{block("a", "agent", "A", 0, 0), block("x", "agent", "X", 100, 0)},
		Edges: []EdgeInput{{ID: "e", Source: "a", Target: "x"}}})
	if v := s.converge(); len(v.Edges) != 1 {
		t.Fatalf("edges = %+v, want the edge added with its ends", v.Edges)
	}
}
