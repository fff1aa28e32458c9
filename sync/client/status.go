package client

import "fmt"

// State is the connection state of a Client. It starts at 1 so that an unset
// State is detectable.
type State uint8

const (
	// StateOffline: not connected (before Run, or between two connections
	// while waiting out the backoff).
	StateOffline State = 1 + iota
	// StateConnecting: dialing, or exchanging Hello/Welcome.
	StateConnecting
	// StateJoining: Join sent; waiting for Joined and the catch-up.
	StateJoining
	// StateLive: joined and caught up; local edits are sent as they happen.
	StateLive
	// StateClosed: Close was called, Run returned, or the server closed
	// with a terminal code.
	StateClosed
	// StateDeleted: the workflow was deleted. The outbox was dropped, edits
	// are refused (ErrWorkflowDeleted) and Run has returned or is returning.
	StateDeleted
)

var stateNames = [...]string{"", "offline", "connecting", "joining", "live", "closed", "deleted"}

func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Status is a snapshot of the client's connection and outbox, the shape an
// editor's "saved / saving / offline / refused" indicator needs.
type Status struct {
	State State
	// Pending counts local deltas not yet durable on the server (the outbox).
	Pending int
	// Unacked counts the outbox entries the server has not even applied
	// (sent on this connection or waiting to be sent).
	Unacked int
	// Rejected counts local edits the server refused for good since the
	// last Reset (see Client.Rejected): the server will never have them.
	Rejected int
	// Attempt counts failed connection attempts since the last successful
	// join (0 while live).
	Attempt int
}

// Saved reports whether every local edit is durable on the server: none
// pending, none refused, and the workflow not deleted.
func (s Status) Saved() bool { return s.Pending == 0 && s.Rejected == 0 && s.State != StateDeleted }

// String renders the status as an editor indicator would: "saved",
// "saving (n)", "offline (n pending)", "deleted", with ", n refused"
// appended while refused edits are kept.
func (s Status) String() string {
	var out string
	switch {
	case s.State == StateDeleted:
		return "deleted"
	case s.State == StateLive && s.Pending == 0 && s.Rejected == 0:
		return "saved"
	case s.State == StateLive && s.Pending == 0:
		out = "live"
	case s.State == StateLive:
		out = fmt.Sprintf("saving (%d)", s.Pending)
	case s.Pending == 0:
		out = s.State.String()
	default:
		out = fmt.Sprintf("%s (%d pending)", s.State, s.Pending)
	}
	if s.Rejected > 0 {
		out += fmt.Sprintf(", %d refused", s.Rejected)
	}
	return out
}
