package workflow

// Properties of undoing typing (undo_texts.go):
//
//	go test ./crdt/workflow -run UndoTextProp -rapid.checks=1000
//	go test ./crdt/workflow -run UndoTextProp -rapid.seed=N   # replay a failure
//
//   - TestUndoTextPropKeepsOthersCharacters: Alice and others type and
//     delete in one prompt at once, syncing at random points; each of
//     Alice's undos (and redos) deletes none of the others' characters:
//     every item another replica typed that was visible before it is
//     visible after it (a character Alice deleted and her undo typed again
//     is hers: her redo may delete it again).
//   - TestUndoTextPropRestoresMyText: with nobody else editing, undoing
//     all of Alice's typing gives back the text she started from, and
//     redoing it the text she ended with.

import (
	"errors"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
)

// alphabets gives each replica its own characters, which makes failures
// readable.
var alphabets = []string{"abcdefgh", "ABCDEFGH", "01234567", "αβγδεζηθ"}

// uTextStep types a word of r's alphabet at a random place, or deletes a
// random range, as one undo entry (a burst).
func uTextStep(rt *rapid.T, r *uReplica, who int, label string) {
	cur := textOf2(r)
	n := len([]rune(cur))
	r.m.Begin()
	defer r.m.End()
	if n == 0 || rapid.IntRange(0, 2).Draw(rt, label+"what") > 0 {
		at := rapid.IntRange(0, n).Draw(rt, label+"at")
		word := rapid.StringOfN(rapid.RuneFrom([]rune(alphabets[who])), 1, 4, -1).Draw(rt, label+"word")
		r.typeAt("p", at, word)
		return
	}
	at := rapid.IntRange(0, n-1).Draw(rt, label+"del")
	l := rapid.IntRange(1, min(3, n-at)).Draw(rt, label+"len")
	r.edit(DeleteText{TextTarget: prompt("p"), Index: at, Length: l})
}

func textOf2(r *uReplica) string {
	s, _ := r.d.Text(prompt("p"))
	return s
}

// othersItems returns, for replicas r1..r(n-1), the dots of their visible
// items in block p's prompt.
func othersItems(d *Doc, n int) []map[crdt.Dot]bool {
	out := make([]map[crdt.Dot]bool, n)
	_, rec, ok := d.liveRecord(prompt("p"))
	for i := 1; i < n; i++ {
		out[i] = map[crdt.Dot]bool{}
		if !ok {
			continue
		}
		rep := crdt.ReplicaID(fmt.Sprintf("r%d", i))
		for _, p := range rec.t.Live(text.Dead{Replica: rep, Range: crdt.Range{Lo: 1, Hi: d.ctx.Max(rep)}}) {
			for k := range p.Len {
				out[i][crdt.Dot{Replica: rep, Counter: p.ID.Counter + uint64(k)}] = true
			}
		}
	}
	return out
}

func TestUndoTextPropKeepsOthersCharacters(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		wall := int64(1_000)
		n := rapid.IntRange(2, 3).Draw(rt, "replicas")
		rs := make([]*uReplica, n)
		for i := range rs {
			rs[i] = newUReplica(t, fmt.Sprintf("r%d", i), &wall, New())
		}
		rs[0].edit(promptBlock("p", rapid.SampledFrom([]string{"", "xyz"}).Draw(rt, "start")))
		rs[0].m.Clear() // the add is not Alice's to undo here: the others type into the block
		uSync(rs...)
		steps := rapid.IntRange(1, 25).Draw(rt, "steps")
		for s := 0; s < steps; s++ {
			who := rapid.IntRange(0, n-1).Draw(rt, "who")
			switch rapid.IntRange(0, 4).Draw(rt, "kind") {
			case 0:
				uSync(rs...)
			case 1:
				if who != 0 {
					uTextStep(rt, rs[who], who, "")
					continue
				}
				uSync(rs...)
				before := othersItems(rs[0].d, n)
				redo := rapid.Bool().Draw(rt, "redo")
				var err error
				if redo {
					_, err = rs[0].m.Redo(rs[0].d, rs[0].now())
				} else {
					_, err = rs[0].m.Undo(rs[0].d, rs[0].now())
				}
				if err != nil && !errors.Is(err, ErrNothingToUndo) {
					rt.Fatalf("undo/redo: %v", err)
				}
				uSync(rs...)
				after := othersItems(rs[0].d, n)
				for i := 1; i < n; i++ {
					for d := range before[i] {
						if !after[i][d] {
							rt.Fatalf("alice's %s deleted r%d's item %v: %q", map[bool]string{true: "redo", false: "undo"}[redo], i, d, textOf2(rs[0]))
						}
					}
				}
			default:
				uTextStep(rt, rs[who], who, "")
			}
		}
		uSync(rs...)
		for _, r := range rs[1:] {
			if textOf2(r) != textOf2(rs[0]) {
				rt.Fatalf("replicas differ: %q and %q", textOf2(rs[0]), textOf2(r))
			}
		}
	})
}

func TestUndoTextPropRestoresMyText(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		wall := int64(1_000)
		r := newUReplica(t, "alice", &wall, New())
		r.edit(promptBlock("p", rapid.SampledFrom([]string{"", "xyz", "日本語"}).Draw(rt, "start")))
		r.m.Clear()
		start := textOf2(r)
		steps := rapid.IntRange(1, 15).Draw(rt, "steps")
		for s := 0; s < steps; s++ {
			uTextStep(rt, r, 0, "")
		}
		end := textOf2(r)
		for r.m.CanUndo() {
			r.undo()
		}
		if got := textOf2(r); got != start {
			rt.Fatalf("after undoing everything: %q, want %q", got, start)
		}
		for r.m.CanRedo() {
			r.redo()
		}
		if got := textOf2(r); got != end {
			rt.Fatalf("after redoing everything: %q, want %q", got, end)
		}
	})
}
