package protocol

import (
	"fmt"
	"unsafe"
)

// FrameType is the first element of every frame's envelope. Values are part
// of the wire format: never renumber them, never reuse a retired one.
// Client→server frames use 0x01–0x3f, server→client frames 0x40–0x7f, so a
// peer can refuse a frame sent in the wrong direction without a table.
type FrameType uint8

// Frame types. The comment on each line gives the body keys (schema.go has
// their types, bounds and meaning); * marks a required key.
const (
	// Client → server.
	FrameHello     = FrameType(0x01) // v*, tok*, rid, cn, cv, caps ([str])
	FrameJoin      = FrameType(0x02) // wf*, ctx (bin), tab
	FrameLeave     = FrameType(0x03) // wf*
	FrameDelta     = FrameType(0x04) // wf*, op*, d* (bin)
	FrameOperation = FrameType(0x05) // wf*, op*, name*, target*, payload* (map)
	FramePresence  = FrameType(0x06) // wf*, cur ({x,y} | nil), sel ({t, id})
	FrameDrag      = FrameType(0x07) // wf*, pos* ({block id: {x,y}})
	FrameVouch     = FrameType(0x08) // wf*, op*, d* (bin), rk*, rm* (bin)

	// Server → client.
	FrameWelcome        = FrameType(0x40) // v*, sid*, user* ({id*, name, avatar}), sv, lim ({frame, delta, ops, burst, skew}), now*, caps ([str])
	FrameJoined         = FrameType(0x41) // wf*, role*, ctx* (bin), roster* ([entry]), chunks*, epoch, seq, stable
	FrameCatchUp        = FrameType(0x42) // wf*, seq*, last*, d* (bin), rk, rm (bin)
	FrameApplied        = FrameType(0x43) // op*
	FrameDurable        = FrameType(0x44) // ops* ([str])
	FrameNack           = FrameType(0x45) // op*, code*, msg, retry*
	FrameRemoteDelta    = FrameType(0x46) // wf*, d* (bin), from* ({uid, rid, sid}), seq, rk, rm (bin)
	FramePresenceUpdate = FrameType(0x47) // wf*, sid*, uid*, name, avatar, cur, sel
	FrameRoster         = FrameType(0x48) // wf*, entries* ([entry])
	FrameDragUpdate     = FrameType(0x49) // wf*, sid*, uid*, pos*
	FrameEvent          = FrameType(0x4a) // wf*, kind*, msg, ts*
	FrameError          = FrameType(0x4b) // code*, msg, retry*, wf
	FrameStable         = FrameType(0x4c) // wf*, epoch*, seq*
	FrameAcks           = FrameType(0x4d) // ap ([str]), du ([str])
)

// FromClient reports whether t is in the client→server range.
func (t FrameType) FromClient() bool { return t >= 0x01 && t <= 0x3f }

// FromServer reports whether t is in the server→client range.
func (t FrameType) FromServer() bool { return t >= 0x40 && t <= 0x7f }

// Known reports whether t is a defined frame type (one this version
// encodes and decodes), not merely a value in one of the two ranges.
func (t FrameType) Known() bool {
	_, ok := frameTypeNames[t]
	return ok
}

var frameTypeNames = map[FrameType]string{
	FrameHello: "Hello", FrameJoin: "Join", FrameLeave: "Leave", FrameDelta: "Delta",
	FrameOperation: "Operation", FramePresence: "Presence", FrameDrag: "Drag", FrameVouch: "Vouch",
	FrameWelcome: "Welcome", FrameJoined: "Joined", FrameCatchUp: "CatchUp",
	FrameApplied: "Applied", FrameDurable: "Durable", FrameNack: "Nack",
	FrameRemoteDelta: "RemoteDelta", FramePresenceUpdate: "PresenceUpdate",
	FrameRoster: "Roster", FrameDragUpdate: "DragUpdate", FrameEvent: "Event",
	FrameError: "Error", FrameStable: "Stable", FrameAcks: "Acks",
}

