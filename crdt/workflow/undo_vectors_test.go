package workflow

// The undo scenario vectors, shared with the TypeScript replica: scripted
// histories of edits, undos, redos, transactions and syncs between
// replicas, each step with the bytes of its delta and each replica's final
// view. TypeScript replays them (clients/js/test/undo.test.ts) and must write
// the same undo and redo deltas byte for byte. Rewrite after a deliberate
// change with:
//
//	go test -run UndoVectors ./crdt/workflow -update

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

const undoVectorsPath = "testdata/undo/scenarios.json"

type undoVectorFile struct {
	Comment   string                `json:"comment"`
	Scenarios []*undoVectorScenario `json:"scenarios"`
}

type undoVectorScenario struct {
	Name     string                     `json:"name"`
	Replicas []string                   `json:"replicas"`
	Window   int64                      `json:"window"` // UndoConfig.Window
	Steps    []undoVectorStep           `json:"steps"`
	Views    map[string]json.RawMessage `json:"views"`
}

// undoVectorStep is one of: a local edit (op), an undo, a redo, a
// transaction's begin or end, or a sync (every replica joins every
// other's state). Delta is the step's delta; Nothing says an undo or redo
// found nothing to do.
type undoVectorStep struct {
	Replica string    `json:"replica,omitempty"`
	TS      *goldenTS `json:"ts,omitempty"`
	Op      *goldenOp `json:"op,omitempty"`
	Undo    bool      `json:"undo,omitempty"`
	Redo    bool      `json:"redo,omitempty"`
	Begin   bool      `json:"begin,omitempty"`
	End     bool      `json:"end,omitempty"`
	Sync    bool      `json:"sync,omitempty"`
	Delta   string    `json:"delta,omitempty"`
	Nothing bool      `json:"nothing,omitempty"`
}

type undoGen struct {
	t    *testing.T
	s    *undoVectorScenario
	docs map[string]*Doc
	ms   map[string]*UndoManager
	wall int64
	out  []*undoVectorScenario
}

func (g *undoGen) scenario(name string, window int64, replicas ...string) {
	g.s = &undoVectorScenario{Name: name, Replicas: replicas, Window: window, Views: map[string]json.RawMessage{}}
	g.docs, g.ms = map[string]*Doc{}, map[string]*UndoManager{}
	for _, r := range replicas {
		g.docs[r], g.ms[r] = New(), NewUndoManager(UndoConfig{Window: window})
	}
	g.wall = 1_700_000_000_000
}

func (g *undoGen) ts(replica string, step int64) (*goldenTS, crdt.Timestamp) {
	g.wall += step
	return &goldenTS{Wall: g.wall}, crdt.Timestamp{Wall: g.wall, Replica: crdt.ReplicaID(replica)}
}

// edit applies a wire-form operation as replica's local edit, step ms after
// the previous step.
func (g *undoGen) edit(replica string, step int64, name, target, payload string) {
	g.t.Helper()
	raw, m := (&goldenGen{t: g.t, c: &goldenCase{Name: g.s.Name}}).parsePayload(payload)
	op, err := ParseOp(name, target, m)
	if err != nil {
		g.t.Fatalf("%s: %s/%s: %v", g.s.Name, target, name, err)
	}
	gts, ts := g.ts(replica, step)
	d := g.docs[replica]
	delta, err := d.Prepare(ts, op)
	if err != nil {
		g.t.Fatalf("%s: %s/%s by %s: %v", g.s.Name, target, name, replica, err)
	}
	g.ms[replica].Record(d, delta, ts)
	d.Merge(delta)
	g.s.Steps = append(g.s.Steps, undoVectorStep{Replica: replica, TS: gts, Op: &goldenOp{name, target, raw}, Delta: goldenB64(delta.Encode())})
}

func (g *undoGen) undoRedo(replica string, redo bool) {
	g.t.Helper()
	gts, ts := g.ts(replica, 1000)
	run := g.ms[replica].Undo
	if redo {
		run = g.ms[replica].Redo
	}
	step := undoVectorStep{Replica: replica, TS: gts, Undo: !redo, Redo: redo}
	delta, err := run(g.docs[replica], ts)
	switch {
	case errors.Is(err, ErrNothingToUndo):
		step.Nothing = true
	case err != nil:
		g.t.Fatalf("%s: undo/redo by %s: %v", g.s.Name, replica, err)
	default:
		step.Delta = goldenB64(delta.Encode())
	}
	g.s.Steps = append(g.s.Steps, step)
}

func (g *undoGen) undo(replica string) { g.undoRedo(replica, false) }
func (g *undoGen) redo(replica string) { g.undoRedo(replica, true) }

func (g *undoGen) begin(replica string) {
	g.ms[replica].Begin()
	g.s.Steps = append(g.s.Steps, undoVectorStep{Replica: replica, Begin: true})
}

