package client

import (
	"errors"
	"fmt"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Sentinel errors.
var (
	// ErrConfig wraps every error of New about an invalid Config.
	ErrConfig = errors.New("client: invalid config")
	// ErrClosed is returned by Run after Close, and by Apply and the
	// presence methods on a closed Client.
	ErrClosed = errors.New("client: closed")
	// ErrRunning is returned by Run when another Run of the same Client has
	// not returned yet.
	ErrRunning = errors.New("client: already running")
	// ErrDeltaTooLarge is returned by Apply when an operation's delta is
	// larger than the server's delta limit; the local document is unchanged.
	ErrDeltaTooLarge = errors.New("client: delta too large")
	// ErrWorkflowDeleted is returned by Apply and Reset once the client
	// learned that its workflow was deleted (a workflow-deleted event, a
	// Join refused with WORKFLOW_DELETED, close 4503, or a deletion recorded
	// in Config.Dir), and wrapped by the error Run returns then.
	ErrWorkflowDeleted = errors.New("client: workflow deleted")
	// ErrDirLocked is returned by New when another Client, in this process
	// or another, has Config.Dir open; the message says which process.
	ErrDirLocked = errors.New("client: directory in use")
	// ErrStorage wraps failures to read or write Config.Dir. After a write
	// failed, Apply returns it for good: the client can no longer promise
	// that an edit it accepts survives a crash. Close the Client and open
	// the directory again.
	ErrStorage = errors.New("client: local storage failed")
)

// CloseError is how Run reports a connection the server closed with a
// terminal code (Code.ShouldReconnect() is false): authentication failed,
// access revoked, workflow deleted, unsupported protocol version, invalid
// frames, message too big, policy violation. Run does not reconnect after
// one; the user or the program must act first (new token, upgrade, …).
type CloseError struct {
	Code   protocol.CloseCode
	Reason string
	// Last is the Error frame the server sent just before closing, if any
	// (e.g. AUTHENTICATION_FAILED before 4500). Unwrap returns it.
	Last *protocol.Error
}

func (e *CloseError) Error() string {
	s := fmt.Sprintf("client: connection closed with %d (%s)", int(e.Code), e.Code)
	if e.Reason != "" && e.Reason != e.Code.String() {
		s += ": " + e.Reason
	}
	if e.Last != nil {
		s += ": " + e.Last.Error()
	}
	return s
}

// Unwrap returns the last Error frame, if any.
func (e *CloseError) Unwrap() error {
	if e.Last == nil {
		return nil
	}
	return e.Last
}

// RejectError reports one edit the server refused for good (a Nack whose
// retry flag is false: FORGED_DOT, CLOCK_SKEW, PERMISSION_DENIED,
// BLOCK_LOCKED, INVALID_DELTA, TOO_LARGE, …). It is passed to
// Config.OnReject, once per refused edit, and listed by Rejected; the edit
// has left the outbox and counts in Status.Rejected (so the status is not
// "saved") until Reset. Edits sent in the same folded frame are not refused
// with it: the client re-sends them one per frame and the server answers
// each.
//
// The local document still holds the refused writes, which the server will
// never have, and later deltas of this replica may build on them
// (PROTOCOL.md §9). What the caller must do: keep the edits the user still
// wants as operations, call Reset with a new replica id (it discards the
// local state and the outbox and rejoins with an empty context) and
// re-apply those operations on top of the fresh catch-up.
type RejectError struct {
	OpID      string
	Code      protocol.Code
	Message   string
	Delta     *workflow.Doc // the refused delta (shared; do not modify)
	Retryable bool          // always false: retryable Nacks are resent
}

func (e *RejectError) Error() string {
	s := fmt.Sprintf("client: delta %s refused: %s", e.OpID, e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// errNotJoined ends a connection whose room membership the server dropped;
// Run reconnects and joins again.
var errNotJoined = errors.New("client: server says this connection is not joined; rejoining")