func (t FrameType) String() string {
	if s, ok := frameTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("FrameType(0x%02x)", uint8(t))
}

// Frame is one protocol message. The set is closed: every implementation is
// a pointer to one of this package's frame structs, which is what Decode
// returns and what a type switch should name (case *protocol.Delta).
type Frame interface {
	Type() FrameType
	// ptr returns the frame struct, which the codec reads and writes as
	// the body record of its type describes (schema.go).
	ptr() unsafe.Pointer
}

// Role is what a session may do in a workflow.
type Role string

// Roles, from least to most. Read may receive but not send deltas; write may
// send every operation except lock toggles; admin may send all.
const (
	RoleRead  Role = "read"
	RoleWrite Role = "write"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r == RoleRead || r == RoleWrite || r == RoleAdmin }

// Point is a canvas position (cursor, dragged block). Coordinates must be
// finite: a NaN would compare unequal to itself on every replica.
type Point struct {
	X float64
	Y float64
}

// SelectionType says what a selection points at.
type SelectionType string

// Selection types. The zero SelectionType is "no selection" and is encoded
// by omitting the key.
const (
	SelectNone  SelectionType = "none"
	SelectBlock SelectionType = "block"
	SelectEdge  SelectionType = "edge"
)

// Selection is what a user has selected on the canvas. ID names the block or
// edge and is empty for none (or the zero Selection).
type Selection struct {
	Type SelectionType
	ID   string
}

// IsZero reports whether s is the zero Selection (encoded as an absent key).
func (s Selection) IsZero() bool { return s == Selection{} }

// User is the identity the server authenticated, as shown to other users.
type User struct {
	ID     string
	Name   string
	Avatar string // URL; may be empty
}

// ServerLimits are the limits the server enforces on this session, announced
// in Welcome so that a client can stay under them instead of being refused.
// Zero means "not announced".
type ServerLimits struct {
	MaxFrameBytes   uint64 // websocket message size; larger messages are closed with 1009
	MaxDeltaBytes   uint64 // encoded delta (Delta.Delta) size
	MaxOpsPerSecond uint64 // sustained client frames per second (every frame type counts)
	OpsBurst        uint64 // burst above MaxOpsPerSecond
	MaxClockSkewMs  uint64 // how far a delta's HLC wall time may lead the server clock
	MaxClockLagMs   uint64 // how far a delta's HLC wall time may trail the server clock (0: no bound)
	MaxRooms        uint64 // rooms a session may be in at once (0: not announced)
}

// Origin says who wrote a relayed delta.
type Origin struct {
	UserID    string
	ReplicaID string // empty for a thin client's Operation (the server authored the dots)
	SessionID string
}

// RosterEntry is one session present in a workflow room. Presence is per
// session (a browser tab), not per user: one user may appear several times.
type RosterEntry struct {
	SessionID      string
	TabSessionID   string
	UserID         string
	Name           string
	Avatar         string
	Role           Role
	JoinedAtMs     int64
	LastActivityMs int64
	Cursor         *Point // nil: pointer not on the canvas
	Selection      Selection
	Caret          TextCaret // zero: no caret in a text field
}

// EventKind names a lifecycle event. Clients must ignore kinds they do not
// know: new kinds are added without a protocol version bump.
type EventKind string

// Event kinds.
const (
	EventWorkflowDeleted  EventKind = "workflow-deleted"  // the room is closed; leave and stop editing
	EventWorkflowUpdated  EventKind = "workflow-updated"  // changed outside the editor (copilot, fork): deltas follow
	EventWorkflowReverted EventKind = "workflow-reverted" // reverted to an earlier state (deployed, or a restored checkpoint): deltas follow
	EventWorkflowDeployed EventKind = "workflow-deployed" // informational
	EventAccessRevoked    EventKind = "access-revoked"    // this session was removed from the room
)

