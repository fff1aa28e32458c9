package session_test

import (
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// TestThinClientUndoRedo: a thin client's undo and redo Operations revert
// and re-apply its own operations as new edits relayed to the room; another
// thin client's operation on the same server replica is never undone by it,
// and its later write of a field keeps their value. Nothing to undo is
// NO_EFFECT.
func TestThinClientUndoRedo(t *testing.T) {
	e := newEnv(t, nil)
	ann := e.connect(t, "ann:Ann", "")
	ann.join("wf", "")
	ben := e.connect(t, "ben:Ben", "")
	ben.join("wf", "")
	op := func(c *client, id, name, target string, payload map[string]any) {
		t.Helper()
		c.send(&protocol.Operation{WorkflowID: "wf", OpID: id, Name: name, Target: target, Payload: payload})
		if f := c.expect(protocol.FrameApplied); f.(*protocol.Applied).OpID != id {
			t.Fatalf("applied %+v, want %s", f, id)
		}
	}
	nack := func(c *client, id, name string) *protocol.Nack {
		t.Helper()
		c.send(&protocol.Operation{WorkflowID: "wf", OpID: id, Name: name, Target: protocol.UndoTarget, Payload: map[string]any{}})
		return c.expect(protocol.FrameNack).(*protocol.Nack)
	}
	if n := nack(ann, "u0", protocol.UndoOperation); n.Code != protocol.CodeNoEffect {
		t.Fatalf("undo before any operation: %+v", n)
	}
	op(ann, "add", "batch-add-blocks", "blocks", map[string]any{"blocks": []any{
		map[string]any{"id": "a", "type": "agent", "name": "A", "position": map[string]any{"x": 1.0, "y": 1.0}},
		map[string]any{"id": "b", "type": "agent", "name": "B", "position": map[string]any{"x": 1.0, "y": 1.0}},
	}})
	op(ann, "n1", "update-name", "block", map[string]any{"id": "b", "name": "Ann's"})
	op(ben, "n2", "update-name", "block", map[string]any{"id": "a", "name": "Ben's"})
	op(ann, "n3", "update-name", "block", map[string]any{"id": "a", "name": "Ann's A"})
	op(ben, "n4", "subblock-update", "subblock", map[string]any{"blockId": "a", "subblockId": "p", "value": "ben"})
	// Ann's undos, one operation each: her renames go back (a to Ben's
	// name, which hers replaced), Ben's sub-block stays.
	op(ann, "u1", protocol.UndoOperation, protocol.UndoTarget, map[string]any{})
	op(ann, "u1b", protocol.UndoOperation, protocol.UndoTarget, map[string]any{})
	v := ann.doc.View()
	if v.Blocks["b"].Name != "B" || v.Blocks["a"].Name != "Ben's" || workflow.StringOf(v.Blocks["a"].SubBlocks["p"].Value) != "ben" {
		t.Fatalf("after ann's undo: a %q (%v) b %q", v.Blocks["a"].Name, v.Blocks["a"].SubBlocks["p"].Value, v.Blocks["b"].Name)
	}
	op(ann, "r1", protocol.RedoOperation, protocol.UndoTarget, map[string]any{})
	op(ann, "r1b", protocol.RedoOperation, protocol.UndoTarget, map[string]any{})
	if v := ann.doc.View(); v.Blocks["b"].Name != "Ann's" || v.Blocks["a"].Name != "Ann's A" {
		t.Fatalf("after ann's redo: a %q b %q", v.Blocks["a"].Name, v.Blocks["b"].Name)
	}
	if n := nack(ann, "r2", protocol.RedoOperation); n.Code != protocol.CodeNoEffect {
		t.Fatalf("redo with nothing undone: %+v", n)
	}
	// Ben's undo reverts only his sub-block write.
	op(ben, "u2", protocol.UndoOperation, protocol.UndoTarget, map[string]any{})
	if v := ben.doc.View(); v.Blocks["a"].Name != "Ann's A" || v.Blocks["a"].SubBlocks["p"] != nil {
		t.Fatalf("after ben's undo: a %q sub %v", v.Blocks["a"].Name, v.Blocks["a"].SubBlocks["p"])
	}
}
