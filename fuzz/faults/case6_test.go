package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Case 6: a Go client restarted from its saved document (Config.Doc, same
// replica id, as the client's package doc allows) after 10 offline edits.
// Expected: the restarted client sends them, the server and store hold
// them, and the client does not say "saved" before they are durable.
func TestCase6RestartFromSavedDocument(t *testing.T) {
	d := SingleBolt(t)
	n := d.Nodes[0]
	const wf = "wf-case6"
	ed := NewEditor(t, EditorConfig{Name: "ed", ReplicaID: "device-6", Workflow: wf, Target: n.Addr})
	ed.MustApply(t, addBlock("base", 0, 0))
	mustLive(t, 10*time.Second, ed)

	ed.Link.Cut()
	var ids []string
	for i := range 10 {
		id := fmt.Sprintf("offline-%d", i)
		ids = append(ids, id)
		ed.MustApply(t, addBlock(id, float64(10*i), 10))
	}
	saved := ed.C.Doc()
	ed.Close()
	ed.Link.Restore()

	again := NewEditor(t, EditorConfig{Name: "ed-restarted", ReplicaID: "device-6", Workflow: wf, Target: n.Addr, Doc: saved})
	healed := time.Now()
	var firstSaved time.Time
	deadline := time.Now().Add(10 * time.Second)
	var missing []string
	for time.Now().Before(deadline) {
		if again.C.Status().String() == "saved" && firstSaved.IsZero() {
			firstSaved = time.Now()
		}
		doc, err := ReadDoc(n.URL(), wf, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		missing = missing[:0]
		for _, id := range ids {
			if doc.View().Blocks[id] == nil {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Errorf("the server lacks %d of the 10 offline edits (%s) 10 s after the restarted client connected; the client says %q since %v after connecting",
			len(missing), strings.Join(missing, " "), again.C.Status(), firstSaved.Sub(healed).Round(time.Millisecond))
	}
	w := d.World([]*Editor{again})
	c := w.Verify(healed, 10*time.Second)
	c.Scenario = "case6"
	c.Report(t)
	// The offline edits, as deltas of the saved document, must be stored.
	if stored, err := d.Stores[0].Load(wf); err == nil {
		if !stored.Context().Covers(saved.Context()) {
			t.Errorf("the store lacks dots %s of the saved document", dots(saved.Context().Missing(stored.Context())))
		}
	} else {
		t.Error(err)
	}
}