// Hello is the first frame a client sends; nothing else is accepted before
// the Welcome that answers it (the server closes with CloseAuthTimeout if it
// does not arrive within the auth deadline).
type Hello struct {
	ProtocolVersion uint64 // ProtocolVersion of the client
	Token           string // bearer token; may be empty only if the HTTP upgrade already authenticated
	ReplicaID       string // the client's CRDT replica id; empty for a thin client that sends only Operation frames
	ClientName      string // e.g. "flowsync-js"
	ClientVersion   string // e.g. "1.4.2"
	// Caps names the optional behaviours the client asks for
	// (CapabilityAcks); a server ignores the names it does not know.
	Caps []string
}

// Welcome answers Hello once the token is verified.
type Welcome struct {
	ProtocolVersion uint64 // the version the server speaks on this session
	SessionID       string
	User            User
	ServerVersion   string
	Limits          ServerLimits
	ServerTimeMs    int64 // the server's wall clock, for the client's skew estimate
	// Caps names the capabilities of Hello.Caps this session uses.
	Caps []string
}

// Join asks to enter a workflow room. Context is the client's causal context
// for this workflow in the workflow encoding (an encoded Doc with an empty
// store); empty means "I have nothing": the catch-up is the whole document.
type Join struct {
	WorkflowID   string
	Context      []byte
	TabSessionID string // a per-tab id that survives reloads, so a reload replaces its own ghost presence
}

// Joined answers Join. CatchUpChunks CatchUp frames follow (possibly zero,
// when the client lacks nothing); Context is the server's causal context, so
// the client can send what the server lacks.
type Joined struct {
	WorkflowID    string
	Role          Role
	Context       []byte
	Roster        []RosterEntry
	CatchUpChunks uint64
	// Epoch names this incarnation of the room: every load of the
	// workflow, on any node, gets a new one. Seq is the room's relay
	// sequence at the join (every later RemoteDelta has a greater one) and
	// Stable its durable mark: relayed frames of this epoch with a
	// sequence up to Stable are durable, and so is the catch-up when
	// Stable equals Seq.
	Epoch  string
	Seq    uint64
	Stable uint64
}

// CatchUp carries one chunk of what the joining client lacks, as a delta.
// Chunks are numbered from 0; the one with Last set ends the catch-up.
type CatchUp struct {
	WorkflowID string
	Seq        uint64
	Last       bool
	Delta      []byte
	Receipt    Receipt // the server's receipt for Delta; zero without receipts
}

// Receipt is a server's proof that it admitted a delta: a MAC over the
// workflow id and the delta's exact bytes under the deployment key KeyID
// (package sync/receipt). A client keeps it with the delta until the delta
// is durable and hands both back in a Vouch after a server lost them.
type Receipt struct {
	KeyID string
	MAC   []byte
}

// IsZero reports whether r is absent.
func (r Receipt) IsZero() bool { return r.KeyID == "" && len(r.MAC) == 0 }

// Leave leaves a workflow room. Unacknowledged deltas stay in the client's
// outbox; they are resent after the next Join.
type Leave struct {
	WorkflowID string
}

// Delta sends one delta (the workflow encoding) authored by the session's
// replica. OpID is the client's id for it, echoed by Applied, Durable or Nack.
type Delta struct {
	WorkflowID string
	OpID       string
	Delta      []byte
}

// The Operation that undoes (UndoOperation) or redoes (RedoOperation) the
// newest step of the operations this session sent: target UndoTarget, an
// empty payload. The server keeps the session's undo stacks (docs/ARCHITECTURE.md,
// "Undo and redo") and writes the inverse as a new edit; nothing to undo is
// refused with NO_EFFECT.
const (
	UndoOperation = "undo"
	RedoOperation = "redo"
	UndoTarget    = "workflow"
)

// Operation is the thin-client form of an edit: the server runs the named
// operation against its document and relays the resulting delta. Payload is
// the operation's JSON-shaped argument object as in the reference protocol
// (decoded integers are int64, or uint64 above math.MaxInt64; other numbers
// float64).
type Operation struct {
	WorkflowID string
	OpID       string
	Name       string // e.g. "batch-add-blocks"
	Target     string // e.g. "blocks"
	Payload    map[string]any
}

