package protocol

//go:generate go test -run ^(TestGeneratedFiles|TestFrameVectors)$ . -update

// The frame schema: one table per frame body and per nested map, in wire
// order. Each line is a key: wire key, Go field, type with its bound, and
// its meaning for docs/PROTOCOL.md. The Go codec interprets these tables,
// and TestGeneratedFiles writes the PROTOCOL.md tables and the TypeScript
// codec's schema (clients/js/src/protocol/schema.ts) from them; a change
// here is a change to the wire format (see ProtocolVersion).

var (
	pointRecord = newRecord[Point]("point", "A canvas position.", ruleFinite,
		req("x", "X", tFloat, "horizontal canvas coordinate"),
		req("y", "Y", tFloat, "vertical canvas coordinate"),
	)
	selectionRecord = newRecord[Selection]("selection",
		"What a user has selected on the canvas.", ruleSelection,
		req("t", "Type", tEnum(string(SelectBlock), string(SelectEdge), string(SelectNone)), "what is selected"),
		opt("id", "ID", tID, "the block or edge id: required for `block` and `edge`, absent for `none`"),
	)
	textPosRecord = newRecord[TextPos]("text position",
		"A stable position in a text (§7.9): the dot of the code point left of it; both keys absent for the start of the text.", ruleNone,
		opt("r", "Replica", tID, "the dot's replica id"),
		opt("c", "Counter", tUint, "the dot's counter"),
	)
	textCaretRecord = newRecord[TextCaret]("text caret",
		"A caret or selection inside a text field (§7.9), as stable positions.", ruleNone,
		req("b", "ID", tID, "the block id, or the variable id when `s` is absent"),
		opt("s", "Sub", tID, "the sub-block id; absent for a variable's value"),
		req("a", "Anchor", tRecord(textPosRecord), "where the selection starts (the caret when `h` is absent)"),
		opt("h", "Head", tRecordOrNil(textPosRecord), "where it ends; absent/nil: an empty selection (a caret)"),
	)
	userRecord = newRecord[User]("user", "The user the server authenticated, as shown to other users.", ruleNone,
		req("id", "ID", tID, "user id"),
		opt("name", "Name", tText(MaxTextBytes), "display name"),
		opt("avatar", "Avatar", tText(MaxTextBytes), "avatar URL"),
	)
	limitsRecord = newRecord[ServerLimits]("limits",
		"Limits the server enforces on this session; an absent key is not announced.", ruleNone,
		opt("frame", "MaxFrameBytes", tUint, "max message bytes"),
		opt("delta", "MaxDeltaBytes", tUint, "max encoded delta bytes"),
		opt("ops", "MaxOpsPerSecond", tUint, "sustained frames per second (every client frame counts)"),
		opt("burst", "OpsBurst", tUint, "burst above `ops`"),
		opt("skew", "MaxClockSkewMs", tUint, "max ms a delta's HLC wall time may lead the server clock"),
		opt("lag", "MaxClockLagMs", tUint, "max ms a delta's HLC wall time may trail the server clock (edits the server has not seen; absent: no bound)"),
		opt("rooms", "MaxRooms", tUint, "max rooms this session may be in at once"),
	)
	originRecord = newRecord[Origin]("origin", "Who wrote a relayed delta.", ruleNone,
		req("uid", "UserID", tID, "user id"),
		opt("rid", "ReplicaID", tID, "replica id; absent for a thin client's operation (the server authored the dots)"),
		req("sid", "SessionID", tID, "session id"),
	)
	rosterEntryRecord = newRecord[RosterEntry]("roster entry",
		"One session present in a room. Presence is per session (tab), not per user.", ruleNone,
		req("sid", "SessionID", tID, "session id"),
		opt("tab", "TabSessionID", tID, "tab session id"),
		req("uid", "UserID", tID, "user id"),
		opt("name", "Name", tText(MaxTextBytes), "display name"),
		opt("avatar", "Avatar", tText(MaxTextBytes), "avatar URL"),
		req("role", "Role", tRole, "role at join"),
		req("joined", "JoinedAtMs", tInt, "joined at, Unix ms (server clock)"),
		req("active", "LastActivityMs", tInt, "last activity, Unix ms (server clock)"),
		opt("cur", "Cursor", tRecordOrNil(pointRecord), "cursor, as in Presence (always written by this implementation, nil when none)"),
		opt("sel", "Selection", tRecord(selectionRecord), "selection, as in Presence"),
		opt("txt", "Caret", tRecord(textCaretRecord), "text caret, as in Presence"),
	)
)

