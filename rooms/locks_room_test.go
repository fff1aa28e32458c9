package rooms

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// ackOf returns the Applied (code 0) or Nack code m got for opID, waiting
// for it.
func ackOf(t *testing.T, m *fakeMember, opID string) protocol.Code {
	t.Helper()
	var code protocol.Code = 1 << 15
	settled(t, "the answer to "+opID, func() bool {
		for _, f := range m.decoded(t) {
			switch f := f.(type) {
			case *protocol.Applied:
				if f.OpID == opID {
					code = 0
					return true
				}
			case *protocol.Nack:
				if f.OpID == opID {
					code = f.Code
					return true
				}
			}
		}
		return false
	})
	return code
}

func relays(t *testing.T, m *fakeMember) int {
	n := 0
	for _, f := range m.decoded(t) {
		if _, ok := f.(*protocol.RemoteDelta); ok {
			n++
		}
	}
	return n
}

// Through a live room: a refused delta is nacked with its code, not
// merged and not relayed.
func TestLockAdmissionInRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		locks := &WorkflowLocks{}
		reg := newRegistry(t, Config{Admit: Admissions(LockAdmission(locks.IsLocked))}, nil)
		ctx := context.Background()
		adm := member("adm", "")
		adm.id.Role = protocol.RoleAdmin
		w := member("w", "rw")
		rm, err := reg.Join(ctx, "wf", adm, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Join(ctx, "wf", w, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		pos := &workflow.Position{}
		rm.SubmitOperation(adm, "add", workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{
			{ID: "a", Type: "agent", Name: "A", Position: pos}, {ID: "l", Type: "agent", Name: "L", Position: pos},
		}})
		if c := ackOf(t, adm, "add"); c != 0 {
			t.Fatalf("add: %v", c)
		}
		base, err := rm.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rm.SubmitOperation(w, "w-lock", workflow.BatchToggleLocked{BlockIDs: []string{"l"}})
		if c := ackOf(t, w, "w-lock"); c != protocol.CodePermissionDenied {
			t.Fatalf("write member's lock toggle: %v", c)
		}
		rm.SubmitOperation(adm, "lock", workflow.BatchToggleLocked{BlockIDs: []string{"l"}})
		if c := ackOf(t, adm, "lock"); c != 0 {
			t.Fatalf("admin's lock toggle: %v", c)
		}

		// The client's clock has seen the document it edits, as a real
		// client's has: in the bubble every reading shares one wall time, and
		// an edit stamped before the add of its block would be refused.
		clock := crdt.NewClock("rw")
		base.Store().Range(func(_ workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
			for _, e := range es {
				clock.Observe(e.Value.Stamp(e.Dot), 0)
			}
			return true
		})
		delta := func(id string) (*workflow.Doc, []byte) {
			d, err := base.Prepare(clock.Now(time.Now().UnixMilli()), workflow.UpdatePosition{ID: id, Position: workflow.Position{X: 7}})
			if err != nil {
				t.Fatal(err)
			}
			return d, d.Encode()
		}
		before, err := rm.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		relayed := relays(t, adm)
		d, raw := delta("l")
		rm.SubmitDelta(w, "d1", raw, d)
		if c := ackOf(t, w, "d1"); c != protocol.CodeBlockLocked {
			t.Fatalf("delta on a locked block: %v", c)
		}
		locks.Lock("wf")
		d, raw = delta("a")
		rm.SubmitDelta(w, "d2", raw, d)
		if c := ackOf(t, w, "d2"); c != protocol.CodeWorkflowLocked {
			t.Fatalf("delta in a locked workflow: %v", c)
		}
		after, err := rm.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !before.Equal(after) || relays(t, adm) != relayed {
			t.Fatal("a refused delta changed the document or was relayed")
		}
		locks.Unlock("wf")
		rm.SubmitDelta(w, "d3", raw, d)
		if c := ackOf(t, w, "d3"); c != 0 {
			t.Fatalf("delta after unlock: %v", c)
		}
		settled(t, "the relay", func() bool { return relays(t, adm) == relayed+1 })
	})
}
