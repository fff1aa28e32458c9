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
)

var stateNames = [...]string{"", "offline", "connecting", "joining", "live", "closed"}

func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Status is a snapshot of the client's connection and outbox, the shape an
// editor's "saved / saving / offline" indicator needs.
type Status struct {
	State State
	// Pending counts local deltas not yet durable on the server (the outbox).
	Pending int
	// Unacked counts the outbox entries the server has not even applied
	// (sent on this connection or waiting to be sent).
	Unacked int
	// Attempt counts failed connection attempts since the last successful
	// join (0 while live).
	Attempt int
}

// Saved reports whether every local edit is durable on the server.
func (s Status) Saved() bool { return s.Pending == 0 }

// String renders the status as an editor indicator would: "saved",
// "saving (n)", or "offline (n pending)".
func (s Status) String() string {
	switch {
	case s.State == StateLive && s.Pending == 0:
		return "saved"
	case s.State == StateLive:
		return fmt.Sprintf("saving (%d)", s.Pending)
	case s.Pending == 0:
		return s.State.String()
	}
	return fmt.Sprintf("%s (%d pending)", s.State, s.Pending)
}
