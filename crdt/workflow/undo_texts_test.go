package workflow

import (
	"testing"
)

// typeAt types s into block p's prompt at index i, key by key, as local
// edits of r (one entry: the test managers do not group by time, so the
// caller opens a transaction).
func (r *uReplica) typeAt(p string, i int, s string) {
	r.t.Helper()
	for k, c := range []rune(s) {
		r.edit(InsertText{TextTarget: prompt(p), Index: i + k, Text: string(c)})
	}
}

func uText(t *testing.T, r *uReplica, p string) string {
	t.Helper()
	return textOf(t, r.d, prompt(p))
}

// TestUndoTypingKeepsOthersCharacters: Alice's typing is undone character
// by character: Bob's words typed before, between and after hers stay,
// and redo types hers again where they were.
func TestUndoTypingKeepsOthersCharacters(t *testing.T) {
	wall := int64(1_000)
	alice := newUReplica(t, "alice", &wall, New())
	bob := newUReplica(t, "bob", &wall, New())
	alice.edit(promptBlock("p", "base"))
	uSync(alice, bob)
	alice.m.Begin()
	alice.typeAt("p", 4, " alice")
	alice.m.End()
	bob.typeAt("p", 0, "bob ") // concurrent with Alice's typing
	uSync(alice, bob)
	if got := uText(t, bob, "p"); got != "bob base alice" {
		t.Fatalf("before the undo: %q", got)
	}
	bob.typeAt("p", 14, "!") // after Alice's word, later
	uSync(alice, bob)
	alice.undo()
	uSync(alice, bob)
	if got := uText(t, bob, "p"); got != "bob base!" {
		t.Fatalf("after Alice's undo: %q, want %q (only her characters removed)", got, "bob base!")
	}
	alice.redo()
	uSync(alice, bob)
	if got := uText(t, bob, "p"); got != "bob base alice!" {
		t.Fatalf("after Alice's redo: %q", got)
	}
	alice.undo()
	uSync(alice, bob)
	if got, got2 := uText(t, alice, "p"), uText(t, bob, "p"); got != "bob base!" || got2 != got {
		t.Fatalf("after the second undo: alice %q, bob %q", got, got2)
	}
}

// TestUndoTextDeleteTypesItAgain: undoing a delete inserts the deleted
// characters again where they stood, also when others typed around them,
// and leaves characters typed into the gap by others in place; a
// character typed and deleted within one entry is not restored.
func TestUndoTextDeleteTypesItAgain(t *testing.T) {
	wall := int64(1_000)
	alice := newUReplica(t, "alice", &wall, New())
	bob := newUReplica(t, "bob", &wall, New())
	alice.edit(promptBlock("p", "one two three"))
	uSync(alice, bob)
	alice.m.Begin()
	alice.edit(DeleteText{TextTarget: prompt("p"), Index: 3, Length: 4}) // "one three"
	alice.typeAt("p", 0, "x")
	alice.edit(DeleteText{TextTarget: prompt("p"), Index: 0, Length: 1}) // typed and deleted
	alice.edit(DeleteText{TextTarget: prompt("p"), Index: 4, Length: 5}) // "one "
	alice.m.End()
	bob.typeAt("p", 7, "2") // "one two2 three": inside the gap Alice leaves
	uSync(alice, bob)
	if got := uText(t, bob, "p"); got != "one2 " {
		t.Fatalf("before the undo: %q", got)
	}
	alice.undo()
	uSync(alice, bob)
	if got := uText(t, bob, "p"); got != "one two2 three" {
		t.Fatalf("after the undo: %q, want %q", got, "one two2 three")
	}
	alice.redo()
	uSync(alice, bob)
	if got := uText(t, bob, "p"); got != "one2 " {
		t.Fatalf("after the redo: %q", got)
	}
}

// TestUndoTypingFollowsReinsertedCharacters: undoing a delete types the
// characters again under new dots; undoing the typing that first made them
// removes those too (the entry follows its characters).
func TestUndoTypingFollowsReinsertedCharacters(t *testing.T) {
	wall := int64(1_000)
	alice := newUReplica(t, "alice", &wall, New())
	alice.edit(promptBlock("p", ""))
	alice.m.Begin()
	alice.typeAt("p", 0, "abc")
	alice.m.End()
	alice.edit(DeleteText{TextTarget: prompt("p"), Index: 1, Length: 1})
	alice.undo() // "abc" again, b under a new dot
	if got := uText(t, alice, "p"); got != "abc" {
		t.Fatalf("after undoing the delete: %q", got)
	}
	alice.undo()
	if got := uText(t, alice, "p"); got != "" {
		t.Fatalf("after undoing the typing: %q, want it empty", got)
	}
}

// TestUndoTypingSkipsAReplacedValue: a whole-value write by someone else
// replaces the text Alice typed into; her undo leaves their value alone.
func TestUndoTypingSkipsAReplacedValue(t *testing.T) {
	wall := int64(1_000)
	alice := newUReplica(t, "alice", &wall, New())
	bob := newUReplica(t, "bob", &wall, New())
	alice.edit(promptBlock("p", "base"))
	alice.typeAt("p", 4, "!")
	uSync(alice, bob)
	bob.edit(UpdateSubBlock{BlockID: "p", SubBlockID: "prompt", Value: float64(7)})
	uSync(alice, bob)
	if _, err := alice.m.Undo(alice.d, alice.now()); err != nil {
		// The add is still undoable: the block goes.
		t.Fatalf("undo: %v", err)
	}
	uSync(alice, bob)
	if bob.view().Blocks["p"] != nil {
		t.Fatalf("the undo undid the typing (skipped) and then not the add")
	}
}

// TestUndoTextRedoKeepsOrder (found by TestUndoTextPropRestoresMyText,
// seed 1031404461002543446): two words typed at the start, one before the
// other, undone and redone, come back in their order: each is typed again
// next to its own deleted characters, not at a visible index that both
// share.
func TestUndoTextRedoKeepsOrder(t *testing.T) {
	wall := int64(1_000)
	r := newUReplica(t, "alice", &wall, New())
	r.edit(promptBlock("p", "xyz"))
	r.m.Clear()
	r.edit(DeleteText{TextTarget: prompt("p"), Index: 0, Length: 1})
	r.typeAt("p", 0, "a")
	r.typeAt("p", 0, "b")
	for r.m.CanUndo() {
		r.undo()
	}
	if got := uText(t, r, "p"); got != "xyz" {
		t.Fatalf("after undoing everything: %q", got)
	}
	for r.m.CanRedo() {
		r.redo()
	}
	if got := uText(t, r, "p"); got != "bayz" {
		t.Fatalf("after redoing everything: %q, want %q", got, "bayz")
	}
}
