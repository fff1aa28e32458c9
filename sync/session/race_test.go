//go:build race

package session_test

// raceDetector: the race detector grows goroutine stacks (its
// instrumentation makes frames larger), so stack bounds do not apply.
const raceDetector = true
