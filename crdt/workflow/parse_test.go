package workflow

import (
	"errors"
	"reflect"
	"testing"
)

// otPayloads holds a valid reference payload for every supported pair; each
// applies cleanly to otFixture (plus variable "v").
var otPayloads = map[[2]string]map[string]any{
	{"block", "update-position"}:         {"id": "a", "position": map[string]any{"x": 1.5, "y": int64(2)}, "commit": true},
	{"block", "update-name"}:             {"id": "a", "name": "Renamed"},
	{"block", "toggle-enabled"}:          {"id": "a"},
	{"block", "update-parent"}:           {"id": "a", "parentId": "L", "extent": "parent"},
	{"block", "update-advanced-mode"}:    {"id": "a", "advancedMode": true},
	{"block", "update-error-enabled"}:    {"id": "a", "errorEnabled": true},
	{"block", "update-retry"}:            {"id": "a", "retry": map[string]any{"enabled": true, "maxTries": 3.0, "waitBetweenTriesMs": int64(500)}},
	{"block", "update-canonical-mode"}:   {"id": "a", "canonicalId": "model", "canonicalMode": "advanced"},
	{"block", "replace-canonical-modes"}: {"id": "a", "data": map[string]any{"canonicalModes": map[string]any{"model": "basic"}}},
	{"block", "toggle-handles"}:          {"id": "a", "horizontalHandles": false},
	{"block", "add"}: {"id": "x", "type": "agent", "name": "X", "position": map[string]any{"x": 0.0, "y": 0.0},
		"subBlocks": map[string]any{"p": map[string]any{"id": "p", "type": "long-input", "value": "hi"}},
		"enabled":   true, "height": 10.0, "data": map[string]any{"parentId": "L", "extent": "parent"},
		"autoConnectEdge": map[string]any{"id": "e", "source": "l2", "target": "x", "sourceHandle": "source"}},
	{"block", "remove"}:              {"id": "a"},
	{"block", "duplicate"}:           {"sourceId": "a", "id": "a2", "position": map[string]any{"x": 3.0, "y": 4.0}},
	{"block", "update-wide"}:         {"id": "a", "isWide": true},
	{"block", "update-trigger-mode"}: {"id": "c", "triggerMode": true},
	{"blocks", "batch-update-positions"}: {"updates": []any{
		map[string]any{"id": "a", "position": map[string]any{"x": 1.0, "y": 1.0}}}},
	{"blocks", "batch-add-blocks"}: {
		"blocks": []any{
			map[string]any{"id": "x", "type": "loop", "name": "X", "position": map[string]any{"x": 0.0, "y": 0.0}},
			map[string]any{"id": "y", "type": "agent", "name": "Y", "parentId": "x"},
		},
		"edges":          []any{map[string]any{"id": "e", "source": "x", "target": "y", "sourceHandle": nil}},
		"loops":          map[string]any{"x": map[string]any{"loopType": "for", "iterations": 2.0, "nodes": []any{"y"}}},
		"parallels":      map[string]any{},
		"subBlockValues": map[string]any{"y": map[string]any{"prompt": "hi"}},
	},
	{"blocks", "batch-remove-blocks"}:  {"ids": []any{"a", "L"}},
	{"blocks", "batch-toggle-enabled"}: {"blockIds": []any{"a"}, "previousStates": map[string]any{"a": true}},
	{"blocks", "batch-toggle-handles"}: {"blockIds": []any{"a"}, "previousStates": map[string]any{"a": true}},
	{"blocks", "batch-toggle-locked"}:  {"blockIds": []any{"a", "LK"}},
	{"blocks", "batch-update-parent"}: {"updates": []any{
		map[string]any{"id": "a", "parentId": "L", "position": map[string]any{"x": 1.0, "y": 1.0}},
		map[string]any{"id": "l1", "parentId": ""}}},
	{"edge", "add"}:                 {"id": "e", "source": "b", "target": "c", "sourceHandle": "source-bottom", "targetHandle": nil},
	{"edge", "remove"}:              {"id": "ab"},
	{"edges", "batch-add-edges"}:    {"edges": []any{map[string]any{"id": "e", "source": "b", "target": "c"}}},
	{"edges", "batch-remove-edges"}: {"ids": []any{"ab", "nope"}},
	{"subflow", "update"}:           {"id": "P", "type": "parallel", "config": map[string]any{"batchSize": 50.0}},
	{"subflow", "add"}:              {"id": "W", "type": "loop", "name": "While", "config": map[string]any{"loopType": "while"}},
	{"subflow", "remove"}:           {"id": "L"},
	{"subflow", "duplicate-with-children"}: {"sourceId": "L", "id": "M",
		"idMap": map[string]any{"l1": "m1", "l2": "m2", "l12": "m12"}},
	{"subblock", "subblock-update"}: {"blockId": "a", "subblockId": "prompt", "value": "hello"},
	{"text", "text-insert"}:         {"variableId": "v", "index": 1.0, "text": "héllo "},
	{"text", "text-delete"}:         {"variableId": "v", "index": 1.0, "length": 2.0},
	{"subblock", "subblock-batch-update"}: {"updates": []any{
		map[string]any{"blockId": "a", "subblockId": "prompt", "value": "x", "expectedValue": nil}}},
	{"variable", "add"}:             {"id": "w", "name": "W", "type": "number", "value": 3.0, "workflowId": "wf"},
	{"variable", "remove"}:          {"variableId": "v"},
	{"variable", "variable-update"}: {"variableId": "v", "field": "value", "value": "new"},
	{"variable", "duplicate"}:       {"sourceId": "v", "id": "v2"},
	{"workflow", "replace-state"}: {"state": map[string]any{
		"blocks": map[string]any{"x": map[string]any{"id": "x", "type": "agent", "name": "X",
			"position": map[string]any{"x": 0.0, "y": 0.0}}},
		"edges":     []any{},
		"loops":     map[string]any{},
		"parallels": map[string]any{},
	}},
}

