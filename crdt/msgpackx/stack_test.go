package msgpackx

import (
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
)

// stackPerGoroutine runs f on n goroutines that then park, and returns the
// stack bytes each holds: the starting stack, or the larger one a frame
// past it made the runtime copy to. The collector is off meanwhile so that
// it shrinks no stack. The process's stack use is what is read, so another
// goroutine that grows its stack meanwhile (the test runner's, the race
// detector's) adds to it: the least of three measures is taken, since such
// noise only ever adds.
func stackPerGoroutine(n int, f func()) float64 {
	least := stackPerGoroutineOnce(n, f)
	for range 2 {
		least = min(least, stackPerGoroutineOnce(n, f))
	}
	return least
}

func stackPerGoroutineOnce(n int, f func()) float64 {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var ready sync.WaitGroup
	release := make(chan struct{})
	ready.Add(n)
	for range n {
		go func() {
			f()
			ready.Done()
			<-release
		}()
	}
	ready.Wait()
	runtime.ReadMemStats(&after)
	close(release)
	return float64(after.StackInuse-before.StackInuse) / float64(n)
}

// TestDeepValueWalksInAFixedStack checks a value nested 60 levels deep (as
// deep as Check lets through) on fresh goroutines: the walkers keep their
// own fixed stacks, so a goroutine ends with at most 4 KiB of stack, where a
// walk that recursed once per level needed 32.
func TestDeepValueWalksInAFixedStack(t *testing.T) {
	var v []byte
	for range 60 {
		v = append(v, 0x81, 0xa1, 'k') // {"k": ...
	}
	v = append(v, 0x01)
	lim := Limits{MaxDepth: 64}
	if err := CheckCanonical(v, lim); err != nil {
		t.Fatal(err)
	}
	per := stackPerGoroutine(200, func() {
		if err := CheckCanonical(v, lim); err != nil {
			panic(err)
		}
	})
	t.Logf("%.0f stack bytes per goroutine", per)
	if per > 4096 {
		t.Fatalf("CheckCanonical of a 60-level value left %.0f stack bytes per goroutine, want at most 4096", per)
	}
}
