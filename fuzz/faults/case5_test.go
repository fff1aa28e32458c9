package faults

import (
	"testing"
	"time"
)

// Case 5: a replica id reused after losing local state. The device
// "device-5" edits and everything is durable; it loses its local state,
// starts again with the same replica id and an empty document, and edits
// offline before it reconnects: its new dots are ones the server already
// holds with other content. Expected: the server notices the replica is
// behind, the client re-sends under a new replica id, and the server, the
// store and the client end equal, holding the new block.
func TestCase5ReplicaReuseAfterStateLoss(t *testing.T) {
	d := SingleBolt(t)
	n := d.Nodes[0]
	const wf = "wf-case5"
	first := NewEditor(t, EditorConfig{Name: "first", ReplicaID: "device-5", Workflow: wf, Target: n.Addr})
	carl := NewEditor(t, EditorConfig{Name: "carl", Workflow: wf, Target: n.Addr})
	first.MustApply(t, addBlock("before-loss", 0, 0))
	mustLive(t, 10*time.Second, first, carl)
	first.Close()

	again := NewEditor(t, EditorConfig{Name: "again", ReplicaID: "device-5", Workflow: wf, Target: n.Addr, Offline: true})
	again.MustApply(t, addBlock("after-loss", 50, 50))
	healed := time.Now()
	again.Link.Restore()
	if err := again.WaitLive(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for carl.C.View().Blocks["after-loss"] == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if carl.C.View().Blocks["after-loss"] == nil {
		t.Errorf("carl never saw the block the restarted device-5 added (device-5 says %q; its document shows it: %v)",
			again.C.Status(), again.C.View().Blocks["after-loss"] != nil)
	}
	w := d.World([]*Editor{again, carl})
	c := w.Verify(healed, 10*time.Second)
	c.Scenario = "case5"
	c.Report(t)
}