func (g *undoGen) end(replica string) {
	g.ms[replica].End()
	g.s.Steps = append(g.s.Steps, undoVectorStep{Replica: replica, End: true})
}

func (g *undoGen) sync() {
	all := New()
	for _, r := range g.s.Replicas {
		all.Merge(g.docs[r].Clone())
	}
	for _, r := range g.s.Replicas {
		g.docs[r].Merge(all.Clone())
	}
	g.s.Steps = append(g.s.Steps, undoVectorStep{Sync: true})
}

func (g *undoGen) finish() {
	g.t.Helper()
	for _, r := range g.s.Replicas {
		v, err := json.Marshal(g.docs[r].View())
		if err != nil {
			g.t.Fatal(err)
		}
		g.s.Views[r] = v
	}
	g.out = append(g.out, g.s)
}

func undoScenarios(t *testing.T) []*undoVectorScenario {
	g := &undoGen{t: t}
	blocks := gBlocks(gBlock("a", "agent", "Agent", 0, 0), gBlock("b", "api", "Api", 300, 0))

	g.scenario("field edits undone and redone in turn", -1, "alice")
	g.edit("alice", 1000, "batch-add-blocks", "blocks", blocks)
	g.edit("alice", 1000, "update-name", "block", `{"id":"a","name":"Writer"}`)
	g.edit("alice", 1000, "update-position", "block", `{"id":"a","position":{"x":50,"y":60},"commit":true}`)
	g.edit("alice", 1000, "toggle-enabled", "block", `{"id":"b"}`)
	g.edit("alice", 1000, "subblock-update", "subblock", `{"blockId":"a","subblockId":"prompt","value":"Write a haiku"}`)
	g.edit("alice", 1000, "update-name", "block", `{"id":"a","name":"Poet"}`)
	for range 5 {
		g.undo("alice")
	}
	g.redo("alice")
	g.redo("alice")
	g.undo("alice")
	g.finish()

	g.scenario("delete restored with children, edges and a concurrent edit", -1, "alice", "bob")
	g.edit("alice", 1000, "batch-add-blocks", "blocks", goldenJSON(gobj{
		"blocks": []any{gBlock("s", "starter", "Start", 0, 0), gBlock("L", "loop", "Loop 1", 200, 0),
			gWith(gBlock("l1", "agent", "Inner", 10, 10), "data", gobj{"parentId": "L", "extent": "parent"}),
			gWith(gBlock("l2", "api", "Inner 2", 110, 10), "data", gobj{"parentId": "L", "extent": "parent"}),
			gBlock("z", "agent", "Z", 600, 0)},
		"edges": []any{gEdge("e-sL", "s", "L"), gEdge("e-l12", "l1", "l2"), gEdge("e-Lz", "L", "z")},
	}))
	g.sync()
	g.edit("alice", 1000, "remove", "block", `{"id":"L"}`)
	g.edit("bob", 1000, "update-name", "block", `{"id":"l1","name":"Bob named it"}`)
	g.edit("bob", 1000, "remove", "block", `{"id":"z"}`)
	g.sync()
	g.undo("alice")
	g.sync()
	g.redo("alice")
	g.undo("alice")
	g.sync()
	g.finish()

	g.scenario("a field another replica wrote later keeps their value", -1, "alice", "bob")
	g.edit("alice", 1000, "batch-add-blocks", "blocks", blocks)
	g.sync()
	g.begin("alice")
	g.edit("alice", 1000, "update-position", "block", `{"id":"a","position":{"x":100,"y":100},"commit":true}`)
	g.edit("alice", 1000, "update-name", "block", `{"id":"b","name":"Bee"}`)
	g.end("alice")
	g.sync()
	g.edit("bob", 1000, "update-position", "block", `{"id":"a","position":{"x":300,"y":300},"commit":true}`)
	g.sync()
	g.undo("alice")
	g.sync()
	g.finish()

	g.scenario("a move is undone whole or not at all", -1, "alice", "bob")
	g.edit("alice", 1000, "batch-add-blocks", "blocks", goldenJSON(gobj{
		"blocks": []any{gBlock("L", "loop", "Loop 1", 0, 0), gBlock("a", "agent", "A", 500, 0), gBlock("c", "agent", "C", 500, 200)}}))
	g.sync()
	g.edit("alice", 1000, "batch-update-parent", "blocks", `{"updates":[{"id":"a","parentId":"L","position":{"x":20,"y":20}},{"id":"c","parentId":"L","position":{"x":40,"y":40}}]}`)
	g.sync()
	g.edit("bob", 1000, "update-position", "block", `{"id":"c","position":{"x":900,"y":900},"commit":true}`)
	g.sync()
	g.undo("alice")
	g.sync()
	g.finish()

	g.scenario("a sub-block's value and type are undone together", -1, "alice", "bob")
	g.edit("alice", 1000, "batch-add-blocks", "blocks", blocks)
	g.sync()
	g.edit("alice", 1000, "subblock-update", "subblock", `{"blockId":"b","subblockId":"url","value":"https://a"}`)
	g.edit("alice", 1000, "subblock-update", "subblock", `{"blockId":"a","subblockId":"prompt","value":"alice"}`)
	g.sync()
	g.edit("bob", 1000, "subblock-update", "subblock", `{"blockId":"a","subblockId":"prompt","value":"bob"}`)
	g.sync()
	// The prompt step has nothing left (Bob wrote the value, so its type
	// stays too): the undo skips it and reverts the url.
	g.undo("alice")
	g.sync()
	g.finish()

	g.scenario("a typing burst is one entry, a pause starts another", 500, "alice")
	g.edit("alice", 1000, "batch-add-blocks", "blocks", blocks)
	for _, s := range []string{"H", "He", "Hel", "Hell", "Hello"} {
		g.edit("alice", 1000/10, "subblock-update", "subblock", `{"blockId":"a","subblockId":"prompt","value":"`+s+`"}`)
	}
	g.edit("alice", 2000, "subblock-update", "subblock", `{"blockId":"a","subblockId":"prompt","value":"Hello!"}`)
	g.undo("alice")
	g.undo("alice")
	g.redo("alice")
	g.finish()

	g.scenario("variables and edges", -1, "alice")
	g.edit("alice", 1000, "batch-add-blocks", "blocks", blocks)
	g.edit("alice", 1000, "add", "variable", `{"id":"v1","name":"apiKey","type":"string","value":"k"}`)
	g.edit("alice", 1000, "variable-update", "variable", `{"variableId":"v1","field":"value","value":"k2"}`)
	g.edit("alice", 1000, "add", "edge", goldenJSON(gEdge("e-ab", "a", "b")))
	g.edit("alice", 1000, "remove", "variable", `{"variableId":"v1"}`)
	g.edit("alice", 1000, "remove", "edge", `{"id":"e-ab"}`)
	for range 4 {
		g.undo("alice")
	}
	g.redo("alice")
	g.finish()

	g.scenario("replace-state undone and redone", -1, "alice")
	g.edit("alice", 1000, "batch-add-blocks", "blocks", goldenJSON(gobj{
		"blocks": []any{gBlock("a", "agent", "Agent", 0, 0), gBlock("b", "api", "Api", 300, 0)},
		"edges":  []any{gEdge("e-ab", "a", "b")}}))
	g.edit("alice", 1000, "replace-state", "workflow", goldenJSON(gobj{"state": gobj{
		"blocks": gobj{"a": gBlock("a", "function", "Fn", 10, 10), "n": gBlock("n", "agent", "New", 0, 300)},
		"edges":  []any{gEdge("e-an", "a", "n")}}}))
	g.undo("alice")
	g.redo("alice")
	g.undo("alice")
	g.finish()

	g.scenario("typing undone character by character", 500, "alice", "bob")
	g.edit("alice", 1000, "batch-add-blocks", "blocks", gBlocks(gWith(gBlock("t", "agent", "Writer", 0, 0),
		"subBlocks", gobj{"prompt": gobj{"id": "prompt", "type": "long-input", "value": "one two three"}})))
	g.sync()
	// A burst: a word typed key by key, then a deleted word.
	for i, c := range []string{" ", "f", "o", "u", "r"} {
		g.edit("alice", map[bool]int64{true: 1000, false: 100}[i == 0], "text-insert", "text", `{"blockId":"t","subblockId":"prompt","index":`+strconv.Itoa(13+i)+`,"text":"`+c+`"}`)
	}
	g.edit("alice", 100, "text-delete", "text", `{"blockId":"t","subblockId":"prompt","index":3,"length":4}`)
	// Bob types inside the word Alice deleted and after hers, concurrently.
	g.edit("bob", 1000, "text-insert", "text", `{"blockId":"t","subblockId":"prompt","index":7,"text":"2"}`)
	g.edit("bob", 100, "text-insert", "text", `{"blockId":"t","subblockId":"prompt","index":14,"text":"!"}`)
	g.sync()
	g.undo("alice")
	g.sync()
	g.redo("alice")
	g.sync()
	g.undo("alice")
	g.sync()
	g.finish()

	g.scenario("remote edits never enter my stack", -1, "alice", "bob")
	g.edit("bob", 1000, "batch-add-blocks", "blocks", blocks)
	g.sync()
	g.undo("alice")
	g.finish()
	return g.out
}

// TestUndoVectors compares the scenarios with the committed file, or
// rewrites it with -update.
func TestUndoVectors(t *testing.T) {
	f := undoVectorFile{
		Comment:   "Generated by go test -run UndoVectors ./crdt/workflow -update; replayed by clients/js/test/undo.test.ts.",
		Scenarios: undoScenarios(t),
	}
	got, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(undoVectorsPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(undoVectorsPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(undoVectorsPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: rerun go test -run UndoVectors ./crdt/workflow -update and check the difference", undoVectorsPath)
	}
}
