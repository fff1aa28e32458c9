package session_test

import (
	"slices"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// A thin client (operations only) and a delta client type into one prompt
// at the same time: the thin client with text-insert operations and a
// whole-value write naming the string it edited, the delta client with
// its own text edits. Both keep their words, and everyone, the store
// included, converges.
func TestThinClientTypesBesideDeltaClient(t *testing.T) {
	e := newEnv(t, nil)
	thin := e.connect(t, "thin:Thin", "")
	full := e.connect(t, "ub:B", "rep-b")
	thin.join("wf", "")
	full.join("wf", "")
	thin.send(&protocol.Operation{WorkflowID: "wf", OpID: "op-1", Name: "batch-add-blocks", Target: "blocks",
		Payload: map[string]any{"blocks": []any{map[string]any{"id": "p", "type": "agent", "name": "Agent",
			"position":  map[string]any{"x": 0.0, "y": 0.0},
			"subBlocks": map[string]any{"prompt": map[string]any{"id": "prompt", "type": "long-input", "value": "Hello world"}}}}}})
	thin.expect(protocol.FrameApplied)
	full.expect(protocol.FrameRemoteDelta)
	tt := workflow.TextTarget{BlockID: "p", SubBlockID: "prompt"}
	if s, ok := full.doc.Text(tt); !ok || s != "Hello world" {
		t.Fatalf("the delta client holds %q (text %v)", s, ok)
	}

	// At once: the delta client types at the end, character by character;
	// the thin client types at the start and rewrites "Hello" from what it
	// saw, not having seen the delta client's typing.
	full.clock.Observe(full.doc.Latest(), full.wall) // its edits follow the add it merged
	var ops []string
	for i, c := range " from Bob" {
		ops = append(ops, full.sendDelta("wf", full.edit(workflow.InsertText{TextTarget: tt, Index: 11 + i, Text: string(c)})))
	}
	thin.send(&protocol.Operation{WorkflowID: "wf", OpID: "op-2", Name: "text-insert", Target: "text",
		Payload: map[string]any{"blockId": "p", "subblockId": "prompt", "index": 0.0, "text": "Alice: "}})
	thin.send(&protocol.Operation{WorkflowID: "wf", OpID: "op-3", Name: "subblock-batch-update", Target: "subblock",
		Payload: map[string]any{"updates": []any{map[string]any{"blockId": "p", "subblockId": "prompt",
			"value": "Alice: Howdy world", "expectedValue": "Alice: Hello world"}}}})
	thin.expectWhere(protocol.FrameApplied, func(f protocol.Frame) bool { return f.(*protocol.Applied).OpID == "op-3" })
	full.expectWhere(protocol.FrameApplied, func(f protocol.Frame) bool { return f.(*protocol.Applied).OpID == ops[len(ops)-1] })
	// Each has the other's edits once the relays arrive. The delta
	// client's last Durable may come while it waits for them: it is noted
	// on the way, not skipped.
	last, durable := ops[len(ops)-1], false
	read := func(c *client) {
		f, err := c.next()
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		c.absorb(f)
		if d, ok := f.(*protocol.Durable); ok && c == full && slices.Contains(d.OpIDs, last) {
			durable = true
		}
	}
	want := "Alice: Howdy world from Bob"
	for _, c := range []*client{thin, full} {
		for {
			if s, _ := c.doc.Text(tt); s == want {
				break
			}
			read(c)
		}
	}
	if !full.doc.Equal(thin.doc) {
		t.Fatal("the clients hold the same text but different states")
	}
	for !durable {
		read(full)
	}
	stored := e.stored(t, "wf")
	if s, _ := stored.Text(tt); s != want {
		t.Fatalf("the store holds %q", s)
	}
}
