//go:build !linux

package workflow

import (
	"testing"
	"time"
)

// threadCPU is measured on Linux only: here it reads the process's CPU.
func threadCPU(tb testing.TB) time.Duration { return procCPU(tb) }
