package client

import (
	"errors"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
)

// TestUndoRedoOwnEditsOnly: Alice's Undo reverts her own steps as new
// edits the server relays; Bob's edit, merged into Alice's document, is
// never on her stack, and a field Bob wrote since keeps his value.
func TestUndoRedoOwnEditsOnly(t *testing.T) {
	f := newFakeServer(t)
	a := startClient(t, f, "alice", func(cfg *Config) { cfg.Undo = workflow.UndoConfig{Window: -1} })
	b := startClient(t, f, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	if a.CanUndo() {
		t.Fatal("a new client can undo")
	}
	if _, err := a.Undo(); !errors.Is(err, workflow.ErrNothingToUndo) {
		t.Fatalf("Undo on an empty stack: %v", err)
	}
	err := a.Transact(func() error {
		mustApply(t, a.Client, addBlock("b1", "Agent 1"))
		mustApply(t, a.Client, workflow.UpdateName{ID: "b1", NewName: "Writer"})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, a.Client, workflow.UpdatePosition{ID: "b1", Position: workflow.Position{X: 9, Y: 9}})
	mustApply(t, a.Client, workflow.UpdateSubBlock{BlockID: "b1", SubBlockID: "prompt", Value: "alice"})
	testutil.WaitFor(t, "bob has b1", func() bool { return b.View().Blocks["b1"] != nil })
	mustApply(t, b.Client, workflow.UpdateSubBlock{BlockID: "b1", SubBlockID: "prompt", Value: "bob"})
	testutil.WaitFor(t, "alice has bob's prompt", func() bool {
		return workflow.StringOf(a.View().Blocks["b1"].SubBlocks["prompt"].Value) == "bob"
	})
	if b.CanUndo() != true || a.CanRedo() {
		t.Fatalf("CanUndo bob %v, CanRedo alice %v", b.CanUndo(), a.CanRedo())
	}
	// Alice's prompt step: Bob overwrote it, so it is skipped; the move is undone.
	if _, err := a.Undo(); err != nil {
		t.Fatal(err)
	}
	v := a.View().Blocks["b1"]
	if p := v.Position; p.X == 9 || workflow.StringOf(v.SubBlocks["prompt"].Value) != "bob" {
		t.Fatalf("after undo: position %v, prompt %v", p, v.SubBlocks["prompt"].Value)
	}
	if _, err := a.Undo(); err != nil { // the transaction: add and rename at once
		t.Fatal(err)
	}
	if a.View().Blocks["b1"] != nil {
		t.Fatal("the transaction was not undone at once")
	}
	if !a.CanRedo() || a.CanUndo() {
		t.Fatalf("CanUndo %v CanRedo %v", a.CanUndo(), a.CanRedo())
	}
	if _, err := a.Redo(); err != nil {
		t.Fatal(err)
	}
	a.waitSaved(t)
	b.waitSaved(t)
	testutil.WaitFor(t, "convergence", func() bool { return a.Doc().Equal(b.Doc()) })
	if got := b.View().Blocks["b1"]; got == nil || got.Name != "Writer" {
		t.Fatalf("bob sees %+v after alice's redo", got)
	}
}
