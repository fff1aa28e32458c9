package cluster

import (
	"bytes"
	"maps"
	"slices"
)

// PublishPresence publishes this node's presence entry for a hosted
// workflow (opaque bytes, e.g. the room's encoded roster) and keeps
// re-publishing it every PresenceHeartbeat; an empty entry withdraws it.
// Other nodes drop it 3 heartbeats after they last heard it. Presence is
// ephemeral: never merged, never stored. It returns ErrInvalidID,
// ErrClosed, or a NATS error; for a workflow not hosted it does nothing.
func (n *Node) PublishPresence(workflowID string, entry []byte) error {
	if err := validateID(workflowID); err != nil {
		return err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	h, ok := n.hosted[workflowID]
	if !ok {
		n.mu.Unlock()
		return nil
	}
	if len(entry) == 0 {
		h.own = nil
	} else {
		h.own = bytes.Clone(entry)
	}
	tok := h.tok
	n.mu.Unlock()
	return n.send(KindPresence, n.subj.workflow(tok, KindPresence), tok, entry)
}

// Presence returns the live presence entries other nodes published for
// workflowID, by node id.
func (n *Node) Presence(workflowID string) map[string][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string][]byte, len(n.presence[workflowID]))
	for node, p := range n.presence[workflowID] {
		out[node] = p.entry
	}
	return out
}

// onPresence records a peer's entry (the newest by its send time).
func (n *Node) onPresence(in inbound) {
	node, _ := parseToken(in.originTok) // checked by handle
	expires := n.cfg.Now().Add(3 * n.cfg.PresenceHeartbeat)
	n.mu.Lock()
	if _, ok := n.hosted[in.workflow]; !ok {
		n.mu.Unlock()
		return
	}
	byNode := n.presence[in.workflow]
	old, had := byNode[node]
	if had && in.sent < old.sent {
		n.mu.Unlock()
		return // reordered: an older entry
	}
	var entry []byte
	if len(in.msg.Data) > 0 {
		entry = bytes.Clone(in.msg.Data)
		if byNode == nil {
			byNode = make(map[string]remotePresence)
			n.presence[in.workflow] = byNode
		}
		byNode[node] = remotePresence{entry: entry, sent: in.sent, expires: expires}
	} else {
		delete(byNode, node)
	}
	changed := !had || !bytes.Equal(old.entry, entry)
	n.mu.Unlock()
	if changed {
		if sink, ok := n.local.(PresenceSink); ok {
			sink.RemotePresence(in.workflow, node, entry)
		}
	}
}

// presenceTick re-publishes this node's entries and expires remote ones.
func (n *Node) presenceTick() {
	now := n.cfg.Now()
	type own struct {
		tok   string
		entry []byte
	}
	var mine []own
	expired := map[string]map[string]remotePresence{}
	n.mu.Lock()
	for _, h := range n.hosted {
		if h.own != nil {
			mine = append(mine, own{h.tok, h.own})
		}
	}
	for wf, byNode := range n.presence {
		for node, p := range byNode {
			if now.After(p.expires) {
				if expired[wf] == nil {
					expired[wf] = map[string]remotePresence{}
				}
				expired[wf][node] = p
				delete(byNode, node)
			}
		}
		if len(byNode) == 0 {
			delete(n.presence, wf)
		}
	}
	n.mu.Unlock()
	for _, o := range mine {
		_ = n.send(KindPresence, n.subj.workflow(o.tok, KindPresence), o.tok, o.entry)
	}
	for _, wf := range slices.Sorted(maps.Keys(expired)) {
		n.notifyPresence(wf, expired[wf])
	}
}

// notifyPresence tells the sink that the given entries are gone.
func (n *Node) notifyPresence(workflowID string, gone map[string]remotePresence) {
	sink, ok := n.local.(PresenceSink)
	if !ok {
		return
	}
	for node := range gone {
		sink.RemotePresence(workflowID, node, nil)
	}
}

// answerPresence sends the requester this node's presence entry for a
// hosted workflow, if it has one.
func (n *Node) answerPresence(in inbound) {
	n.mu.Lock()
	h, ok := n.hosted[in.workflow]
	var own []byte
	if ok {
		own = h.own
	}
	n.mu.Unlock()
	if own != nil {
		_ = n.send(KindPresence, n.subj.inbox(in.originTok), in.workflowTk, own)
	}
}
