package faults

import (
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// addBlock is a block at (x, y) with a prompt.
func addBlock(id string, x, y float64) workflow.Op {
	return workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: id,
		Position:  &workflow.Position{X: x, Y: y},
		SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "v0"}}}}}
}

func move(id string, x, y float64) workflow.Op {
	return workflow.BatchUpdatePositions{Updates: []workflow.PositionUpdate{{ID: id, Position: workflow.Position{X: x, Y: y}}}}
}

// waitEqual waits until the editors hold equal documents.
func waitEqual(t *testing.T, d time.Duration, eds ...*Editor) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		diff := ""
		for _, e := range eds[1:] {
			if diff = Diff(eds[0].Name, eds[0].C.Doc(), e.Name, e.C.Doc()); diff != "" {
				break
			}
		}
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("editors not equal after %v: %s", d, diff)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitJoins waits until e has sent n Join frames in all (a reconnect
// after a retarget or restart is then under way).
func waitJoins(t *testing.T, e *Editor, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.Tap.Frames(protocol.FrameJoin) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d joins after 10 s, want %d", e.Name, e.Tap.Frames(protocol.FrameJoin), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustLive(t *testing.T, d time.Duration, eds ...*Editor) {
	t.Helper()
	for _, e := range eds {
		if err := e.WaitLive(d); err != nil {
			t.Fatal(err)
		}
	}
}

// Case 1: honest re-sends refused after a server crash. The store link is
// cut so that the server relays edits it has not made durable; ann adds X,
// bob moves X (his delta's context names ann's dot) and adds Y; the server
// is killed and restarts with nothing of it; bob reconnects first and
// re-sends. Expected: the server and both clients end equal, holding X at
// bob's position and Y, with no refusal.
func TestCase1ResendAfterCrash(t *testing.T) {
	d := SinglePostgres(t)
	n := d.Nodes[0]
	const wf = "wf-case1"
	ann := NewEditor(t, EditorConfig{Name: "ann", Workflow: wf, Target: n.Addr})
	bob := NewEditor(t, EditorConfig{Name: "bob", Workflow: wf, Target: n.Addr})
	mustLive(t, 10*time.Second, ann, bob)

	n.Store.Cut() // nothing becomes durable from here on
	ann.MustApply(t, addBlock("X", 100, 100))
	if err := bob.WaitSeen(5*time.Second, "X"); err != nil {
		t.Fatal(err)
	}
	bob.MustApply(t, move("X", 500, 500))
	bob.MustApply(t, addBlock("Y", 300, 300))
	waitEqual(t, 5*time.Second, ann, bob) // both relayed before the crash

	n.Kill()
	n.Store.Restore()
	ann.Link.Cut() // bob comes back first
	healed := time.Now()
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	// bob's re-send is answered (merged, or refused) before ann returns.
	waitJoins(t, bob, 2)
	if err := bob.WaitLive(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	ann.Link.Restore()

	w := d.World([]*Editor{ann, bob})
	c := w.Verify(healed, 15*time.Second)
	c.Scenario = "case1"
	c.Report(t)
}
