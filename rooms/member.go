package rooms

import (
	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Identity is who a member is, as authenticated by the session layer.
type Identity struct {
	UserID string
	Name   string
	Avatar string // URL; may be empty
	// ReplicaID is the CRDT replica bound to the session (Hello.rid): every
	// new dot in its deltas must belong to it. Empty for a thin client,
	// which may only send operations.
	ReplicaID crdt.ReplicaID
	// Role is what the member may do: read members receive but cannot
	// write.
	Role protocol.Role
}

// Member is one session in a room. sync/session implements it; tests use
// fakes. The room calls these methods from its loop goroutine, so they must
// not block.
type Member interface {
	// SessionID identifies the session (Welcome.sid); it is unique per
	// connection.
	SessionID() string
	// Identity returns the authenticated identity. It must not change
	// while the member is in a room.
	Identity() Identity
	// Enqueue queues an encoded frame for the client without blocking.
	// The slice is shared with every other member and must not be
	// modified. It returns false when the session's outbound queue is full;
	// the room then removes the member and calls Close with
	// protocol.CloseSlowConsumer. A session that is already closing may
	// drop the frame and return true.
	Enqueue(frame []byte) bool
	// EnqueueReply queues the room's reply to a Join without blocking:
	// reply[0] is the Joined frame, the rest are the CatchUp frames, to
	// be sent in that order; nothing the room queues later is sent before
	// Joined. Frames the room queues afterwards with Enqueue may be sent
	// between the CatchUp frames (they commute with them; see
	// workflow.Doc.EncodeChunks), which lets a session deliver a catch-up
	// larger than its queue bound as its connection drains instead of
	// refusing it: the CatchUp frames do not count against the bound that
	// makes Enqueue fail. It returns false when the queue cannot take the
	// Joined frame; the room then treats the member as Enqueue's false.
	EnqueueReply(reply [][]byte) bool
	// Close closes the session's connection with code, after the frames
	// already queued unless code is protocol.CloseSlowConsumer. It must not
	// block and may be called more than once (the first call wins).
	Close(code protocol.CloseCode, reason string)
}

// JoinOptions are the per-join parts of a Join frame.
type JoinOptions struct {
	// Have is the client's causal context: the catch-up is what it lacks.
	// Nil means it has nothing.
	Have *crdt.Context
	// TabSessionID is the browser tab's id; a join with the same user and
	// tab replaces that tab's earlier entry in the roster.
	TabSessionID string
}
