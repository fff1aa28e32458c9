package memory_test

import (
	"fmt"
	"testing"

	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/storage/storagetest"
)

// go test -run '^$' -bench . -benchmem ./storage/memory
//
// The in-memory store does no I/O, so this is the cost an Append adds on
// top of the write itself: what the store does with each delta.
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			s := memory.New()
			defer s.Close()
			storagetest.BenchAppend(b, s, n)
		})
	}
}

// BenchmarkSnapshotTrim: a snapshot over 200 rows its caller wrote, named
// (held=true: trimmed unread) or not.
func BenchmarkSnapshotTrim(b *testing.B) {
	for _, held := range []bool{false, true} {
		b.Run(fmt.Sprintf("held=%v", held), func(b *testing.B) {
			s := memory.New()
			defer s.Close()
			storagetest.BenchSnapshotTrim(b, s, 200, held)
		})
	}
}
