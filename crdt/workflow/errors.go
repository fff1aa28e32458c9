package workflow

import "errors"

// Errors returned by operations. They are wrapped with detail (which block,
// which field); test with errors.Is. A failed operation returns no delta and
// changes nothing.
var (
	// ErrInvalid: the operation's input is malformed (a missing id, a value of
	// the wrong type, an unknown operation).
	ErrInvalid = errors.New("workflow: invalid operation")
	// ErrUnknownBlock: the block is not in the document (never added, or
	// removed).
	ErrUnknownBlock = errors.New("workflow: unknown block")
	// ErrUnknownEdge: the edge is not in the document.
	ErrUnknownEdge = errors.New("workflow: unknown edge")
	// ErrUnknownVariable: the variable is not in the document.
	ErrUnknownVariable = errors.New("workflow: unknown variable")
	// ErrExists: an add names an id that is already present.
	ErrExists = errors.New("workflow: already exists")
	// ErrLocked: the block is locked, or sits under a locked container; only
	// lock toggles may touch it.
	ErrLocked = errors.New("workflow: block is locked")
	// ErrNameConflict: the normalized name is empty, reserved (loop, parallel,
	// variable) or used by another block.
	ErrNameConflict = errors.New("workflow: name conflict")
	// ErrEdgeRejected: the edge breaks a graph rule (self-loop, duplicate,
	// cycle, scope boundary, note block, trigger target, locked target).
	ErrEdgeRejected = errors.New("workflow: edge rejected")
	// ErrNotContainer: a parent or subflow target is not a loop or parallel
	// block.
	ErrNotContainer = errors.New("workflow: not a loop or parallel container")
	// ErrPrecondition: a compare-and-set expected value does not match the
	// current one.
	ErrPrecondition = errors.New("workflow: precondition failed")
	// ErrNoEffect: every target of a batch was skipped (unknown or locked), so
	// there is nothing to send.
	ErrNoEffect = errors.New("workflow: operation has no effect")
)