var tRole = tEnum(string(RoleRead), string(RoleWrite), string(RoleAdmin))

var (
	helloBody = newRecord[Hello]("Hello", "", ruleNone,
		req("v", "ProtocolVersion", tVersion, "protocol version the client speaks (1). Never changes meaning in any version."),
		req("tok", "Token", tTextOr(MaxTokenBytes, CodeAuthenticationFailed), "bearer token (see \"Access token\" below); may be `\"\"` only if the HTTP upgrade already authenticated. A longer token is a refused token: `AUTHENTICATION_FAILED`, close 4500"),
		opt("rid", "ReplicaID", tID, "the client's CRDT replica id. Every dot in this session's deltas must belong to it (`FORGED_DOT` otherwise). Absent for a thin client that only sends `Operation`. A replica id names a device/install, not a tab or connection, and is reused across sessions."),
		opt("cn", "ClientName", tText(MaxIDBytes), "client name, e.g. `flowsync-js`"),
		opt("cv", "ClientVersion", tText(MaxIDBytes), "client version"),
		opt("caps", "Caps", tList(tID, ruleNone), "optional behaviours the client asks for; the server ignores names it does not know and lists those it grants in `Welcome.caps`. `acks`: answer submissions with `Acks` frames (§4.21) instead of `Applied` and `Durable`"),
	)
	joinBody = newRecord[Join]("Join", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
		opt("ctx", "Context", tBin, "client's causal context for `wf` (§7.4); absent/empty = \"I have nothing\""),
		opt("tab", "TabSessionID", tID, "tab session id (survives reloads; a reload replaces its own ghost presence)"),
	)
	leaveBody = newRecord[Leave]("Leave", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
	)
	deltaBody = newRecord[Delta]("Delta", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id (must be joined, else `NOT_JOINED`)"),
		req("op", "OpID", tID, "client's op id for the acks"),
		req("d", "Delta", tDelta, "the delta (§7), at most `lim.delta` bytes"),
	)
	operationBody = newRecord[Operation]("Operation", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
		req("op", "OpID", tID, "client's op id for the acks"),
		req("name", "Name", tID, "operation name as in the reference protocol, e.g. `batch-add-blocks`, `update-name`; or `undo` / `redo` (target `workflow`, payload `{}`): undo or redo the newest of the operations this session sent (each operation is one step), written by the server as a new edit that leaves values others wrote since alone; `NO_EFFECT` when there is nothing to undo or redo. The stacks live as long as the session's membership of the workflow"),
		req("target", "Target", tID, "`block`, `blocks`, `edge`, `edges`, `subflow`, `subblock`, `variable`, `workflow`"),
		req("payload", "Payload", tPayload, "the operation's JSON-shaped argument object (string keys, no duplicates; values nil, bool, numbers, str, bin, arrays, maps). Encoded canonically (§7.6) by this implementation."),
	)
	presenceBody = newRecord[Presence]("Presence", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
		opt("cur", "Cursor", tRecordOrNil(pointRecord), "cursor in canvas coordinates; nil/absent = pointer not on the canvas"),
		opt("sel", "Selection", tRecord(selectionRecord), "selection; absent = none"),
		opt("txt", "Caret", tRecord(textCaretRecord), "caret or selection inside a text field; absent = none"),
	)
	dragBody = newRecord[Drag]("Drag", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
		req("pos", "Positions", tDict("block id", pointRecord), "live position of each dragged block; no block id twice"),
	)
	vouchBody = newRecord[Vouch]("Vouch", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id (must be joined, else `NOT_JOINED`)"),
		req("op", "OpID", tID, "client's op id for the acks"),
		req("d", "Delta", tDelta, "a `RemoteDelta.d` or `CatchUp.d` this client received, byte for byte"),
		req("rk", "Receipt.KeyID", tID, "the receipt's key id, as received"),
		req("rm", "Receipt.MAC", tBin, "the receipt's MAC, as received"),
	)
	welcomeBody = newRecord[Welcome]("Welcome", "", ruleNone,
		req("v", "ProtocolVersion", tVersion, "protocol version of this session"),
		req("sid", "SessionID", tID, "session id (appears in presence and `from.sid`)"),
		req("user", "User", tRecord(userRecord), "the authenticated user"),
		opt("sv", "ServerVersion", tText(MaxIDBytes), "server version"),
		opt("lim", "Limits", tRecord(limitsRecord), "limits enforced on this session"),
		req("now", "ServerTimeMs", tInt, "server wall clock, Unix ms (for the client's own skew estimate)"),
		opt("caps", "Caps", tList(tID, ruleNone), "the capabilities of `Hello.caps` this session uses; absent: none (an older server never sends it)"),
	)
	joinedBody = newRecord[Joined]("Joined", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
		req("role", "Role", tRole, "`read` (receive only), `write` (all but lock toggles), `admin` (all)"),
		req("ctx", "Context", tDelta, "server's causal context (§7.4)"),
		req("roster", "Roster", tList(tRecord(rosterEntryRecord), ruleNone), "the sessions present, this one included"),
		req("chunks", "CatchUpChunks", tUint, "number of CatchUp frames that follow"),
		opt("epoch", "Epoch", tID, "this incarnation of the room: every load of the workflow, on any node, gets a new one (§9 receipts)"),
		opt("seq", "Seq", tUint, "the room's relay sequence at this join: every later `RemoteDelta` has a greater `seq`"),
		opt("stable", "Stable", tUint, "durable mark: relayed frames of `epoch` with `seq` up to this are durable, and so is this catch-up when `stable` equals `seq`"),
	)
	catchUpBody = newRecord[CatchUp]("CatchUp", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
		req("seq", "Seq", tUint, "chunk number, from 0"),
		req("last", "Last", tBool, "true on the final chunk"),
		req("d", "Delta", tDelta, "a delta (§7): merge it"),
		opt("rk", "Receipt.KeyID", tID, "receipt: the key id the server's MAC over `wf` and `d` was made with (§9 receipts)"),
		opt("rm", "Receipt.MAC", tBin, "receipt: the MAC, 16 bytes"),
	)
	appliedBody = newRecord[Applied]("Applied", "", ruleNone,
		req("op", "OpID", tID, "op id merged in memory and relayed (not yet durable)"),
	)
	durableBody = newRecord[Durable]("Durable", "", ruleNone,
		req("ops", "OpIDs", tList(tID, ruleNonEmpty), "op ids now covered by a committed write; drop them from the outbox"),
	)
	nackBody = newRecord[Nack]("Nack", "", ruleNone,
		req("op", "OpID", tID, "the refused op id; nothing of it was merged, relayed or stored"),
		req("code", "Code", tCode, "error code (§5)"),
		opt("msg", "Message", tText(MaxTextBytes), "human-readable detail (not for parsing)"),
		req("retry", "Retryable", tBool, "whether resending the same op later may succeed. **Authoritative**, also for codes the client does not know."),
	)
	remoteDeltaBody = newRecord[RemoteDelta]("RemoteDelta", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
		req("d", "Delta", tDelta, "a delta (§7): merge it. Under load it is the join of several sessions' deltas (possibly including your own, which merge harmlessly)"),
		req("from", "Origin", tRecord(originRecord), "who wrote it; for a joined delta, its last author"),
		opt("seq", "Seq", tUint, "the frame's relay sequence in the room's epoch (`Joined.epoch`), from 1"),
		opt("rk", "Receipt.KeyID", tID, "receipt: the key id the server's MAC over `wf` and `d` was made with (§9 receipts)"),
		opt("rm", "Receipt.MAC", tBin, "receipt: the MAC, 16 bytes"),
	)
	presenceUpdateBody = newRecord[PresenceUpdate]("PresenceUpdate", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
		req("sid", "SessionID", tID, "session whose presence this is"),
		req("uid", "UserID", tID, "its user id"),
		opt("name", "Name", tText(MaxTextBytes), "user's display name"),
		opt("avatar", "Avatar", tText(MaxTextBytes), "avatar URL"),
		opt("cur", "Cursor", tRecordOrNil(pointRecord), "as in Presence (always written by this implementation, nil when none)"),
		opt("sel", "Selection", tRecord(selectionRecord), "as in Presence"),
		opt("txt", "Caret", tRecord(textCaretRecord), "as in Presence"),
	)
	rosterBody = newRecord[Roster]("Roster", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
		req("entries", "Entries", tList(tRecord(rosterEntryRecord), ruleNone), "the sessions present"),
	)
	dragUpdateBody = newRecord[DragUpdate]("DragUpdate", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
		req("sid", "SessionID", tID, "sender's session id"),
		req("uid", "UserID", tID, "sender's user id"),
		req("pos", "Positions", tDict("block id", pointRecord), "as in Drag"),
	)
	eventBody = newRecord[Event]("Event", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
		req("kind", "Kind", tID, "`workflow-deleted` (room closed: stop editing, drop the outbox for it), `workflow-updated` (changed outside the editor; the change arrives as RemoteDelta: the room re-reads the store when it sends this), `workflow-reverted` (reverted to an earlier state: the deployed one, or a checkpoint the admin API restored, the message naming it; deltas follow, as for `workflow-updated`), `workflow-deployed` (informational), `access-revoked` (this session was removed from the room). **Ignore unknown kinds.**"),
		opt("msg", "Message", tText(MaxTextBytes), "human-readable message"),
		req("ts", "TimestampMs", tInt, "Unix ms"),
	)
	errorBody = newRecord[Error]("Error", "", ruleNone,
		req("code", "Code", tCode, "error code (§5)"),
		opt("msg", "Message", tText(MaxTextBytes), "human-readable detail"),
		req("retry", "Retryable", tBool, "authoritative retry flag"),
		opt("wf", "WorkflowID", tID, "the workflow concerned (e.g. a refused Join)"),
	)
	acksBody = newRecord[Acks]("Acks", "", ruleNone,
		opt("ap", "Applied", tList(tID, ruleNone), "op ids merged in memory and relayed, in the order they were answered: an `Applied` for each"),
		opt("du", "Durable", tList(tID, ruleNone), "op ids now covered by a committed write, as a `Durable` listing them; applies after `ap`"),
	)
	stableBody = newRecord[Stable]("Stable", "", ruleNone,
		req("wf", "WorkflowID", tID, "workflow id"),
		req("epoch", "Epoch", tID, "the room incarnation (`Joined.epoch`) the mark belongs to"),
		req("seq", "Seq", tUint, "relayed frames of `epoch` with `seq` up to this are durable"),
	)
)

