package cluster

import "errors"

// Sentinel errors. Methods wrap them with detail; test with errors.Is.
var (
	// ErrClosed is returned by every method of a closed Node.
	ErrClosed = errors.New("cluster: node closed")
	// ErrInvalidID is returned for a workflow or node id that is empty,
	// longer than MaxIDLength, not valid UTF-8 or holding control
	// characters.
	ErrInvalidID = errors.New("cluster: invalid id")
	// ErrDeleted is returned by Host for a workflow Local
	// reports deleted.
	ErrDeleted = errors.New("cluster: workflow deleted")
	// ErrInvalidConfig is returned by New for a Config that fails
	// validation; the message names the field.
	ErrInvalidConfig = errors.New("cluster: invalid config")
)
