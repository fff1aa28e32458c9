package rooms

import (
	"bytes"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// lockFixture is a room document with
//
//	a  – a normal block, with an edge a→l
//	b  – another normal block
//	l  – a locked block
//	c  – a locked loop container holding k
//	c2 – an unlocked loop container holding k2, which is locked
//
// and base, the same document before any lock was set: a CRDT client that
// has not seen the locks prepares its deltas against it.
type lockFixture struct {
	t      *testing.T
	base   *workflow.Doc
	doc    *workflow.Doc
	server *crdt.Clock
	wall   int64
}

func newLockFixture(t *testing.T) *lockFixture {
	t.Helper()
	f := &lockFixture{t: t, doc: workflow.New(), server: crdt.NewClock("srv"), wall: 1_000}
	pos := &workflow.Position{X: 1, Y: 2}
	block := func(id, typ, parent string) workflow.BlockInput {
		in := workflow.BlockInput{ID: id, Type: typ, Name: "Block " + id, Position: pos}
		if parent != "" {
			in.Data = map[string]any{"parentId": parent, "extent": "parent"}
		}
		return in
	}
	f.apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{
		block("a", "agent", ""), block("b", "agent", ""), block("l", "agent", ""),
		block("c", workflow.TypeLoop, ""), block("k", "agent", "c"),
		block("c2", workflow.TypeLoop, ""), block("k2", "agent", "c2"),
	}})
	f.apply(workflow.AddEdge{Edge: workflow.EdgeInput{ID: "e1", Source: "a", Target: "l"}})
	f.base = f.doc.Clone()
	f.apply(workflow.BatchToggleLocked{BlockIDs: []string{"l"}})
	f.apply(workflow.BatchToggleLocked{BlockIDs: []string{"c"}})
	f.apply(workflow.BatchToggleLocked{BlockIDs: []string{"k2"}})
	for id, want := range map[string]bool{"a": false, "l": true, "c": true, "k": true, "c2": false, "k2": true} {
		if got := workflow.Protected(f.doc, id); got != want {
			t.Fatalf("fixture: Protected(%s) = %v, want %v", id, got, want)
		}
	}
	return f
}

func (f *lockFixture) now() crdt.Timestamp {
	f.wall += 10
	return f.server.Now(f.wall)
}

func (f *lockFixture) apply(op workflow.Op) {
	f.t.Helper()
	if _, err := f.doc.Apply(f.now(), op); err != nil {
		f.t.Fatalf("%s: %v", op.Name(), err)
	}
}

// clientDelta prepares op as CRDT client "cli" would against on (base or
// doc), failing the test if the op itself is refused there.
func (f *lockFixture) clientDelta(on *workflow.Doc, op workflow.Op) *workflow.Doc {
	f.t.Helper()
	d, err := on.Prepare(crdt.NewClock("cli").Now(f.wall), op)
	if err != nil {
		f.t.Fatalf("client %s: %v", op.Name(), err)
	}
	return d
}

// submit runs what a room runs for a change, without merging: for an
// operation, Prepare with the server clock; then the built-in admission and
// LockAdmission. It returns the Nack code (0: admitted) and checks that
// nothing changed.
func (f *lockFixture) submit(role protocol.Role, locked bool, delta *workflow.Doc, op workflow.Op) protocol.Code {
	f.t.Helper()
	before := f.doc.Encode()
	var deltaBefore []byte
	if delta != nil {
		deltaBefore = delta.Encode()
	}
	id := Identity{UserID: "u", Role: role}
	if op != nil {
		d, err := f.doc.Prepare(f.now(), op)
		if err != nil {
			return protocol.CodeFor(err)
		}
		delta = d
	} else {
		id.ReplicaID = "cli"
	}
	c := &Change{WorkflowID: "wf", Member: id, Delta: delta, Op: op}
	_, err := admit(f.doc, c, "srv", f.wall, 60_000)
	if err == nil {
		err = LockAdmission(func(wf string) bool { return locked && wf == "wf" })(f.doc, c)
	}
	if !bytes.Equal(before, f.doc.Encode()) {
		f.t.Fatal("admission changed the document")
	}
	if deltaBefore != nil && !bytes.Equal(deltaBefore, delta.Encode()) {
		f.t.Fatal("admission changed the delta")
	}
	return protocol.CodeFor(err)
}

