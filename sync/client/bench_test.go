package client

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// BenchmarkApply measures Apply offline (nothing is sent): in memory, and
// with Config.Dir, where each Apply waits for its fsynced commit; the
// parallel case shows concurrent Applies sharing commits.
//
//	go test -run '^$' -bench Apply -benchtime 2s ./sync/client
func BenchmarkApply(b *testing.B) {
	for _, dir := range []bool{false, true} {
		for _, parallel := range []int{1, 8} {
			b.Run(fmt.Sprintf("dir=%v/goroutines=%d", dir, parallel), func(b *testing.B) {
				cfg := Config{URL: "ws://127.0.0.1:1/v1/sync", ReplicaID: "bench", WorkflowID: "wf-1"}
				if dir {
					cfg.Dir = b.TempDir()
				}
				c, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				for i := range parallel {
					if _, err := c.Apply(addBlock(fmt.Sprint("b", i), fmt.Sprint("Block ", i))); err != nil {
						b.Fatal(err)
					}
				}
				var next atomic.Int64
				b.ReportAllocs()
				b.SetParallelism(parallel)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					id := fmt.Sprint("b", next.Add(1)%int64(parallel))
					x := 0.0
					for pb.Next() {
						x++
						if _, err := c.Apply(workflow.UpdatePosition{ID: id, Position: workflow.Position{X: x, Y: 1}}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
