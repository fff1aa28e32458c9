package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// Case 3: durable edits invisible on the surviving nodes while the node
// that acknowledged them is down. carl and dave keep the workflow live on
// main-2 and main-3; main-1 is cut off the bus, ann edits on it (every
// edit durable in the shared Postgres), closes her editor and main-1 dies.
// Expected: within 8 s (16 anti-entropy rounds, and more than the 5 s
// between a room's re-reads of the store) a fresh reader on each surviving
// node, and carl and dave, hold every edit ann's server acknowledged as
// durable.
func TestCase3SurvivorsRereadStore(t *testing.T) {
	const interval = 500 * time.Millisecond
	d := Cluster(t, 3, interval)
	n1 := d.Nodes[0]
	const wf = "wf-case3"
	ann := NewEditor(t, EditorConfig{Name: "ann", Workflow: wf, Target: n1.Addr})
	carl := NewEditor(t, EditorConfig{Name: "carl", Workflow: wf, Target: d.Nodes[1].Addr})
	dave := NewEditor(t, EditorConfig{Name: "dave", Workflow: wf, Target: d.Nodes[2].Addr})
	carl.MustApply(t, addBlock("C", 0, 0))
	mustLive(t, 10*time.Second, ann, carl, dave)
	waitEqual(t, 10*time.Second, ann, carl, dave)

	d.BusLink(0).Cut()
	for i := range 5 {
		id := fmt.Sprintf("ann-%d", i)
		ann.MustApply(t, addBlock(id, float64(10*i), 0))
		ann.MustApply(t, workflow.UpdateSubBlock{BlockID: id, SubBlockID: "prompt", Value: "by ann"})
	}
	ann.MustApply(t, workflow.AddVariable{ID: "ann-var", VarName: "annVar", Type: "plain", Value: "x"})
	mustLive(t, 10*time.Second, ann)
	ann.Close() // nothing of ann's will be re-sent
	n1.Kill()
	died := time.Now()

	const bound = 8 * time.Second
	type seen struct {
		name string
		doc  func() (*workflow.Doc, error)
	}
	sources := []seen{
		{"carl (on main-2)", func() (*workflow.Doc, error) { return carl.C.Doc(), nil }},
		{"dave (on main-3)", func() (*workflow.Doc, error) { return dave.C.Doc(), nil }},
	}
	for _, n := range d.Nodes[1:] {
		sources = append(sources, seen{"a fresh reader on " + n.Config.Name, func() (*workflow.Doc, error) { return ReadDoc(n.URL(), wf, 5*time.Second) }})
	}
	var missing []string
	for time.Since(died) < bound {
		missing = missing[:0]
		for _, s := range sources {
			doc, err := s.doc()
			if err != nil {
				missing = append(missing, fmt.Sprintf("%s: %v", s.name, err))
				continue
			}
			acked, lost := CheckDurable(s.name, doc, TakeAcks([]*Editor{ann}), wf)
			if len(lost) > 0 {
				var blocks []string
				for i := range 5 {
					if doc.View().Blocks[fmt.Sprintf("ann-%d", i)] == nil {
						blocks = append(blocks, fmt.Sprintf("ann-%d", i))
					}
				}
				missing = append(missing, fmt.Sprintf("%s (of %d durable-acked deltas; blocks missing: %s)", strings.Join(lost, "; "), acked, strings.Join(blocks, " ")))
			}
		}
		if len(missing) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, m := range missing {
		t.Errorf("%v after main-1 died (%d anti-entropy rounds): %s", bound, int(bound/interval), m)
	}
	t.Logf("checked %v after main-1 died", time.Since(died).Round(time.Millisecond))
}
