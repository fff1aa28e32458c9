package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/storage/storagetest"
)

// go test -run '^$' -bench . -benchmem ./storage/postgres   (Postgres at pgtest.BaseURL)

func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			s := open(b, pgtest.Schema(b))
			defer s.Close()
			storagetest.BenchAppend(b, s, n)
			st := s.Stats()
			b.ReportMetric(float64(st.Transactions)*1000/float64(st.DeltasAppended), "tx/1000deltas")
			b.ReportMetric(float64(st.Statements)*1000/float64(st.DeltasAppended), "stmts/1000deltas")
			b.ReportMetric(float64(st.BytesWritten)/float64(st.DeltasStored), "B/delta")
		})
	}
}

func BenchmarkColdLoad(b *testing.B) {
	s := open(b, pgtest.Schema(b))
	defer s.Close()
	want := storagetest.PrepareColdLoad(b, s, "big", 10_000, 10_000)
	storagetest.BenchColdLoad(b, s, "big", want)
}

func BenchmarkSnapshot(b *testing.B) {
	s := open(b, pgtest.Schema(b))
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
			s := open(b, pgtest.Schema(b))
			defer s.Close()
			storagetest.BenchSnapshotTrim(b, s, 200, held)
		})
	}
}
