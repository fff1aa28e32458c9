package workflow

import (
	"fmt"
	"testing"
)

// BenchmarkUndoCapture measures what recording a local edit for undo costs
// (UndoManager.Record, before the merge), in a 1,000-block document, for
// the common edits: a sub-block's value written whole (a text: a splice),
// a keystroke in a prompt, a drop's position, a rename, a
// block added and a block removed (its values and edges captured). Each
// delta is prepared against the document beforehand; the timed loop only
// records. cpu-ns/op is the process's CPU time (getrusage) per record, the
// garbage collector's included.
//
//	go test ./crdt/workflow -run '^$' -bench UndoCapture -benchtime 200000x -count 3
func BenchmarkUndoCapture(b *testing.B) {
	base, ids := buildDoc(b, 1000)
	var prompts []string // the blocks with a system prompt (loops have none)
	for _, id := range ids {
		if _, ok := base.Text(TextTarget{BlockID: id, SubBlockID: "systemPrompt"}); ok {
			prompts = append(prompts, id)
		}
	}
	edits := map[string]func(i int) Op{
		"subblock-text": func(i int) Op {
			return UpdateSubBlock{BlockID: ids[i%len(ids)], SubBlockID: "systemPrompt", Value: fmt.Sprintf("Summarize ticket %d politely.", i)}
		},
		"position": func(i int) Op {
			return UpdatePosition{ID: ids[i%len(ids)], Position: Position{X: float64(i), Y: 0.5 * float64(i)}}
		},
		"keystroke": func(i int) Op {
			return InsertText{TextTarget: TextTarget{BlockID: prompts[i%len(prompts)], SubBlockID: "systemPrompt"}, Index: 3, Text: "x"}
		},
		"rename":       func(i int) Op { return UpdateName{ID: ids[i%len(ids)], NewName: fmt.Sprintf("Renamed %d", i)} },
		"add-block":    func(i int) Op { return AddBlock{Block: benchBlock(100_000+i, "agent")} },
		"remove-block": func(i int) Op { return RemoveBlock{ID: ids[i%len(ids)]} },
	}
	for _, name := range []string{"subblock-text", "keystroke", "position", "rename", "add-block", "remove-block"} {
		b.Run(name, func(b *testing.B) {
			clock := newBenchClock("client")
			clock.wall += 1_000_000
			const pool = 256
			deltas := make([]*Doc, pool)
			for i := range deltas {
				d, err := base.Prepare(clock.now(), edits[name](i))
				if err != nil {
					b.Fatal(err)
				}
				deltas[i] = d
			}
			ts := clock.now()
			m := NewUndoManager(UndoConfig{})
			b.ReportAllocs()
			b.ResetTimer()
			cpu := procCPU(b)
			for i := range b.N {
				ts.Wall += 1_000 // one entry per edit: the window never groups
				m.Record(base, deltas[i%pool], ts)
			}
			b.ReportMetric(float64(procCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
