//go:build linux

package workflow

import (
	"syscall"
	"testing"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used so far:
// the caller's own work and the garbage collection it was made to assist
// with, not the collector's background workers on other threads. Lock the
// goroutine to its thread (runtime.LockOSThread) for the readings to
// belong to one goroutine.
func threadCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
