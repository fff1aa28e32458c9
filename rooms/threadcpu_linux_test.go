//go:build linux

package rooms

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used so far
// (its goroutine's work and the garbage collection it assisted with, not
// the collector's background workers), or 0 when it cannot be read. The
// goroutine must be locked to its thread (runtime.LockOSThread).
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
