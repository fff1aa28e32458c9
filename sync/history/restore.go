package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// RestoreOps returns the operations that make a workflow whose view is
// current hold target: a replace-state of target's graph (blocks with
// their fields, sub-blocks and subflows, edges), then the variables
// removed, added and changed to match target's. They are ordinary
// operations: applied by a room they become one edit every replica
// converges on, and an edit made concurrently elsewhere stays, as with
// any two concurrent edits.
//
// The graph travels through the reference system's state shape (the JSON
// of the view, as `flowsync export --format reference` writes it and the
// import reads it back unchanged).
func RestoreOps(target, current *workflow.View) ([]workflow.Op, error) {
	state, err := jsonShape(map[string]any{
		"blocks": target.Blocks, "edges": target.Edges, "loops": target.Loops, "parallels": target.Parallels,
		"variables": target.Variables,
	})
	if err != nil {
		return nil, err
	}
	want, _ := state["variables"].(map[string]any)
	delete(state, "variables")
	replace, err := workflow.ParseOp("replace-state", "workflow", map[string]any{"state": state})
	if err != nil {
		return nil, err
	}
	vars, err := VariableOps(current.Variables, want)
	if err != nil {
		return nil, err
	}
	return append([]workflow.Op{replace}, vars...), nil
}

// VariableOps returns the operations that turn the variables have into
// want (id → {name, type, value}, JSON-shaped): those not in want
// removed, new ones added, the changed fields of the others updated. An
// error wraps workflow.ErrInvalid.
func VariableOps(have map[string]*workflow.VariableView, want map[string]any) ([]workflow.Op, error) {
	var ops []workflow.Op
	for _, id := range slices.Sorted(maps.Keys(have)) {
		if _, keep := want[id]; !keep {
			ops = append(ops, workflow.RemoveVariable{ID: id})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		v, ok := want[id].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: variables.%s is not an object", workflow.ErrInvalid, id)
		}
		if vid, ok := v["id"]; ok && vid != id {
			return nil, fmt.Errorf("%w: variable %v listed under %q", workflow.ErrInvalid, vid, id)
		}
		cur := have[id]
		if cur == nil {
			op, err := workflow.ParseOp("add", "variable", map[string]any{"id": id, "name": v["name"], "type": v["type"], "value": v["value"]})
			if err != nil {
				return nil, err
			}
			ops = append(ops, op)
			continue
		}
		for _, f := range []struct {
			name string
			now  any
		}{{"name", cur.Name}, {"type", cur.Type}, {"value", cur.Value}} {
			w, set := v[f.name]
			if !set || sameJSON(f.now, w) {
				continue
			}
			op, err := workflow.ParseOp("variable-update", "variable", map[string]any{"variableId": id, "field": f.name, "value": w})
			if err != nil {
				return nil, err
			}
			ops = append(ops, op)
		}
	}
	return ops, nil
}

// jsonShape returns v as JSON-shaped values (maps, slices, strings,
// bools, int64 and float64), what workflow.ParseOp reads.
func jsonShape(v map[string]any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("history: encode the checkpoint's state: %w", err)
	}
	var out map[string]any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&out); err != nil {
		return nil, fmt.Errorf("history: decode the checkpoint's state: %w", err)
	}
	return normalizeNumbers(out).(map[string]any), nil
}

// sameJSON reports whether a and b render to the same JSON (object keys
// sorted both ways), so an unchanged field is not written again.
func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// normalizeNumbers turns json.Number into int64 or float64, the shapes
// workflow.ParseOp reads, so integers stay integers through the JSON.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
		return x
	}
	return v
}
