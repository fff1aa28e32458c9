//go:build !linux

package rooms

import "time"

// threadCPU is read on Linux only; elsewhere turns are timed by the wall
// clock (see BenchmarkLongestTurn).
func threadCPU() time.Duration { return 0 }
