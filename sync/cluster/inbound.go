package cluster

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// path says how a message reached this node.
type path uint8

const (
	pathHosted path = 1 + iota // the subject of a workflow this node hosts
	pathStore                  // the store group's wildcard subscriptions
	pathInbox                  // this node's inbox (answers)
)

// work handles inbound messages until Close.
func (n *Node) work() {
	defer n.wg.Done()
	for {
		select {
		case <-n.quit:
			return
		case m := <-n.msgs:
			n.handle(m)
		}
	}
}

// inbound is one decoded message envelope.
type inbound struct {
	msg        *nats.Msg
	kind       Kind
	path       path
	originTok  string
	workflow   string
	workflowTk string
	sent       int64 // HeaderSent, Unix µs; 0 if absent
}

func (n *Node) handle(m *nats.Msg) {
	defer func() {
		if r := recover(); r != nil {
			n.metrics.busError("panic", 1)
			n.logger.Error("panic handling a bus message", "subject", m.Subject, "panic", r)
		}
	}()
	if m.Header.Get(HeaderVersion) != BusVersion {
		n.metrics.busError("version", 1)
		return
	}
	in := inbound{msg: m, kind: Kind(m.Header.Get(HeaderKind)), originTok: m.Header.Get(HeaderOrigin)}
	if in.originTok == n.nodeTok {
		if in.kind == KindDelta {
			n.metrics.echo()
		}
		return
	}
	if _, err := parseToken(in.originTok); err != nil {
		n.metrics.busError("decode", 1)
		return
	}
	in.workflowTk = m.Header.Get(HeaderWorkflow)
	id, err := parseToken(in.workflowTk)
	if err != nil {
		n.metrics.busError("decode", 1)
		return
	}
	in.workflow = id
	in.sent, _ = strconv.ParseInt(m.Header.Get(HeaderSent), 10, 64)
	switch {
	case m.Subject == n.inbox:
		in.path = pathInbox
	case m.Sub != nil && m.Sub.Queue != "":
		in.path = pathStore
		if n.isHosted(id) {
			return // the hosted subscription got the same message
		}
	default:
		in.path = pathHosted
	}

	if in.kind != KindTombstone && n.local.Deleted(id) {
		// Whoever still uses it missed the deletion: tell them.
		if in.kind != KindPresence && in.kind != KindEphemeral && in.kind != KindLock {
			n.answerTombstone(in)
		}
		return
	}
	switch in.kind {
	case KindDelta:
		if in.path != pathStore {
			n.onDelta(in)
		}
	case KindDigest:
		if in.path == pathHosted {
			n.onDigest(in)
		}
	case KindRequest:
		n.onRequest(in)
	case KindTombstone:
		n.onTombstone(in)
	case KindPresence:
		// On the inbox: a peer's answer to this node's request.
		if in.path != pathStore {
			n.onPresence(in)
		}
	case KindLock:
		n.onLock(in)
	case KindEphemeral:
		if in.path == pathHosted {
			n.onEphemeral(in)
		}
	default:
		n.metrics.busError("decode", 1)
	}
}

// onDelta merges a live delta or an anti-entropy answer.
func (n *Node) onDelta(in inbound) {
	// A peer's delta is merged in a room loop like a client's, so it is
	// held to the same work caps; peers cut what they send by them
	// (Publish, EncodeChunks).
	delta, err := workflow.DecodeCapped(in.msg.Data, workflow.DocLimits, workflow.DeltaCaps)
	if err != nil {
		n.metrics.busError("decode", 1)
		n.logger.Warn("undecodable delta on the bus", "workflow", in.workflow, "origin", in.originTok, "err", err)
		return
	}
	now := n.cfg.Now()
	if lead := maxWall(delta) - now.UnixMilli(); lead > n.cfg.MaxClockSkew.Milliseconds() {
		n.metrics.skewRefused()
		if n.logger.Enabled(context.Background(), slog.LevelDebug) {
			n.logger.Debug("delta refused: clock skew", "workflow", in.workflow, "origin", in.originTok, "lead_ms", lead)
		}
		return
	}
	if err := n.local.Apply(in.workflow, delta); err != nil {
		n.metrics.busError("apply", 1)
		n.logger.Warn("merging a delta from the bus failed", "workflow", in.workflow, "origin", in.originTok, "err", err)
		return
	}
	if in.path == pathInbox {
		n.metrics.receivedRepair()
		return
	}
	lag := time.Duration(-1)
	if in.sent > 0 {
		lag = max(now.Sub(time.UnixMicro(in.sent)), 0)
	}
	n.metrics.receivedLive(lag)
}

// onDigest compares a peer's context with the live room's: it sends the
// peer what it lacks, and asks it for what this node lacks.
func (n *Node) onDigest(in inbound) {
	theirs, ok := n.decodeContext(in)
	if !ok {
		return
	}
	mine, ok := n.local.Context(in.workflow)
	if !ok {
		return // not live here (yet): the Host request covers it
	}
	peer := n.subj.inbox(in.originTok)
	if !mine.Missing(theirs).IsEmpty() {
		if delta, ok := n.local.DeltaSince(in.workflow, theirs); ok && !delta.IsEmpty() {
			_ = n.sendChunks(peer, in.workflowTk, delta)
		}
	}
	if !theirs.Missing(mine).IsEmpty() {
		_ = n.sendContext(KindRequest, peer, in.workflowTk, mine)
	}
}

// onRequest answers a request with what the requester lacks, from the live
// room or the store, with the workflow's lock when one was ever set, and —
// from a node hosting the workflow — with this node's presence entry, so a
// node that just loaded the room shows the others' members at once instead
// of after their next heartbeat.
func (n *Node) onRequest(in inbound) {
	theirs, ok := n.decodeContext(in)
	if !ok {
		return
	}
	n.answerLock(in)
	if in.path == pathHosted {
		n.answerPresence(in)
	}
	delta, ok := n.local.DeltaSince(in.workflow, theirs)
	if !ok || delta.IsEmpty() {
		return
	}
	_ = n.sendChunks(n.subj.inbox(in.originTok), in.workflowTk, delta)
}

// onTombstone learns a deletion.
func (n *Node) onTombstone(in inbound) {
	if !n.local.Deleted(in.workflow) {
		if err := n.local.MarkDeleted(in.workflow); err != nil {
			n.metrics.busError("apply", 1)
			n.logger.Warn("recording a deletion from the bus failed", "workflow", in.workflow, "err", err)
			return // the next digest or request is answered again
		}
		n.metrics.tombstone("learned")
		n.logger.Info("workflow deleted elsewhere", "workflow", in.workflow, "origin", in.originTok)
	}
	n.Release(in.workflow)
}

// answerTombstone tells the sender of a message about a deleted workflow.
func (n *Node) answerTombstone(in inbound) {
	n.metrics.tombstone("answered")
	_ = n.send(KindTombstone, n.subj.inbox(in.originTok), in.workflowTk, nil)
}

func (n *Node) decodeContext(in inbound) (*crdt.Context, bool) {
	d, err := workflow.Decode(in.msg.Data, workflow.DocLimits)
	if err != nil {
		n.metrics.busError("decode", 1)
		return nil, false
	}
	return d.Context(), true
}
