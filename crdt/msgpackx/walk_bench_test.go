package msgpackx

import (
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
)

// benchValue is a field value as editors store them: a small JSON table,
// three levels deep.
func benchValue() []byte {
	rows := make([]any, 8)
	for i := range rows {
		rows[i] = map[string]any{"name": "column", "type": "string", "required": i%2 == 0, "width": 120 + i}
	}
	return MustCanonical(map[string]any{"rows": rows, "version": 3})
}

func BenchmarkCheckCanonical(b *testing.B) {
	v := benchValue()
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if err := CheckCanonical(v, ValueLimits); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckCanonicalFreshGoroutine is CheckCanonical on a new
// goroutine per operation: a walk whose frames outgrow the starting stack
// pays for a stack copy each time.
func BenchmarkCheckCanonicalFreshGoroutine(b *testing.B) {
	v := benchValue()
	done := make(chan error)
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		go func() { done <- CheckCanonical(v, ValueLimits) }()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(stackPerGoroutine(1000, func() { _ = CheckCanonical(v, ValueLimits) }), "stack-B/goroutine")
}

// stackPerGoroutine runs f on n goroutines that then park, and returns the
// stack bytes each holds: the starting stack, or the larger one a frame
// past it made the runtime copy to. The collector is off meanwhile so that
// it shrinks no stack.
func stackPerGoroutine(n int, f func()) float64 {
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
