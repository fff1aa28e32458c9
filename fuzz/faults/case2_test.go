package faults

import (
	"testing"
	"time"
)

// Case 2: the same refusal on cluster failover, with no crash data lost.
// Three nodes over one Postgres; carl and dave keep the workflow live on
// main-2 and main-3 (a node that hosts it answers digests from its live
// room, never from the store).
// main-1 is cut off the bus; ann and bob, both on main-1, edit: ann adds X,
// bob moves X and adds Y, all durable in Postgres. main-1 dies; bob fails
// over to main-2 first and re-sends what main-2 lacks, then ann.
// Expected: every client and surviving node equal, holding X at bob's
// position and Y, with no refusal.
func TestCase2FailoverResendRefused(t *testing.T) {
	d := Cluster(t, 3, 500*time.Millisecond)
	n1, n2 := d.Nodes[0], d.Nodes[1]
	const wf = "wf-case2"
	ann := NewEditor(t, EditorConfig{Name: "ann", Workflow: wf, Target: n1.Addr})
	bob := NewEditor(t, EditorConfig{Name: "bob", Workflow: wf, Target: n1.Addr})
	carl := NewEditor(t, EditorConfig{Name: "carl", Workflow: wf, Target: n2.Addr})
	dave := NewEditor(t, EditorConfig{Name: "dave", Workflow: wf, Target: d.Nodes[2].Addr})
	mustLive(t, 10*time.Second, ann, bob, carl, dave)
	carl.MustApply(t, addBlock("C", 0, 0))
	mustLive(t, 10*time.Second, carl)
	waitEqual(t, 10*time.Second, ann, bob, carl, dave)

	d.BusLink(0).Cut() // main-1 off the bus; its store link stays up
	ann.MustApply(t, addBlock("X", 100, 100))
	if err := bob.WaitSeen(5*time.Second, "X"); err != nil {
		t.Fatal(err)
	}
	bob.MustApply(t, move("X", 500, 500))
	bob.MustApply(t, addBlock("Y", 300, 300))
	mustLive(t, 10*time.Second, ann, bob) // durable in Postgres

	n1.Kill()
	ann.Link.Cut()
	ann.Link.Retarget(n2.Addr)
	bob.Link.Retarget(n2.Addr)
	healed := time.Now()
	waitJoins(t, bob, 2)
	if err := bob.WaitLive(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	ann.Link.Restore()

	w := d.World([]*Editor{ann, bob, carl, dave})
	w.Nodes = d.Nodes[1:] // main-1 stays dead: the failover case
	c := w.Verify(healed, 15*time.Second)
	c.Scenario = "case2"
	c.Report(t)
}
