//go:build unix

package workflow

import (
	"syscall"
	"testing"
	"time"
)

// procCPU returns the CPU time the process has used so far, the garbage
// collector's included.
func procCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
