package cluster

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"time"
)

// EphemeralInterval is the least time between two KindEphemeral messages of
// one node: cursors, selections and drags cross nodes at most at 30 Hz,
// the rate the clients send them at.
const EphemeralInterval = time.Second / 30

// EphemeralSink may be implemented by a Local to hear other nodes' live
// presence (cursor, selection) and drag frames.
type EphemeralSink interface {
	// RemoteEphemeral hands over the frames (protocol encoding) another
	// node's members sent for workflowID, latest per session and kind.
	RemoteEphemeral(workflowID, nodeID string, frames [][]byte)
}

// ephemeral is the node's pending live presence, by workflow then key.
type ephemeral struct {
	pending   map[string]map[string][]byte // guarded by Node.mu
	scheduled bool                         // guarded by Node.mu: a flush timer is set
	last      time.Time                    // guarded by Node.mu: the last flush
}

// PublishEphemeral queues frame (an encoded PresenceUpdate or DragUpdate of
// a hosted workflow) for the other nodes hosting workflowID. Frames of the
// same key (a session and a frame kind) replace each other until the next
// flush: latest wins. Flushes are at least EphemeralInterval apart, one
// message per workflow. It never blocks on the bus; it does nothing for a
// workflow not hosted, and returns ErrClosed after Close.
func (n *Node) PublishEphemeral(workflowID, key string, frame []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	if _, ok := n.hosted[workflowID]; !ok || len(frame) == 0 {
		return nil
	}
	e := &n.eph
	if e.pending == nil {
		e.pending = make(map[string]map[string][]byte)
	}
	byKey := e.pending[workflowID]
	if byKey == nil {
		byKey = make(map[string][]byte)
		e.pending[workflowID] = byKey
	}
	byKey[key] = frame
	if !e.scheduled {
		e.scheduled = true
		wait := max(EphemeralInterval-n.cfg.Now().Sub(e.last), 0)
		time.AfterFunc(wait, n.flushEphemeral)
	}
	return nil
}

// flushEphemeral publishes the pending frames, one message per workflow.
func (n *Node) flushEphemeral() {
	type out struct {
		tok     string
		payload []byte
	}
	var msgs []out
	n.mu.Lock()
	e := &n.eph
	e.scheduled = false
	e.last = n.cfg.Now()
	if n.closed {
		e.pending = nil
		n.mu.Unlock()
		return
	}
	for wf, byKey := range e.pending {
		h, ok := n.hosted[wf]
		if !ok {
			continue
		}
		var payload []byte
		for _, k := range slices.Sorted(maps.Keys(byKey)) {
			payload = appendEphemeral(payload, byKey[k])
		}
		msgs = append(msgs, out{h.tok, payload})
	}
	e.pending = nil
	n.mu.Unlock()
	for _, m := range msgs {
		_ = n.send(KindEphemeral, n.subj.workflow(m.tok, KindEphemeral), m.tok, m.payload)
	}
}

// appendEphemeral appends one frame, prefixed by its length (uvarint).
func appendEphemeral(b, frame []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(frame)))
	return append(b, frame...)
}

var errEphemeral = errors.New("cluster: malformed ephemeral payload")

// splitEphemeral is the inverse of the appendEphemeral calls of a payload.
func splitEphemeral(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		l, n := binary.Uvarint(b)
		if n <= 0 || l == 0 || l > uint64(len(b)-n) {
			return nil, errEphemeral
		}
		out = append(out, b[n:n+int(l)])
		b = b[n+int(l):]
	}
	return out, nil
}

// onEphemeral hands a peer's live frames to the sink.
func (n *Node) onEphemeral(in inbound) {
	sink, ok := n.local.(EphemeralSink)
	if !ok {
		return
	}
	frames, err := splitEphemeral(in.msg.Data)
	if err != nil || len(frames) == 0 {
		n.metrics.busError("decode", 1)
		return
	}
	node, _ := parseToken(in.originTok) // checked by handle
	sink.RemoteEphemeral(in.workflow, node, frames)
}
