package rooms

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

func TestAuditAdmission(t *testing.T) {
	var buf bytes.Buffer
	audit := AuditAdmission(slog.New(slog.NewJSONHandler(&buf, nil)))
	f := newLockFixture(t)
	run := func(role protocol.Role, delta *workflow.Doc, op workflow.Op) {
		t.Helper()
		c := &Change{WorkflowID: "wf", Member: Identity{UserID: "u7", Role: role}, Delta: delta, Op: op}
		if err := audit(f.doc, c); err != nil {
			t.Fatal(err)
		}
		f.doc.Merge(delta)
	}
	// An operation frame (the server prepared the delta) and a raw delta.
	unlock := workflow.BatchToggleLocked{BlockIDs: []string{"l"}}
	d, err := f.doc.Prepare(f.now(), unlock)
	if err != nil {
		t.Fatal(err)
	}
	run(protocol.RoleAdmin, d, unlock)
	run(protocol.RoleAdmin, f.clientDelta(f.doc, workflow.BatchToggleLocked{BlockIDs: []string{"a"}}), nil)
	run(protocol.RoleWrite, f.clientDelta(f.doc, workflow.AddVariable{ID: "v1", VarName: "key", Type: "plain", Value: "hunter2"}), nil)
	run(protocol.RoleWrite, f.clientDelta(f.doc, workflow.UpdateVariable{ID: "v1", Field: "value", Value: "hunter3"}), nil)
	run(protocol.RoleWrite, f.clientDelta(f.doc, workflow.RemoveVariable{ID: "v1"}), nil)
	run(protocol.RoleWrite, f.clientDelta(f.doc, workflow.UpdatePosition{ID: "b", Position: workflow.Position{X: 3}}), nil)

	logs := buf.String()
	for _, want := range []string{
		`"action":"block.unlock","block":"l"`, `"op":"batch-toggle-locked"`,
		`"action":"block.lock","block":"a"`, `"action":"variable.add","variable":"v1"`,
		`"action":"variable.update","variable":"v1","fields":["value"]`, `"action":"variable.remove","variable":"v1"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("missing %s in\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, `"audit":true`); n != 5 {
		t.Errorf("%d audit records, want 5:\n%s", n, logs)
	}
	if strings.Contains(logs, "hunter") {
		t.Error("a variable value was logged")
	}
}

func TestAdmissionsStopsAtFirstRefusal(t *testing.T) {
	refuse := errors.New("no")
	called := false
	a := Admissions(nil, func(*workflow.Doc, *Change) error { return refuse },
		func(*workflow.Doc, *Change) error { called = true; return nil })
	if err := a(workflow.New(), &Change{Delta: workflow.New()}); err != refuse || called {
		t.Fatalf("err %v, later check called %v", err, called)
	}
}
