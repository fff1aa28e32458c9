package protocol

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/flowsync/flowsync/crdt/msgpackx"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// Code is an error code carried by Nack and Error frames. Values are part of
// the wire format: never renumber them. They start at 1 so that an unset code
// is detectable. Ranges group them for readers; clients branch on the value
// (or the stable name from String), and on the frame's own retryable flag,
// which is authoritative: a client that meets a code it does not know still
// knows whether to retry.
//
//	1–9    frame and transport
//	10–19  authentication and authorization
//	20–29  rooms and workflows
//	30–39  operations and deltas (admission)
//	40–49  server condition (retryable)
type Code uint16

const (
	CodeInvalidFrame               Code = 1 // the frame could not be decoded or broke a frame rule
	CodeUnsupportedProtocolVersion Code = 2 // Hello named a version this server does not speak
	CodeTooLarge                   Code = 3 // a frame, delta or value is over the announced limit
	CodeRateLimited                Code = 4 // too many frames or bytes per second; slow down

	CodeAuthenticationRequired Code = 10 // a frame other than Hello arrived before Welcome
	CodeAuthenticationFailed   Code = 11 // the token is invalid
	CodeTokenExpired           Code = 12 // the token expired during the session; reconnect with a fresh one
	CodeAccessDenied           Code = 13 // no read access to the workflow
	CodePermissionDenied       Code = 14 // the role does not allow this operation (read-only, or a lock toggle without admin)
	CodeForgedDot              Code = 15 // the delta holds dots of a replica not bound to this session

	CodeNotJoined       Code = 20 // the frame names a workflow this session has not joined
	CodeUnknownWorkflow Code = 21 // the workflow does not exist
	CodeWorkflowDeleted Code = 22 // the workflow was deleted
	CodeWorkflowLocked  Code = 23 // the workflow (or its folder) is locked
	// CodeReplicaBehind refuses a Join whose context lacks dots of the
	// session's own replica (Hello.rid) that the server holds: the client
	// lost local state and reused its id, so its next dots would repeat ones
	// the server holds with other content. The client takes a new replica
	// id, re-mints its unsent edits under it and joins again.
	CodeReplicaBehind Code = 24
	// CodeBadReceipt refuses a Vouch whose receipt does not check: its key
	// id is unknown here (retired, or another deployment's) or its MAC does
	// not match the workflow and bytes. The client drops that delta.
	CodeBadReceipt Code = 25
	// CodeTooManyRooms refuses a Join over the session's or the user's cap
	// on rooms joined at once: leave a room first (Leave frees the slot).
	CodeTooManyRooms Code = 26

	CodeInvalidOperation   Code = 30 // the operation's input is malformed, or names an unknown operation
	CodeInvalidDelta       Code = 31 // the delta does not decode as a workflow delta
	CodePreconditionFailed Code = 32 // a compare-and-set expectation does not hold
	CodeClockSkew          Code = 33 // the delta's HLC wall time is too far ahead of (or behind) the server's clock
	CodeBlockLocked        Code = 34 // a target block is locked (or under a locked container)
	CodeConflict           Code = 35 // the operation conflicts with the current state (id exists, name taken, edge breaks a graph rule)
	CodeUnknownEntity      Code = 36 // a block, edge or variable the operation names does not exist
	CodeNoEffect           Code = 37 // every target of the operation was skipped; nothing to apply

	CodeOverloaded         Code = 40 // the server is shedding load (queue or memory cap); retry with backoff
	CodeStorageUnavailable Code = 41 // the store is down; retry with backoff
	CodeInternal           Code = 42 // an unexpected server failure; retry with backoff
)

type codeInfo struct {
	name      string
	retryable bool
	doc       string // for docs/PROTOCOL.md §5, generated from this table
}

