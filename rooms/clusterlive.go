package rooms

import (
	"github.com/flowsync/flowsync/sync/protocol"
)

// Live presence across nodes: the cursors, selections and drags a room
// relays to its own members also go to the other nodes hosting the
// workflow, which relay them to theirs. They are never stored; the cluster
// coalesces them (latest per session and kind) to at most
// cluster.EphemeralInterval apart.

// ClusterEphemeral may be implemented by a Cluster to carry live presence
// (*cluster.Node does). Without it, cursors stay on their node.
type ClusterEphemeral interface {
	// PublishEphemeral queues an encoded PresenceUpdate or DragUpdate;
	// frames of the same key replace each other until sent. It must not
	// block: the room loop calls it.
	PublishEphemeral(workflowID, key string, frame []byte) error
}

// remoteEphemeralEvent carries other nodes' live frames into the room.
type remoteEphemeralEvent struct {
	frames []protocol.Frame
	raw    [][]byte
}

func (*remoteEphemeralEvent) isEvent() {}

// publishEphemeral hands one relayed live frame to the cluster.
func (rm *Room) publishEphemeral(f protocol.Frame, frame []byte) {
	c, ok := rm.cfg.Cluster.(ClusterEphemeral)
	if !ok {
		return
	}
	var key string
	switch f := f.(type) {
	case *protocol.PresenceUpdate:
		key = "p" + f.SessionID
	case *protocol.DragUpdate:
		key = "d" + f.SessionID
	default:
		return
	}
	if err := c.PublishEphemeral(rm.id, key, frame); err != nil {
		rm.logger.Debug("publishing live presence failed", "err", err)
	}
}

// RemoteEphemeral relays another node's live presence and drag frames to
// the live room's members (cluster.EphemeralSink). Frames that are not a
// PresenceUpdate or DragUpdate of workflowID within the protocol's bounds
// are ignored. Nothing waits: when the room's inbox is full the frames are
// dropped, as the next ones replace them anyway.
func (l *ClusterLocal) RemoteEphemeral(workflowID, nodeID string, frames [][]byte) {
	r := l.r
	rm := r.liveRoom(workflowID)
	if rm == nil {
		return
	}
	ev := &remoteEphemeralEvent{}
	for _, b := range frames {
		f, err := protocol.Decode(b, protocol.Limits{})
		if err != nil {
			r.logger.Debug("ignoring a malformed live frame from the cluster", "workflow", workflowID, "node", nodeID, "err", err)
			continue
		}
		switch f := f.(type) {
		case *protocol.PresenceUpdate:
			if f.WorkflowID != workflowID {
				continue
			}
		case *protocol.DragUpdate:
			if f.WorkflowID != workflowID || len(f.Positions) > protocol.MaxDragBlocks {
				continue
			}
		default:
			continue
		}
		ev.frames = append(ev.frames, f)
		ev.raw = append(ev.raw, b)
	}
	if len(ev.frames) == 0 {
		return
	}
	select {
	case rm.inbox <- ev:
	default:
	}
}

// handleRemoteEphemeral relays other nodes' live frames to every member.
func (rm *Room) handleRemoteEphemeral(ev *remoteEphemeralEvent) {
	for i, f := range ev.frames {
		rm.broadcast(f, ev.raw[i], nil)
	}
}