// Applied says the delta or operation OpID was merged into the server's
// in-memory document and relayed to the room. It is not yet durable.
type Applied struct {
	OpID string
}

// Durable says the listed operations are covered by a committed write; the
// client may drop them from its outbox. A Durable may cover many ops.
type Durable struct {
	OpIDs []string
}

// Acks answers many submissions at once, for a session that asked for
// CapabilityAcks: it stands for an Applied for each of Applied, in order,
// then a Durable listing Durable. The server sends one per flush of the
// connection, in place of the Applied and Durable frames that flush would
// have carried, at the place of the last of them.
type Acks struct {
	Applied []string
	Durable []string
}

// CapabilityAcks is the Hello.Caps name a client gives to receive Acks
// frames instead of an Applied per submission and a Durable per store
// write.
const CapabilityAcks = "acks"

// HasCap reports whether caps names c.
func HasCap(caps []string, c string) bool {
	for _, x := range caps {
		if x == c {
			return true
		}
	}
	return false
}

// Nack refuses operation OpID; nothing of it was merged or relayed.
type Nack struct {
	OpID      string
	Code      Code
	Message   string
	Retryable bool
}

// RemoteDelta relays a delta another session wrote.
type RemoteDelta struct {
	WorkflowID string
	Delta      []byte
	Origin     Origin
	Seq        uint64  // the frame's relay sequence in the room's epoch (Joined.Epoch)
	Receipt    Receipt // the server's receipt for Delta; zero without receipts
}

// Vouch hands back a delta the client received from a server (a
// RemoteDelta's or a CatchUp's Delta, byte for byte) with its receipt, after
// the server that sent it may have lost it (a new Joined.Epoch). It is
// answered like a Delta (Applied, then Durable; or Nack BAD_RECEIPT when the
// receipt does not check).
type Vouch struct {
	WorkflowID string
	OpID       string
	Delta      []byte
	Receipt    Receipt
}

// Stable says every relayed frame of Epoch with a sequence up to Seq is
// durable: a client may forget the receipts it kept for them.
type Stable struct {
	WorkflowID string
	Epoch      string
	Seq        uint64
}

// Presence replaces the sender's live presence in the room: a nil Cursor
// means the pointer left the canvas, a zero Selection means none.
type Presence struct {
	WorkflowID string
	Cursor     *Point
	Selection  Selection
	Caret      TextCaret
}

// PresenceUpdate relays one session's presence with its identity.
type PresenceUpdate struct {
	WorkflowID string
	SessionID  string
	UserID     string
	Name       string
	Avatar     string
	Cursor     *Point
	Selection  Selection
	Caret      TextCaret
}

// TextCaret is a caret or selection inside a text field (docs/PROTOCOL.md
// §7.9): the field (a block's sub-block, or a variable when Sub is empty)
// and its ends as stable positions, which stay on their characters while
// others type. The zero TextCaret is none (an absent key).
type TextCaret struct {
	ID     string
	Sub    string
	Anchor TextPos
	Head   *TextPos // nil: a caret (the selection is empty)
}

// IsZero reports whether c is the zero TextCaret (encoded as an absent key).
func (c TextCaret) IsZero() bool {
	return c.ID == "" && c.Sub == "" && c.Anchor == TextPos{} && c.Head == nil
}

// TextPos is a stable position in a text: the dot (Replica, Counter) of the
// code point left of it, or the zero TextPos for the start of the text.
type TextPos struct {
	Replica string
	Counter uint64
}

// Roster is the full list of sessions in a room, sent on every join, leave
// and disconnect. It replaces the previous roster.
type Roster struct {
	WorkflowID string
	Entries    []RosterEntry
}

// Drag carries live positions of blocks being dragged. Drag frames are
// ephemeral: relayed, never merged or stored. The drop sends one real Delta.
type Drag struct {
	WorkflowID string
	Positions  map[string]Point // block id → position
}

