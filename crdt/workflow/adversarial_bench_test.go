package workflow_test

import (
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/crdt/workflow/workflowtest"
)

// Adversarial deltas (workflowtest.AdversarialDeltas), merged into a
// realistic 1,000-block document. For each shape, "admit" decodes the
// largest delta DecodeDelta admits (DeltaLimits and DeltaCaps) and merges
// it into a fresh copy of the document, made with the timer stopped;
// "refuse" decodes the 1 MiB delta of the shape, which a cap refuses.
// Goal: ≤ 10 ms each.
//
//	go test -run XXX -bench Adversarial -benchtime 20x ./crdt/workflow
func BenchmarkAdversarialDelta(b *testing.B) {
	base, ids := workflow.BuildBenchDoc(b, 1000)
	for _, c := range workflowtest.AdversarialDeltas(b, base, ids, "evil", workflow.BenchWall) {
		b.Run(c.Name+"/admit", func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(c.Delta)), "delta-bytes")
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				doc := c.Doc.Clone()
				before := cpuTime(b)
				b.StartTimer()
				d, err := workflow.DecodeDelta(c.Delta)
				if err != nil {
					b.Fatal(err)
				}
				doc.Merge(d)
				b.StopTimer()
				cpu += cpuTime(b) - before
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
		})
		if c.Refused == nil {
			continue
		}
		b.Run(c.Name+"/refuse", func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(c.Refused)), "delta-bytes")
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				before := cpuTime(b)
				b.StartTimer()
				if _, err := workflow.DecodeDelta(c.Refused); !workflow.IsOverCap(err) {
					b.Fatalf("refused shape: %v", err)
				}
				b.StopTimer()
				cpu += cpuTime(b) - before
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
		})
	}
}
