package rooms

import (
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// thinUndoConfig is the undo manager of a thin client's session: each
// operation is one step (a thin client groups what belongs together into
// one batch operation, and cannot mark where a burst ends), and the
// server's replica id is shared by every thin client of the room (their
// operations are all written under it).
var thinUndoConfig = workflow.UndoConfig{Window: -1, SharedReplica: true}

// undoEvent is a thin client's undo or redo Operation.
type undoEvent struct {
	m    Member
	opID string
	redo bool
}

func (*undoEvent) isEvent() {}

// SubmitUndo asks the room to undo (or redo) the newest step of the
// operations m sent in this session, as a new edit written with the
// server's clock and treated like an operation's (the author also receives
// it as a RemoteDelta). Nothing to undo is refused with NO_EFFECT.
func (rm *Room) SubmitUndo(m Member, opID string, redo bool) {
	if !rm.send(&undoEvent{m: m, opID: opID, redo: redo}) {
		nack(m, opID, protocol.NewError(protocol.CodeOverloaded, "room closed"))
	}
}

// handleUndo prepares the step against the document, admits it like any
// change (locks checked as for a raw delta), merges it and commits it to
// the member's stacks after the merge.
func (rm *Room) handleUndo(ev *undoEvent) {
	ms, ok := rm.members[ev.m]
	if !ok {
		nack(ev.m, ev.opID, protocol.NewError(protocol.CodeNotJoined, "join %q first", rm.id))
		return
	}
	name := "undo"
	if ev.redo {
		name = "redo"
	}
	refuse := func(err error) { rm.refuse(ms, ev.opID, err) }
	if err := rm.canTakeWork(0); err != nil {
		refuse(err)
		return
	}
	if r := ms.id.Role; r != protocol.RoleWrite && r != protocol.RoleAdmin {
		refuse(protocol.NewError(protocol.CodePermissionDenied, "role %q may not edit", r))
		return
	}
	if ms.undo == nil {
		refuse(workflow.ErrNothingToUndo)
		return
	}
	start := rm.cfg.now()
	nowMs := rm.nowMs()
	prepare := ms.undo.PrepareUndo
	if ev.redo {
		prepare = ms.undo.PrepareRedo
	}
	step, err := prepare(rm.doc, rm.clock.Now(nowMs))
	if err != nil {
		refuse(err)
		return
	}
	c := &Change{WorkflowID: rm.id, Member: ms.id, Conn: ms.entry.SessionID, Delta: step.Delta, Undo: name}
	_, err = admit(rm.doc, c, rm.cfg.ServerReplicaID, nowMs, rm.cfg.MaxClockSkew.Milliseconds())
	if err == nil && rm.cfg.Admit != nil {
		err = rm.cfg.Admit(rm.doc, c)
	}
	if err != nil {
		refuse(err)
		return
	}
	raw := step.Delta.Encode()
	if err := checkOperationDelta(len(raw)); err != nil {
		// The undo of a large removal brings back more than one delta may
		// hold: the store would refuse it as a log row.
		refuse(err)
		return
	}
	if err := rm.checkDocSize(len(raw)); err != nil {
		refuse(err)
		return
	}
	rm.mergeThen(ms.m, step.Delta, func() {
		step.Commit()
		rm.metrics.observeMerge(rm.cfg.since(start))
		rm.publish(raw)
		rm.applied(ms, ev.opID, raw, step.Delta, "", true)
	})
}
