package webhook

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkDeliveries measures queued-to-acknowledged deliveries per
// second against a local receiver that answers 200 at once: the cost is
// the queue file's two commits per event (queue, then remove once
// delivered), the signing and the HTTP round trip. b.N events are queued
// from 8 goroutines (as admin requests would) and the timer stops when the
// receiver has every one.
func BenchmarkDeliveries(b *testing.B) {
	var got atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
	}))
	defer rc.Close()
	d, err := Open(Config{URLs: []string{rc.URL}, Secret: testSecret, QueuePath: filepath.Join(b.TempDir(), "q.db"),
		MaxQueue: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(b.Context())
	b.ResetTimer()
	var next atomic.Int64
	b.SetParallelism(4) // 4 × GOMAXPROCS queueing goroutines
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := d.Lifecycle("wf", TypeUpdated, ""); err != nil {
				b.Error(err)
			}
			next.Add(1)
		}
	})
	for got.Load() < next.Load() {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
