package workflow

import (
	"reflect"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// These tests pin the view's conflict rules (see View and
// docs/ARCHITECTURE.md). Each starts replicas from one shared state, lets
// them edit concurrently, delivers the deltas in every order and checks that
// states and views agree and that the rule holds.

type scenario struct {
	t     *testing.T
	base  *Doc
	wall  int64
	delta []*Doc
}

func newScenario(t *testing.T, setup ...Op) *scenario {
	t.Helper()
	s := &scenario{t: t, base: New(), wall: 1_000}
	clock := crdt.NewClock("setup")
	for _, op := range setup {
		s.wall++
		if _, err := s.base.Apply(clock.Now(s.wall), op); err != nil {
			t.Fatalf("setup %s: %v", op.Name(), err)
		}
	}
	return s
}

// concurrently applies ops to a copy of the base, as replica, at wall time
// wall, and records the resulting deltas as one concurrent branch.
func (s *scenario) concurrently(replica crdt.ReplicaID, wall int64, ops ...Op) {
	s.t.Helper()
	doc := s.base.Clone()
	clock := crdt.NewClock(replica)
	clock.Observe(crdt.Timestamp{Wall: s.wall}, s.wall)
	branch := &Doc{}
	for _, op := range ops {
		d, err := doc.Apply(clock.Now(wall), op)
		if err != nil {
			s.t.Fatalf("%s %s: %v", replica, op.Name(), err)
		}
		branch.Merge(d)
	}
	s.delta = append(s.delta, branch)
}

// converge delivers the branches to the base in every order and returns the
// common view, failing if any two orders disagree.
func (s *scenario) converge() *View {
	s.t.Helper()
	var first *Doc
	var firstView *View
	permute(len(s.delta), func(order []int) {
		doc := s.base.Clone()
		for _, i := range order {
			doc.Merge(s.delta[i])
			doc.Merge(s.delta[i]) // idempotent
		}
		v := doc.View()
		if first == nil {
			first, firstView = doc, v
			return
		}
		if !doc.Equal(first) {
			s.t.Fatalf("order %v: state differs", order)
		}
		if !reflect.DeepEqual(v, firstView) {
			s.t.Fatalf("order %v: view differs", order)
		}
	})
	return firstView
}

func permute(n int, fn func([]int)) {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	var rec func(k int)
	rec = func(k int) {
		if k == n {
			fn(order)
			return
		}
		for i := k; i < n; i++ {
			order[k], order[i] = order[i], order[k]
			rec(k + 1)
			order[k], order[i] = order[i], order[k]
		}
	}
	rec(0)
}

func block(id, typ, name string, x, y float64) BlockInput {
	return BlockInput{ID: id, Type: typ, Name: name, Position: &Position{x, y}}
}

func child(id, name, parent string) BlockInput {
	b := block(id, "agent", name, 10, 10)
	b.Data = map[string]any{"parentId": parent, "extent": "parent"}
	return b
}

func addBlocks(bs ...BlockInput) Op { return BatchAddBlocks{Blocks: bs} }

func TestConcurrentDeleteAndEditOfBlock(t *testing.T) {
	s := newScenario(t, addBlocks(block("a", "agent", "Agent 1", 0, 0)))
	s.concurrently("alice", 2_000, BatchRemoveBlocks{IDs: []string{"a"}})
	s.concurrently("bob", 2_000, UpdateName{ID: "a", NewName: "Renamed"},
		UpdateSubBlock{BlockID: "a", SubBlockID: "prompt", Value: "hello"})
	v := s.converge()
	if _, ok := v.Blocks["a"]; ok {
		t.Fatalf("block edited concurrently with its removal shows again; remove must win over edits")
	}
}

func TestEdgeAddedToBlockAnotherReplicaDeletes(t *testing.T) {
	s := newScenario(t, addBlocks(block("a", "agent", "A", 0, 0), block("b", "agent", "B", 100, 0)))
	s.concurrently("alice", 2_000, BatchRemoveBlocks{IDs: []string{"b"}})
	s.concurrently("bob", 2_000, AddEdge{Edge: EdgeInput{ID: "e1", Source: "a", Target: "b"}})
	v := s.converge()
	if len(v.Edges) != 0 {
		t.Fatalf("edges = %v, want none: an edge to a deleted block must not show", v.Edges)
	}
	if _, ok := v.Blocks["a"]; !ok {
		t.Fatalf("block a disappeared")
	}
}

func TestConcurrentEdgeAddsCloseCycle(t *testing.T) {
	s := newScenario(t, addBlocks(block("a", "agent", "A", 0, 0), block("b", "agent", "B", 100, 0),
		block("c", "agent", "C", 200, 0)),
		AddEdge{Edge: EdgeInput{ID: "e-ab", Source: "a", Target: "b"}})
	s.concurrently("alice", 2_000, AddEdge{Edge: EdgeInput{ID: "e-bc", Source: "b", Target: "c"}})
	s.concurrently("bob", 2_001, AddEdge{Edge: EdgeInput{ID: "e-ca", Source: "c", Target: "a"}})
	v := s.converge()
	var ids []string
	for _, e := range v.Edges {
		ids = append(ids, e.ID)
	}
	if !reflect.DeepEqual(ids, []string{"e-ab", "e-bc"}) {
		t.Fatalf("edges = %v, want [e-ab e-bc]: the cycle breaks at its newest edge", ids)
	}
}

func TestContainersMovedIntoEachOther(t *testing.T) {
	s := newScenario(t, addBlocks(block("l1", TypeLoop, "Loop 1", 0, 0), block("l2", TypeLoop, "Loop 2", 600, 0)))
	s.concurrently("alice", 2_000, UpdateParent{ID: "l1", ParentID: "l2", Extent: "parent"})
	s.concurrently("bob", 2_001, UpdateParent{ID: "l2", ParentID: "l1", Extent: "parent"})
	v := s.converge()
	l1, l2 := v.Blocks["l1"], v.Blocks["l2"]
	if l1 == nil || l2 == nil {
		t.Fatalf("a container vanished: l1=%v l2=%v", l1 != nil, l2 != nil)
	}
	// alice's move is older and wins; bob's would close a cycle and is skipped.
	if got := l1.Data["parentId"].asString(); got != "l2" {
		t.Fatalf("l1 parent = %q, want l2", got)
	}
	if _, ok := l2.Data["parentId"]; ok {
		t.Fatalf("l2 still has a parent: the newer move must be skipped")
	}
	if !reflect.DeepEqual(v.Loops["l2"].Nodes, []string{"l1"}) || len(v.Loops["l1"].Nodes) != 0 {
		t.Fatalf("nodes: l1=%v l2=%v", v.Loops["l1"].Nodes, v.Loops["l2"].Nodes)
	}
}

func TestConcurrentRenamesToSameName(t *testing.T) {
	s := newScenario(t, addBlocks(block("a", "agent", "A", 0, 0), block("b", "agent", "B", 100, 0)))
	s.concurrently("alice", 2_000, UpdateName{ID: "a", NewName: "Summarize"})
	s.concurrently("bob", 2_001, UpdateName{ID: "b", NewName: "summarize"})
	v := s.converge()
	if got := v.Blocks["a"].Name; got != "Summarize" {
		t.Fatalf("a = %q, want Summarize (the earlier rename keeps the name)", got)
	}
	if got := v.Blocks["b"].Name; got != "summarize 2" {
		t.Fatalf("b = %q, want %q", got, "summarize 2")
	}
}

func TestRemoveVsConcurrentReAdd(t *testing.T) {
	s := newScenario(t, addBlocks(block("a", "agent", "A", 0, 0)))
	// alice deletes and undoes (re-adds the same record); bob deletes too.
	s.concurrently("alice", 2_000, BatchRemoveBlocks{IDs: []string{"a"}}, addBlocks(block("a", "agent", "A", 5, 5)))
	s.concurrently("bob", 2_001, BatchRemoveBlocks{IDs: []string{"a"}})
	v := s.converge()
	b := v.Blocks["a"]
	if b == nil {
		t.Fatalf("the undo's re-add must survive a concurrent remove (add wins)")
	}
	if b.Position != (Position{5, 5}) || b.Name != "A" {
		t.Fatalf("re-added block = %+v", b)
	}
}

func TestReplaceStateVsConcurrentEdit(t *testing.T) {
	s := newScenario(t, addBlocks(block("a", "agent", "A", 0, 0), block("b", "agent", "B", 100, 0)))
	s.concurrently("alice", 2_000, ReplaceState{Blocks: map[string]BlockInput{
		"a": block("a", "agent", "A", 50, 50),
		"c": block("c", "agent", "C", 200, 0),
	}})
	s.concurrently("bob", 2_001,
		UpdateSubBlock{BlockID: "a", SubBlockID: "prompt", Value: "kept"},
		UpdateName{ID: "b", NewName: "B2"})
	v := s.converge()
	if _, ok := v.Blocks["b"]; ok {
		t.Fatalf("b was replaced away; a concurrent rename must not bring it back")
	}
	if v.Blocks["c"] == nil || v.Blocks["a"] == nil {
		t.Fatalf("replaced state lost blocks: %v", keys(v.Blocks))
	}
	if sb := v.Blocks["a"].SubBlocks["prompt"]; sb == nil || sb.Value.asString() != "kept" {
		t.Fatalf("bob's concurrent edit to a block that survives the replace was lost")
	}
}

func TestTwoUsersDraggingOneBlock(t *testing.T) {
	s := newScenario(t, addBlocks(block("a", "agent", "A", 0, 0)))
	s.concurrently("alice", 2_000, UpdatePosition{ID: "a", Position: Position{10, 10}})
	s.concurrently("bob", 2_005, UpdatePosition{ID: "a", Position: Position{90, 90}})
	v := s.converge()
	if got := v.Blocks["a"].Position; got != (Position{90, 90}) {
		t.Fatalf("position = %v, want the later drop {90 90}", got)
	}
}

func TestVariableRemovedWhileRenamed(t *testing.T) {
	s := newScenario(t, AddVariable{ID: "v1", VarName: "apiKey", Type: "string", Value: "x"})
	s.concurrently("alice", 2_000, RemoveVariable{ID: "v1"})
	s.concurrently("bob", 2_001, UpdateVariable{ID: "v1", Field: VarFieldName, Value: "token"})
	v := s.converge()
	if _, ok := v.Variables["v1"]; ok {
		t.Fatalf("a rename concurrent with the removal must not revive the variable")
	}
}

func TestThreeReplicasConcurrentStructuralEdits(t *testing.T) {
	s := newScenario(t, addBlocks(block("a", "agent", "A", 0, 0), block("b", "agent", "B", 100, 0)))
	s.concurrently("alice", 2_000, AddEdge{Edge: EdgeInput{ID: "e1", Source: "a", Target: "b"}})
	s.concurrently("bob", 2_000, AddEdge{Edge: EdgeInput{ID: "e2", Source: "a", Target: "b"}})
	s.concurrently("carol", 2_000, ToggleEnabled{ID: "a"})
	v := s.converge()
	if len(v.Edges) != 1 {
		t.Fatalf("edges = %v, want one: duplicates collapse to the earliest", v.Edges)
	}
	if v.Blocks["a"].Enabled {
		t.Fatalf("toggle lost")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