// DragUpdate relays a Drag with the sender's identity.
type DragUpdate struct {
	WorkflowID string
	SessionID  string
	UserID     string
	Positions  map[string]Point
}

// Event is a lifecycle notice from the application (through the server's
// admin API) about a workflow.
type Event struct {
	WorkflowID  string
	Kind        EventKind
	Message     string
	TimestampMs int64
}

// Type implements Frame.
func (*Hello) Type() FrameType          { return FrameHello }
func (*Join) Type() FrameType           { return FrameJoin }
func (*Leave) Type() FrameType          { return FrameLeave }
func (*Delta) Type() FrameType          { return FrameDelta }
func (*Operation) Type() FrameType      { return FrameOperation }
func (*Presence) Type() FrameType       { return FramePresence }
func (*Drag) Type() FrameType           { return FrameDrag }
func (*Vouch) Type() FrameType          { return FrameVouch }
func (*Stable) Type() FrameType         { return FrameStable }
func (*Welcome) Type() FrameType        { return FrameWelcome }
func (*Joined) Type() FrameType         { return FrameJoined }
func (*CatchUp) Type() FrameType        { return FrameCatchUp }
func (*Applied) Type() FrameType        { return FrameApplied }
func (*Durable) Type() FrameType        { return FrameDurable }
func (*Nack) Type() FrameType           { return FrameNack }
func (*RemoteDelta) Type() FrameType    { return FrameRemoteDelta }
func (*PresenceUpdate) Type() FrameType { return FramePresenceUpdate }
func (*Roster) Type() FrameType         { return FrameRoster }
func (*DragUpdate) Type() FrameType     { return FrameDragUpdate }
func (*Event) Type() FrameType          { return FrameEvent }
func (*Error) Type() FrameType          { return FrameError }
func (*Acks) Type() FrameType           { return FrameAcks }

func (f *Hello) ptr() unsafe.Pointer          { return unsafe.Pointer(f) }
func (f *Join) ptr() unsafe.Pointer           { return unsafe.Pointer(f) }
func (f *Leave) ptr() unsafe.Pointer          { return unsafe.Pointer(f) }
func (f *Delta) ptr() unsafe.Pointer          { return unsafe.Pointer(f) }
func (f *Operation) ptr() unsafe.Pointer      { return unsafe.Pointer(f) }
func (f *Presence) ptr() unsafe.Pointer       { return unsafe.Pointer(f) }
func (f *Drag) ptr() unsafe.Pointer           { return unsafe.Pointer(f) }
func (f *Vouch) ptr() unsafe.Pointer          { return unsafe.Pointer(f) }
func (f *Stable) ptr() unsafe.Pointer         { return unsafe.Pointer(f) }
func (f *Welcome) ptr() unsafe.Pointer        { return unsafe.Pointer(f) }
func (f *Joined) ptr() unsafe.Pointer         { return unsafe.Pointer(f) }
func (f *CatchUp) ptr() unsafe.Pointer        { return unsafe.Pointer(f) }
func (f *Applied) ptr() unsafe.Pointer        { return unsafe.Pointer(f) }
func (f *Durable) ptr() unsafe.Pointer        { return unsafe.Pointer(f) }
func (f *Nack) ptr() unsafe.Pointer           { return unsafe.Pointer(f) }
func (f *RemoteDelta) ptr() unsafe.Pointer    { return unsafe.Pointer(f) }
func (f *PresenceUpdate) ptr() unsafe.Pointer { return unsafe.Pointer(f) }
func (f *Roster) ptr() unsafe.Pointer         { return unsafe.Pointer(f) }
func (f *DragUpdate) ptr() unsafe.Pointer     { return unsafe.Pointer(f) }
func (f *Event) ptr() unsafe.Pointer          { return unsafe.Pointer(f) }
func (f *Error) ptr() unsafe.Pointer          { return unsafe.Pointer(f) }
func (f *Acks) ptr() unsafe.Pointer           { return unsafe.Pointer(f) }
