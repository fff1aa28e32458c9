package bolt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/flowsync/flowsync/storage/storagetest"
)

// go test -run '^$' -bench . -benchmem ./storage/bolt

func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			s := open(b, filepath.Join(b.TempDir(), "flowsync.db"))
			defer s.Close()
			storagetest.BenchAppend(b, s, n)
		})
	}
}

func BenchmarkColdLoad(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "flowsync.db"))
	defer s.Close()
	want := storagetest.PrepareColdLoad(b, s, "big", 10_000, 10_000)
	storagetest.BenchColdLoad(b, s, "big", want)
}

// BenchmarkSnapshot writes a snapshot of a 10,000-block document whose
// stored state already equals it (the steady state: join, encode, write).
func BenchmarkSnapshot(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "flowsync.db"))
	defer s.Close()
	doc, _ := storagetest.BigDoc(b, 10_000, 0)
	ctx := context.Background()
	if _, err := s.Snapshot(ctx, "big", doc); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Snapshot(ctx, "big", doc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Stats().SnapshotBytes), "snapshot-bytes")
}

// BenchmarkSnapshotTrim: a snapshot over 200 rows its caller wrote, named
// (held=true: trimmed unread) or not.
func BenchmarkSnapshotTrim(b *testing.B) {
	for _, held := range []bool{false, true} {
		b.Run(fmt.Sprintf("held=%v", held), func(b *testing.B) {
			s := open(b, filepath.Join(b.TempDir(), "flowsync.db"))
			defer s.Close()
			storagetest.BenchSnapshotTrim(b, s, 200, held)
		})
	}
}
