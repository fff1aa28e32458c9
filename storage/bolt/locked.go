package bolt

import (
	"errors"
	"fmt"
)

// ErrLocked is wrapped by the error Open returns when another process
// holds the database file's lock for longer than Config.OpenTimeout.
var ErrLocked = errors.New("bolt: database file locked by another process")

// LockedError is Open's error for a file another process holds: bbolt
// lets one process at a time open a file, and waits for the lock without
// saying who has it.
type LockedError struct {
	// Path is the file's absolute path (as given when it cannot be made
	// absolute).
	Path string
	// Holder names the process holding the lock ("pid 1234 (flowsync)"),
	// when the system says (Linux: /proc/locks); empty otherwise.
	Holder string
	// Err is bbolt's error.
	Err error
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.Holder != "" {
		who = "another process, " + e.Holder + ","
	}
	return fmt.Sprintf("bolt: %s is in use: %s holds its lock (a flowsync server, or a tool such as bbolt, has the file open); stop that process, or use another file", e.Path, who)
}

// Is reports ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Unwrap returns bbolt's error.
func (e *LockedError) Unwrap() error { return e.Err }
