package workflow

import "testing"

// TestUndoRedoTypingIntoARewrittenText is the case rapid found
// (testdata/rapid/TestUndoPropRestoresMyView): a plain variable added
// empty, its value then set (typed into its text); undoing both removes
// the variable, and redoing both must type the value again into the text
// the redo of the add writes anew, though the old record is gone.
func TestUndoRedoTypingIntoARewrittenText(t *testing.T) {
	wall := int64(1_000)
	r := newUReplica(t, "r1", &wall, New())
	empty := r.view()
	r.edit(AddVariable{ID: "v1", Type: "plain", Value: nil})
	added := r.view()
	r.edit(UpdateVariable{ID: "v1", Field: "value", Value: "{{start.input}}"})
	final := r.view()
	r.undo()
	sameView(t, "undo of the update", r.view(), added)
	r.undo()
	sameView(t, "undo of the add", r.view(), empty)
	r.redo()
	sameView(t, "redo of the add", r.view(), added)
	r.redo()
	sameView(t, "redo of the update", r.view(), final)
}

// TestUndoTypingAfterItsBlockCameBack: typing into a prompt, then removing
// its block; undoing the removal writes the prompt again as a new text,
// and undoing the typing then deletes the typed characters in it (they
// live under new items) and keeps the ones typed before, in order; redo
// types them again after the characters they followed.
func TestUndoTypingAfterItsBlockCameBack(t *testing.T) {
	wall := int64(1_000)
	r := newUReplica(t, "r1", &wall, New())
	r.edit(promptBlock("p", "ac"))
	r.m.Begin()
	r.typeAt("p", 1, "b")
	r.typeAt("p", 3, "d")
	r.edit(DeleteText{TextTarget: prompt("p"), Index: 0, Length: 1}) // "bcd"
	r.m.End()
	r.edit(RemoveBlock{ID: "p"})
	r.undo()
	if got := uText(t, r, "p"); got != "bcd" {
		t.Fatalf("after undoing the removal: %q", got)
	}
	r.undo()
	if got := uText(t, r, "p"); got != "ac" {
		t.Fatalf("after undoing the typing: %q, want %q", got, "ac")
	}
	r.redo()
	if got := uText(t, r, "p"); got != "bcd" {
		t.Fatalf("after redoing the typing: %q, want %q", got, "bcd")
	}
}

// TestUndoDeletesInOneGapOfARewrittenText: two pieces an entry deleted
// that stood in one gap of visible characters (a tombstone between them)
// are typed again in their order after the block's removal is undone (the
// new text keeps no tombstone to tell them apart).
func TestUndoDeletesInOneGapOfARewrittenText(t *testing.T) {
	wall := int64(1_000)
	r := newUReplica(t, "r1", &wall, New())
	r.edit(promptBlock("p", "abxcd"))
	r.edit(DeleteText{TextTarget: prompt("p"), Index: 2, Length: 1}) // "abcd", x a tombstone
	r.m.Begin()
	r.edit(DeleteText{TextTarget: prompt("p"), Index: 1, Length: 2}) // "ad": b and c, two pieces
	r.m.End()
	r.edit(RemoveBlock{ID: "p"})
	r.undo()
	if got := uText(t, r, "p"); got != "ad" {
		t.Fatalf("after undoing the removal: %q", got)
	}
	r.undo()
	if got := uText(t, r, "p"); got != "abcd" {
		t.Fatalf("after undoing the delete: %q, want %q", got, "abcd")
	}
}
