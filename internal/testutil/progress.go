package testutil

import (
	"testing"
	"time"
)

// WaitProgress checks until check reports nothing left to do. check returns
// how much work remains (a count that shrinks as the system converges, such
// as operations some replica still lacks) and why it is not done yet.
//
// Unlike WaitReason it does not bound the total wait by a fixed wall time:
// on a loaded machine under -race the system under test may get a small
// share of a core, and a fixed deadline then fails a test that is only
// slow. It fails instead when remaining has not shrunk for stall (nothing
// is being delivered: a lost message or a hang), or when done is not
// reached within most (a livelock that keeps shrinking and growing).
// Remaining == 0 with a non-empty why (everything delivered, yet the states
// differ) is not progress either, so such a bug fails after stall.
func WaitProgress(t testing.TB, stall, most time.Duration, what string, check func() (remaining int, why string)) time.Duration {
	t.Helper()
	start := time.Now()
	left, why := check()
	if why == "" {
		return 0
	}
	best, lastGain := left, start
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for range tick.C {
		left, why = check()
		if why == "" {
			return time.Since(start)
		}
		now := time.Now()
		if left < best {
			best, lastGain = left, now
		}
		switch {
		case now.Sub(lastGain) > stall:
			t.Fatalf("no progress for %v waiting for %s (%d left after %v): %s",
				stall, what, left, now.Sub(start).Round(time.Millisecond), why)
		case now.Sub(start) > most:
			t.Fatalf("timed out after %v waiting for %s (%d left, still shrinking): %s", most, what, left, why)
		}
	}
	panic("unreachable")
}