func TestLockAdmissionMatrix(t *testing.T) {
	move := func(id string) workflow.Op {
		return workflow.UpdatePosition{ID: id, Position: workflow.Position{X: 9, Y: 9}}
	}
	type target struct {
		name   string
		op     workflow.Op // as a thin client sends it
		base   bool        // the CRDT client prepares against base (has not seen the locks)
		locked bool        // the workflow is locked
	}
	targets := []target{
		{name: "normal block", op: move("a"), base: true},
		{name: "locked block", op: move("l"), base: true},
		{name: "child of locked container", op: move("k"), base: true},
		{name: "locked workflow", op: move("a"), base: true, locked: true},
		{name: "lock toggle", op: workflow.BatchToggleLocked{BlockIDs: []string{"l"}}},
	}
	const ok = protocol.Code(0)
	denied, blockLocked, wfLocked := protocol.CodePermissionDenied, protocol.CodeBlockLocked, protocol.CodeWorkflowLocked
	// want[role][frame] lists the codes for targets in order.
	want := map[protocol.Role]map[string][]protocol.Code{
		protocol.RoleRead: {
			"delta":     {denied, denied, denied, denied, denied},
			"operation": {denied, blockLocked, blockLocked, denied, denied},
		},
		protocol.RoleWrite: {
			"delta":     {ok, blockLocked, blockLocked, wfLocked, denied},
			"operation": {ok, blockLocked, blockLocked, wfLocked, denied},
		},
		protocol.RoleAdmin: {
			"delta":     {ok, blockLocked, blockLocked, wfLocked, ok},
			"operation": {ok, blockLocked, blockLocked, wfLocked, ok},
		},
	}
	for _, role := range []protocol.Role{protocol.RoleRead, protocol.RoleWrite, protocol.RoleAdmin} {
		for _, frame := range []string{"delta", "operation"} {
			for i, tg := range targets {
				t.Run(string(role)+"/"+frame+"/"+tg.name, func(t *testing.T) {
					f := newLockFixture(t)
					var got protocol.Code
					if frame == "delta" {
						on := f.doc
						if tg.base {
							on = f.base
						}
						got = f.submit(role, tg.locked, f.clientDelta(on, tg.op), nil)
					} else {
						got = f.submit(role, tg.locked, nil, tg.op)
					}
					if w := want[role][frame][i]; got != w {
						t.Fatalf("got %v, want %v", got, w)
					}
				})
			}
		}
	}
}

