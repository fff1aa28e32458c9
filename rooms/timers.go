package rooms

import "time"

// A room's timers (retry, idle, snapshot, linger, refresh) are made at
// their first use rather than when the room starts: most rooms of a node
// are quiet, and five stopped timers with their channels cost about 1.2
// KiB per room whether they ever fire or not. A nil timer is disarmed; the
// loop selects on its channel only while its armed flag is set.

// armTimer makes *t fire after d, creating it at its first use.
func armTimer(t **time.Timer, d time.Duration) {
	if *t == nil {
		*t = time.NewTimer(d)
		return
	}
	(*t).Reset(d)
}

// stopTimer stops t if it was ever made.
func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}
