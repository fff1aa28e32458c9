package testutil

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fatalTB records the first Fatalf and ends the goroutine, as testing.T
// does, so a test can check that a wait fails.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// runWait runs fn with a fatalTB on its own goroutine and returns the
// failure message ("" when fn returned normally).
func runWait(fn func(tb testing.TB)) string {
	f := &fatalTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

func TestWaitProgressSlowButSteady(t *testing.T) {
	// Work that takes well over stall in total but shrinks within every
	// stall window is waited for.
	left := 8
	msg := runWait(func(tb testing.TB) {
		WaitProgress(tb, 60*time.Millisecond, time.Minute, "steady", func() (int, string) {
			time.Sleep(15 * time.Millisecond)
			if left == 0 {
				return 0, ""
			}
			left--
			return left + 1, "not yet"
		})
	})
	if msg != "" || left != 0 {
		t.Fatalf("steady progress failed (left %d): %s", left, msg)
	}
}

func TestWaitProgressStall(t *testing.T) {
	msg := runWait(func(tb testing.TB) {
		WaitProgress(tb, 50*time.Millisecond, time.Minute, "stuck", func() (int, string) { return 3, "three missing" })
	})
	if !strings.Contains(msg, "no progress") || !strings.Contains(msg, "three missing") {
		t.Fatalf("a stall is not reported as one: %q", msg)
	}
}

func TestWaitProgressNothingLeftButDifferent(t *testing.T) {
	// Everything delivered yet not equal is a failure, not progress.
	msg := runWait(func(tb testing.TB) {
		WaitProgress(tb, 50*time.Millisecond, time.Minute, "equal", func() (int, string) { return 0, "views differ" })
	})
	if !strings.Contains(msg, "no progress") {
		t.Fatalf("remaining 0 with a difference did not fail: %q", msg)
	}
}

func TestWaitProgressLivelock(t *testing.T) {
	// Shrinking forever without finishing fails at most.
	n := 1 << 30
	msg := runWait(func(tb testing.TB) {
		WaitProgress(tb, time.Minute, 100*time.Millisecond, "livelock", func() (int, string) {
			n--
			return n, "churning"
		})
	})
	if !strings.Contains(msg, "timed out after") {
		t.Fatalf("a livelock is not bounded: %q", msg)
	}
}