func TestParseEveryOperation(t *testing.T) {
	ops := Operations()
	if len(ops) != len(otPayloads) {
		t.Errorf("Operations lists %d pairs, payloads cover %d", len(ops), len(otPayloads))
	}
	for _, pair := range ops {
		t.Run(pair[0]+"/"+pair[1], func(t *testing.T) {
			payload, ok := otPayloads[pair]
			if !ok {
				t.Fatal("no test payload")
			}
			op, err := ParseOp(pair[1], pair[0], payload)
			if err != nil {
				t.Fatal(err)
			}
			if op.Name() != pair[1] {
				t.Errorf("Name() = %q", op.Name())
			}
			o := otFixture(t)
			o.ok(AddVariable{ID: "v", VarName: "v", Type: "string", Value: "text"})
			o.ok(op)
		})
	}
}

func TestParseFields(t *testing.T) {
	op, err := ParseOp("add", "edge", otPayloads[[2]string{"edge", "add"}])
	if err != nil {
		t.Fatal(err)
	}
	if want := (AddEdge{Edge: EdgeInput{ID: "e", Source: "b", Target: "c", SourceHandle: "source-bottom"}}); op != want {
		t.Errorf("got %+v", op)
	}
	op, _ = ParseOp("subblock-batch-update", "subblock", otPayloads[[2]string{"subblock", "subblock-batch-update"}])
	if u := op.(SubBlockBatchUpdate).Updates[0]; !u.HasExpected || u.ExpectedValue != nil {
		t.Errorf("expectedValue null must be a precondition: %+v", u)
	}
	op, _ = ParseSubBlockUpdate(map[string]any{"blockId": "a", "subblockId": "p", "value": nil})
	if _, ok := op.(UpdateSubBlock); !ok {
		t.Errorf("ParseSubBlockUpdate gave %T", op)
	}
	op, _ = ParseVariableUpdate(map[string]any{"variableId": "v", "field": "name", "value": "n"})
	if want := (UpdateVariable{ID: "v", Field: "name", Value: "n"}); op != want {
		t.Errorf("ParseVariableUpdate gave %+v", op)
	}
	op, _ = ParseOp("add", "block", otPayloads[[2]string{"block", "add"}])
	in := op.(AddBlock).Block
	if in.Position == nil || *in.Height != 10 || !*in.Enabled || in.HorizontalHandles != nil ||
		!reflect.DeepEqual(in.SubBlocks["p"], SubBlockInput{ID: "p", Type: "long-input", Value: "hi"}) {
		t.Errorf("block record: %+v", in)
	}
}

func TestParseRefusals(t *testing.T) {
	cases := []struct {
		op, target string
		payload    map[string]any
		want       error
	}{
		{"fly", "block", map[string]any{"id": "a"}, ErrInvalid},
		{"add", "galaxy", map[string]any{}, ErrInvalid},
		{"update-name", "block", map[string]any{"id": "a"}, ErrInvalid},
		{"update-name", "block", map[string]any{"id": 7, "name": "x"}, ErrInvalid},
		{"update-name", "block", map[string]any{"id": "", "name": "x"}, ErrInvalid},
		{"update-position", "block", map[string]any{"id": "a", "position": map[string]any{"x": "1", "y": 2.0}}, ErrInvalid},
		{"update-position", "block", map[string]any{"id": "a", "position": map[string]any{"x": 1.0, "y": 2.0}, "commit": false}, ErrNoEffect},
		{"toggle-handles", "block", map[string]any{"id": "a", "horizontalHandles": "yes"}, ErrInvalid},
		{"update-parent", "block", map[string]any{"id": "a", "parentId": 3}, ErrInvalid},
		{"batch-remove-blocks", "blocks", map[string]any{"ids": "a"}, ErrInvalid},
		{"batch-remove-blocks", "blocks", map[string]any{"ids": []any{"a", 1}}, ErrInvalid},
		{"batch-add-blocks", "blocks", map[string]any{"blocks": []any{"a"}}, ErrInvalid},
		{"batch-add-blocks", "blocks", map[string]any{"blocks": []any{}, "loops": map[string]any{"x": 1}}, ErrInvalid},
		{"batch-update-positions", "blocks", map[string]any{"updates": []any{map[string]any{"id": "a"}}}, ErrInvalid},
		{"add", "edge", map[string]any{"id": "e", "source": "a"}, ErrInvalid},
		{"update", "subflow", map[string]any{"id": "L"}, ErrInvalid},
		{"subblock-batch-update", "subblock", map[string]any{"updates": []any{map[string]any{"blockId": "a"}}}, ErrInvalid},
		{"remove", "variable", map[string]any{"id": "v"}, ErrInvalid},
		{"replace-state", "workflow", map[string]any{"state": map[string]any{"blocks": []any{}}}, ErrInvalid},
		{"replace-canonical-modes", "block", map[string]any{"id": "a", "data": map[string]any{"canonicalModes": map[string]any{"m": 1}}}, ErrInvalid},
	}
	for _, tc := range cases {
		op, err := ParseOp(tc.op, tc.target, tc.payload)
		if !errors.Is(err, tc.want) || op != nil {
			t.Errorf("%s/%s %v: got %v, %v; want %v", tc.target, tc.op, tc.payload, op, err, tc.want)
		}
	}
}
