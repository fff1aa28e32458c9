//go:build unix

package storecodec_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage/internal/storecodec"
	"github.com/flowsync/flowsync/storage/storagetest"
)

// BenchmarkColdJoin measures the CPU a cold join of a stored 10,000-block
// workflow (a snapshot frame plus 10,000 typical log rows) costs without
// the store's I/O and the network: stage=load is the Joiner's work (the
// snapshot's inflate and decode, every row's decode and merge), what a
// store's Load does after reading; stage=catchup is the first joiner's
// catch-up encoding of the loaded document (EncodeChunksSize at the
// rooms' default 256 KiB chunk). cpu-ms is the process's user and system
// time per iteration (garbage collection included): on the shared machine
// it varies far less than ns/op. Run it with
//
//	nice go test -run '^$' -bench ColdJoin -benchtime 10x ./storage/internal/storecodec
func BenchmarkColdJoin(b *testing.B) {
	base, log := storagetest.BigDoc(b, 10_000, 10_000)
	frame := storecodec.EncodeSnapshot(base)
	rows := make([][]byte, len(log))
	for i, d := range log {
		rows[i] = d.Bytes()
	}
	load := func(tb testing.TB) *workflow.Doc {
		j := storecodec.NewJoiner(nil)
		if err := j.Snapshot(frame); err != nil {
			tb.Fatal(err)
		}
		for _, r := range rows {
			if err := j.Delta(r); err != nil {
				tb.Fatal(err)
			}
		}
		return j.Doc()
	}
	b.Run("stage=load", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := procCPU(b)
		for b.Loop() {
			load(b)
		}
		b.ReportMetric(float64((procCPU(b)-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms")
	})
	b.Run("stage=catchup", func(b *testing.B) {
		doc := load(b)
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := procCPU(b)
		for b.Loop() {
			chunks, _ := doc.EncodeChunksSize(256 << 10)
			if len(chunks) < 2 {
				b.Fatalf("%d chunks", len(chunks))
			}
		}
		b.ReportMetric(float64((procCPU(b)-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms")
	})
}

// procCPU returns the CPU time the process has used so far.
func procCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