// frameSchemas lists every frame type, in type order; frameByType indexes
// it. A frame type not listed here is unknown to Decode.
var (
	frameSchemas = []frameSchema{
		newFrameSchema[Hello](FrameHello, helloBody),
		newFrameSchema[Join](FrameJoin, joinBody),
		newFrameSchema[Leave](FrameLeave, leaveBody),
		newFrameSchema[Delta](FrameDelta, deltaBody),
		newFrameSchema[Operation](FrameOperation, operationBody),
		newFrameSchema[Presence](FramePresence, presenceBody),
		newFrameSchema[Drag](FrameDrag, dragBody),
		newFrameSchema[Vouch](FrameVouch, vouchBody),
		newFrameSchema[Welcome](FrameWelcome, welcomeBody),
		newFrameSchema[Joined](FrameJoined, joinedBody),
		newFrameSchema[CatchUp](FrameCatchUp, catchUpBody),
		newFrameSchema[Applied](FrameApplied, appliedBody),
		newFrameSchema[Durable](FrameDurable, durableBody),
		newFrameSchema[Nack](FrameNack, nackBody),
		newFrameSchema[RemoteDelta](FrameRemoteDelta, remoteDeltaBody),
		newFrameSchema[PresenceUpdate](FramePresenceUpdate, presenceUpdateBody),
		newFrameSchema[Roster](FrameRoster, rosterBody),
		newFrameSchema[DragUpdate](FrameDragUpdate, dragUpdateBody),
		newFrameSchema[Event](FrameEvent, eventBody),
		newFrameSchema[Error](FrameError, errorBody),
		newFrameSchema[Stable](FrameStable, stableBody),
		newFrameSchema[Acks](FrameAcks, acksBody),
	}
	frameByType [256]*frameSchema
)

func init() {
	for i := range frameSchemas {
		s := &frameSchemas[i]
		if frameByType[s.typ] != nil || s.body.name != s.typ.String() {
			panic("protocol: frame schema for " + s.typ.String() + " is listed twice or misnamed")
		}
		s.body.resolve()
		frameByType[s.typ] = s
	}
}

// newFrame returns a zero frame of type t, or nil for an unknown type.
func newFrame(t FrameType) Frame {
	if s := frameByType[t]; s != nil {
		return s.new()
	}
	return nil
}
