// Package testutil holds the helpers that tests of several packages share
// when they must wait on real goroutines, sockets or servers that a
// testing/synctest bubble cannot fake. It is imported by tests only and must
// never be imported by a server or library package.
package testutil

import (
	"testing"
	"time"
)

// DefaultWait is how long WaitFor waits: long enough for a loaded CI machine
// running -race, short enough that a hang fails the test, not the run.
const DefaultWait = 10 * time.Second

// pollEvery is how often a condition is checked.
const pollEvery = 5 * time.Millisecond

// WaitFor checks cond until it holds and fails the test, naming what it
// waited for, if it does not hold within DefaultWait.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitWithin(t, DefaultWait, what, cond)
}

// WaitWithin is WaitFor with a timeout of d.
func WaitWithin(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return WaitReason(t, d, what, func() string {
		if cond() {
			return ""
		}
		return "not yet"
	})
}

// WaitReason checks until check returns "" and fails the test with the
// last reason check gave if that does not happen within d. It returns how
// long it waited.
func WaitReason(t testing.TB, d time.Duration, what string, check func() (why string)) time.Duration {
	t.Helper()
	start := time.Now()
	why := check()
	if why == "" {
		return 0
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-deadline.C:
			if why = check(); why != "" {
				t.Fatalf("timed out after %v waiting for %s: %s", d, what, why)
			}
			return time.Since(start)
		}
		if why = check(); why == "" {
			return time.Since(start)
		}
	}
}