// codes is the one table of names, retryable flags and meanings. "Retryable"
// means that sending the same request again later, unchanged, may succeed.
var codes = map[Code]codeInfo{
	CodeInvalidFrame:               {"INVALID_FRAME", false, "the frame does not decode or breaks a frame rule (§2)"},
	CodeUnsupportedProtocolVersion: {"UNSUPPORTED_PROTOCOL_VERSION", false, "Hello's `v` is not spoken; upgrade the client"},
	CodeTooLarge:                   {"TOO_LARGE", false, "frame, delta or value over the announced limit"},
	CodeRateLimited:                {"RATE_LIMITED", true, "too many frames or bytes per second; slow down"},
	CodeAuthenticationRequired:     {"AUTHENTICATION_REQUIRED", false, "a frame other than Hello before Welcome"},
	CodeAuthenticationFailed:       {"AUTHENTICATION_FAILED", false, "the token is invalid"},
	CodeTokenExpired:               {"TOKEN_EXPIRED", false, "the token expired mid-session; reconnect with a fresh token"},
	CodeAccessDenied:               {"ACCESS_DENIED", false, "no read access to the workflow"},
	CodePermissionDenied:           {"PERMISSION_DENIED", false, "the role does not allow this (read-only session, or a lock toggle without admin)"},
	CodeForgedDot:                  {"FORGED_DOT", false, "the delta holds dots of a replica not bound to this session (`Hello.rid`)"},
	// Retryable after a Join: the op itself was fine.
	CodeNotJoined:          {"NOT_JOINED", true, "the frame names a workflow not joined; join, then resend"},
	CodeUnknownWorkflow:    {"UNKNOWN_WORKFLOW", false, "no such workflow"},
	CodeWorkflowDeleted:    {"WORKFLOW_DELETED", false, "the workflow was deleted"},
	CodeWorkflowLocked:     {"WORKFLOW_LOCKED", false, "the workflow (or its folder) is locked"},
	CodeBadReceipt:         {"BAD_RECEIPT", false, "a `Vouch`'s receipt does not check (unknown key id, or a MAC that does not match `wf` and `d`): drop that delta (§9)"},
	CodeTooManyRooms:       {"TOO_MANY_ROOMS", false, "a Join over the cap on rooms joined at once by this session or by this user (§10 limits); leave a room first"},
	CodeReplicaBehind:      {"REPLICA_BEHIND", false, "the Join's context lacks dots of the session's own replica (`Hello.rid`) that the server holds: the client lost local state and reused its id; take a new replica id, re-mint the unsent edits under it, join again (§9)"},
	CodeInvalidOperation:   {"INVALID_OPERATION", false, "malformed operation input, unknown operation, or a parent/subflow target that is not a loop/parallel"},
	CodeInvalidDelta:       {"INVALID_DELTA", false, "`d` (or a Join's `ctx`) is not a valid workflow encoding (§7)"},
	CodePreconditionFailed: {"PRECONDITION_FAILED", false, "a compare-and-set expectation does not hold"},
	CodeClockSkew:          {"CLOCK_SKEW", false, "the delta's HLC wall time leads the server clock by more than `lim.skew`, or trails it by more than `lim.lag`"},
	CodeBlockLocked:        {"BLOCK_LOCKED", false, "a target block is locked or inside a locked container"},
	CodeConflict:           {"CONFLICT", false, "id already exists, name taken, or an edge breaks a graph rule"},
	CodeUnknownEntity:      {"UNKNOWN_ENTITY", false, "a named block, edge or variable does not exist"},
	CodeNoEffect:           {"NO_EFFECT", false, "every target of the operation was skipped"},
	CodeOverloaded:         {"OVERLOADED", true, "the server is shedding load"},
	CodeStorageUnavailable: {"STORAGE_UNAVAILABLE", true, "the store is down"},
	CodeInternal:           {"INTERNAL", true, "unexpected server failure"},
}

// Codes returns every defined code in ascending order (for docs and tests).
func Codes() []Code {
	out := make([]Code, 0, len(codes))
	for c := range codes {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// String returns the code's stable name, e.g. "INVALID_FRAME", or
// "CODE_<n>" for a code this build does not know.
func (c Code) String() string {
	if i, ok := codes[c]; ok {
		return i.name
	}
	return "CODE_" + strconv.Itoa(int(c))
}

// Retryable reports whether a request refused with c may succeed if sent
// again later unchanged. Unknown codes are not retryable; on the wire the
// frame's own flag decides.
func (c Code) Retryable() bool { return codes[c].retryable }

// Known reports whether this build defines c.
func (c Code) Known() bool { _, ok := codes[c]; return ok }

// Error is both the Error frame and a Go error: handlers return it, the
// session sends it as is. Build one with NewError so that Retryable follows
// the code's table entry. WorkflowID is set when the error concerns one room
// (a refused Join, say).
type Error struct {
	Code       Code
	Message    string
	Retryable  bool
	WorkflowID string
}

// NewError returns an Error with code's retryable flag.
func NewError(code Code, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Message: msg, Retryable: code.Retryable()}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "protocol: " + e.Code.String()
	}
	return "protocol: " + e.Code.String() + ": " + e.Message
}

// CodeFor maps an error to the code a Nack or Error frame should carry:
//   - a *Error (anywhere in the chain) gives its own code;
//   - every workflow.Err* sentinel maps to the code for its cause;
//   - this package's decode errors give CodeTooLarge or CodeInvalidFrame;
//   - anything else is CodeInternal (retryable: the fault is ours).
//
// Sentinels are checked with errors.Is, so wrapped errors map the same way.
func CodeFor(err error) Code {
	if err == nil {
		return 0
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	switch {
	// Operation admission (crdt/workflow).
	case errors.Is(err, workflow.ErrInvalid), errors.Is(err, workflow.ErrNotContainer):
		return CodeInvalidOperation
	case errors.Is(err, workflow.ErrUnknownBlock), errors.Is(err, workflow.ErrUnknownEdge),
		errors.Is(err, workflow.ErrUnknownVariable):
		return CodeUnknownEntity
	case errors.Is(err, workflow.ErrExists), errors.Is(err, workflow.ErrNameConflict),
		errors.Is(err, workflow.ErrEdgeRejected):
		return CodeConflict
	case errors.Is(err, workflow.ErrLocked):
		return CodeBlockLocked
	case errors.Is(err, workflow.ErrPrecondition):
		return CodePreconditionFailed
	case errors.Is(err, workflow.ErrNoEffect), errors.Is(err, workflow.ErrNothingToUndo):
		return CodeNoEffect
	// Delta decoding (crdt/workflow). A delta over its byte limit is
	// "too large", whatever layer noticed.
	// So is one over a count cap (values, replicas, ranges, value nodes):
	// the same content is admitted cut into several deltas.
	case errors.Is(err, msgpackx.ErrTooLarge), errors.Is(err, ErrTooLarge), workflow.IsOverCap(err):
		return CodeTooLarge
	case errors.Is(err, workflow.ErrMalformed), errors.Is(err, workflow.ErrFormatVersion),
		errors.Is(err, workflow.ErrNotCanonical), errors.Is(err, workflow.ErrOutOfDomain):
		return CodeInvalidDelta
	// Frame decoding (this package).
	case errors.Is(err, ErrInvalidFrame):
		return CodeInvalidFrame
	}
	return CodeInternal
}
