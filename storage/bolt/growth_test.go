package bolt_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowsync/flowsync/storage/storagetest"
)

// BenchmarkLogGrowth plays b.N edits of sustained editing into the store
// (storagetest.Growth: 10 workflows, each writing every 10 ms the 10
// operations made meanwhile — 10,000 ops/s — and snapshotting every 10 s)
// and reports the database file's size at the end and at its largest
// (bbolt reuses freed pages but never shrinks the file) and the rows
// written; rows=per-op is the layout before batch rows, rows=per-write
// the current one.
//
//	nice -n 10 go test -run '^$' -bench LogGrowth -benchtime 1000000x -timeout 30m ./storage/bolt
func BenchmarkLogGrowth(b *testing.B) {
	for _, perOp := range []bool{true, false} {
		name := "rows=per-write"
		if perOp {
			name = "rows=per-op"
		}
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "flowsync.db")
			s := open(b, path)
			defer s.Close()
			size := func() int64 {
				fi, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				return fi.Size()
			}
			var maxSize int64
			g := storagetest.Growth{Edits: b.N, Workflows: 10, OpsPerWrite: 10, Interval: 10 * time.Millisecond,
				SnapshotEvery: 10 * time.Second, Blocks: 4, PerOperation: perOp}
			b.ResetTimer()
			st := storagetest.PlayGrowth(b, s, g, max(b.N/20, 1), func(int64) { maxSize = max(maxSize, size()) })
			b.StopTimer()
			end := size()
			b.ReportMetric(float64(st.Rows), "rows-written")
			b.ReportMetric(float64(st.Writes), "writes")
			b.ReportMetric(float64(end)/1024, "file-KiB")
			b.ReportMetric(float64(max(maxSize, end))/1024, "file-max-KiB")
			b.ReportMetric(float64(st.PayloadBytes)/float64(st.Edits), "payload-B/op")
		})
	}
}
