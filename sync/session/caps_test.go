package session_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// TestOperationItemCap: an Operation frame naming more than
// workflow.MaxOpItems items is refused with TOO_LARGE before the room runs
// it; one at the cap is applied.
func TestOperationItemCap(t *testing.T) {
	e := newEnv(t, nil)
	thin := e.connect(t, "thin:Thin", "")
	thin.join("wf", "")
	positions := func(n int) map[string]any {
		ups := make([]any, n)
		for i := range ups {
			ups[i] = map[string]any{"id": "b1", "position": map[string]any{"x": float64(i), "y": 1.0}}
		}
		return map[string]any{"updates": ups}
	}
	thin.send(&protocol.Operation{WorkflowID: "wf", OpID: "add", Name: "batch-add-blocks", Target: "blocks",
		Payload: map[string]any{"blocks": []any{map[string]any{"id": "b1", "type": "agent", "name": "Agent 1"}}}})
	thin.expect(protocol.FrameApplied)
	thin.send(&protocol.Operation{WorkflowID: "wf", OpID: "past", Name: "batch-update-positions", Target: "blocks", Payload: positions(workflow.MaxOpItems + 1)})
	if n := thin.expect(protocol.FrameNack).(*protocol.Nack); n.OpID != "past" || n.Code != protocol.CodeTooLarge {
		t.Fatalf("nack = %+v, want TOO_LARGE", n)
	}
	thin.send(&protocol.Operation{WorkflowID: "wf", OpID: "at", Name: "batch-update-positions", Target: "blocks", Payload: positions(workflow.MaxOpItems)})
	thin.expect(protocol.FrameApplied)
}

// TestDeltaCapsRefused: a delta past a work cap is refused with TOO_LARGE
// in the session and nothing of it is merged; the same content cut by
// EncodeChunks is admitted.
func TestDeltaCapsRefused(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:A", "rep-a")
	a.join("wf", "")
	local := workflow.New()
	clock := crdt.NewClock("rep-a")
	var blocks []workflow.BlockInput
	for i := range 80 {
		subs := map[string]workflow.SubBlockInput{}
		for j := range 30 {
			id := fmt.Sprintf("s%02d", j)
			subs[id] = workflow.SubBlockInput{ID: id, Type: "short-input", Value: "v"}
		}
		blocks = append(blocks, workflow.BlockInput{ID: fmt.Sprintf("b%02d", i), Type: "agent", Name: fmt.Sprintf("B %d", i), SubBlocks: subs})
	}
	d, err := local.Apply(clock.Now(time.Now().UnixMilli()), workflow.BatchAddBlocks{Blocks: blocks})
	if err != nil {
		t.Fatal(err)
	}
	if d.Counts().Values <= workflow.DeltaCaps.MaxValues {
		t.Fatalf("the delta holds %d values", d.Counts().Values)
	}
	a.send(&protocol.Delta{WorkflowID: "wf", OpID: "whole", Delta: d.Encode()})
	if n := a.expect(protocol.FrameNack).(*protocol.Nack); n.OpID != "whole" || n.Code != protocol.CodeTooLarge || n.Retryable {
		t.Fatalf("nack = %+v, want a final TOO_LARGE", n)
	}
	if got := e.stored(t, "wf"); got != nil && !got.IsEmpty() {
		t.Fatal("something of the refused delta was stored")
	}
	chunks := d.EncodeChunks(workflow.DeltaLimits.MaxBytes)
	if len(chunks) < 2 {
		t.Fatalf("%d chunks", len(chunks))
	}
	for i, c := range chunks {
		a.send(&protocol.Delta{WorkflowID: "wf", OpID: fmt.Sprint("chunk-", i), Delta: c})
		a.expect(protocol.FrameApplied)
	}
}