func TestLockAdmissionRawDeltas(t *testing.T) {
	locked := true
	cases := []struct {
		name string
		role protocol.Role
		base bool
		op   workflow.Op
		want protocol.Code
	}{
		{"edge to a locked block", protocol.RoleWrite, true,
			workflow.AddEdge{Edge: workflow.EdgeInput{ID: "e2", Source: "b", Target: "l"}}, protocol.CodeBlockLocked},
		{"remove an edge to a locked block", protocol.RoleWrite, true,
			workflow.RemoveEdge{ID: "e1"}, protocol.CodeBlockLocked},
		{"remove a locked block", protocol.RoleAdmin, true,
			workflow.RemoveBlock{ID: "l"}, protocol.CodeBlockLocked},
		{"sub-block of a child of a locked container", protocol.RoleWrite, true,
			workflow.UpdateSubBlock{BlockID: "k", SubBlockID: "prompt", Value: "x"}, protocol.CodeBlockLocked},
		{"move into a locked container", protocol.RoleWrite, true,
			workflow.UpdateParent{ID: "a", ParentID: "c", Extent: "parent"}, protocol.CodeBlockLocked},
		{"remove a block with an edge to a locked block", protocol.RoleWrite, false,
			workflow.RemoveBlock{ID: "a"}, 0},
		{"remove an unlocked container with a locked child", protocol.RoleWrite, false,
			workflow.BatchRemoveBlocks{IDs: []string{"c2"}}, 0},
		{"new block created locked", protocol.RoleWrite, false,
			workflow.AddBlock{Block: workflow.BlockInput{ID: "n", Type: "agent", Name: "N", Position: &workflow.Position{}, Locked: &locked}},
			protocol.CodePermissionDenied},
		{"new block created locked by an admin", protocol.RoleAdmin, false,
			workflow.AddBlock{Block: workflow.BlockInput{ID: "n", Type: "agent", Name: "N", Position: &workflow.Position{}, Locked: &locked}}, 0},
		{"duplicate of a locked block (the copy is unlocked)", protocol.RoleWrite, false,
			workflow.DuplicateBlock{SourceID: "l", ID: "l2"}, 0},
		{"lock a normal block", protocol.RoleWrite, false,
			workflow.BatchToggleLocked{BlockIDs: []string{"a"}}, protocol.CodePermissionDenied},
		{"unlock a container and its children", protocol.RoleAdmin, false,
			workflow.BatchToggleLocked{BlockIDs: []string{"c"}}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newLockFixture(t)
			on := f.doc
			if tc.base {
				on = f.base
			}
			if got := f.submit(tc.role, false, f.clientDelta(on, tc.op), nil); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// A resent delta the room already merged changes nothing, so it is admitted
// even if a block it touched was locked since.
func TestLockAdmissionResentDelta(t *testing.T) {
	f := newLockFixture(t)
	f.doc = f.base.Clone()
	d := f.clientDelta(f.doc, workflow.UpdatePosition{ID: "l", Position: workflow.Position{X: 5}})
	f.doc.Merge(d)
	f.apply(workflow.BatchToggleLocked{BlockIDs: []string{"l"}})
	if got := f.submit(protocol.RoleWrite, false, d, nil); got != 0 {
		t.Fatalf("resent delta: got %v, want admitted", got)
	}
}

// A delta with a huge context is checked against the document's few stored
// values, not walked dot by dot.
func TestLockAdmissionHugeContextSmallDoc(t *testing.T) {
	f := newLockFixture(t)
	d := workflow.New()
	d.Context().AddRange("cli", crdt.Range{Lo: 1, Hi: 1 << 40})
	if got := f.submit(protocol.RoleWrite, false, d, nil); got != 0 {
		t.Fatalf("got %v, want admitted", got)
	}
}

func TestWorkflowLocks(t *testing.T) {
	var l WorkflowLocks
	if l.IsLocked("a") || l.Unlock("a") {
		t.Fatal("zero WorkflowLocks is not empty")
	}
	if !l.Lock("a") || l.Lock("a") || !l.Lock("b") {
		t.Fatal("Lock did not report the transitions")
	}
	if !l.IsLocked("a") || len(l.List()) != 2 {
		t.Fatalf("List = %v", l.List())
	}
	if !l.Unlock("a") || l.IsLocked("a") {
		t.Fatal("Unlock")
	}
}

// Typing into a locked block's prompt is a write to it: refused like a
// value written there, though a text edit writes no value.
func TestLockAdmissionTextEdit(t *testing.T) {
	f := newLockFixture(t)
	f.apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "t", Type: "agent", Name: "T", Position: &workflow.Position{},
		SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "hello"}}}}})
	base := f.doc.Clone()
	f.apply(workflow.BatchToggleLocked{BlockIDs: []string{"t"}})
	typing := workflow.InsertText{TextTarget: workflow.TextTarget{BlockID: "t", SubBlockID: "prompt"}, Index: 5, Text: "!"}
	if got := f.submit(protocol.RoleWrite, false, f.clientDelta(base, typing), nil); got != protocol.CodeBlockLocked {
		t.Fatalf("typing into a locked block: got %v, want %v", got, protocol.CodeBlockLocked)
	}
	if got := f.submit(protocol.RoleWrite, false, f.clientDelta(base, workflow.DeleteText{TextTarget: typing.TextTarget, Index: 0, Length: 1}), nil); got != protocol.CodeBlockLocked {
		t.Fatalf("deleting in a locked block: got %v, want %v", got, protocol.CodeBlockLocked)
	}
}
