package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/flowsync/flowsync/sync/protocol"
)

// Case 7: a deletion made during a region cut is lost if the deleting
// region restarts before the heal. Two regions of two nodes over gateways,
// a Postgres per region; the gateways are cut, the workflow is deleted in
// eu, both eu nodes are killed and restarted, the gateways heal while the
// us editors keep editing. Expected within 5 s of the heal (5 anti-entropy
// rounds): every node refuses the workflow, both us stores hold the
// tombstone, every editor learned the deletion and refuses further edits,
// and no us edit is acknowledged as durable after that.
func TestCase7DeletionSurvivesRestartDuringCut(t *testing.T) {
	d := TwoRegions(t, 2, time.Second)
	eu1, us1, us2 := d.Nodes[0], d.Nodes[2], d.Nodes[3]
	const wf = "wf-case7"
	ann := NewEditor(t, EditorConfig{Name: "ann", Workflow: wf, Target: eu1.Addr})
	bob := NewEditor(t, EditorConfig{Name: "bob", Workflow: wf, Target: us1.Addr})
	cat := NewEditor(t, EditorConfig{Name: "cat", Workflow: wf, Target: us2.Addr})
	ann.MustApply(t, addBlock("eu-block", 0, 0))
	bob.MustApply(t, addBlock("us-block", 10, 10))
	mustLive(t, 10*time.Second, ann, bob, cat)
	waitEqual(t, 10*time.Second, ann, bob, cat)

	CutGateways(d.Regions...)
	if err := eu1.Delete(wf); err != nil {
		t.Fatal(err)
	}
	for _, n := range d.NodesOfRegion(0) {
		if err := n.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	HealGateways(d.Regions...)
	healed := time.Now()

	// us keeps editing; count what it acknowledges as durable from 5 s
	// after the heal on.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			for _, e := range []*Editor{bob, cat} {
				_, _ = e.Apply(addBlock(fmt.Sprintf("%s-after-%d", e.Name, i), float64(i), 0))
			}
		}
	}()
	const bound = 5 * time.Second
	time.Sleep(bound)
	durableAtBound := bob.Tap.Frames(protocol.FrameDurable) + cat.Tap.Frames(protocol.FrameDurable)
	time.Sleep(2 * time.Second)
	close(stop)
	<-done
	if later := bob.Tap.Frames(protocol.FrameDurable) + cat.Tap.Frames(protocol.FrameDurable) - durableAtBound; later > 0 {
		t.Errorf("region us sent %d Durable acks for edits to the deleted workflow between %v and %v after the heal", later, bound, bound+2*time.Second)
	}
	w := d.World([]*Editor{ann, bob, cat})
	w.Deleted[wf] = true
	w.Strict = true
	c := w.Verify(healed, bound+2*time.Second)
	c.Scenario = "case7"
	c.Report(t)
}

// Case 7, the client side: a Go client offline during the deletion learns
// it from its refused join on reconnect. Expected: it enters the deleted
// state — Apply refuses edits and the outbox is dropped — as after the
// workflow-deleted event.
func TestCase7OfflineClientLearnsDeletion(t *testing.T) {
	d := SingleBolt(t)
	n := d.Nodes[0]
	const wf = "wf-case7-client"
	ed := NewEditor(t, EditorConfig{Name: "ed", Workflow: wf, Target: n.Addr})
	ed.MustApply(t, addBlock("b1", 0, 0))
	mustLive(t, 10*time.Second, ed)
	ed.Link.Cut()
	for i := range 3 {
		ed.MustApply(t, addBlock(fmt.Sprintf("offline-%d", i), float64(i), 0))
	}
	if err := n.Delete(wf); err != nil {
		t.Fatal(err)
	}
	healed := time.Now()
	ed.Link.Restore()
	w := d.World([]*Editor{ed})
	w.Deleted[wf] = true
	w.Strict = true
	c := w.Verify(healed, 5*time.Second)
	c.Scenario = "case7-client"
	c.Report(t)
	t.Logf("events received: %v; Run returned: %v", ed.Events(), ed.RunErr())
}
