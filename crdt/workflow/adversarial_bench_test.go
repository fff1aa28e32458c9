package workflow_test

import (
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/crdt/workflow/workflowtest"
)

// Adversarial deltas: the largest a client may send (DeltaLimits, 1 MiB),
// shaped to make decoding and merging as costly as possible
// (workflowtest.AdversarialDeltas), merged into a
// realistic 1,000-block document. Each iteration decodes the delta and
// merges it into a fresh copy of the document; the copy is made with the
// timer stopped. Goal: ≤ 10 ms each.
//
//	go test -run XXX -bench Adversarial -benchtime 20x ./crdt/workflow

func BenchmarkAdversarialDelta(b *testing.B) {
	base, ids := workflow.BuildBenchDoc(b, 1000)
	for _, c := range workflowtest.AdversarialDeltas(b, base, ids, "evil", workflow.BenchWall) {
		b.Run(c.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(c.Delta)), "delta-bytes")
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				doc := c.Doc.Clone()
				before := cpuTime(b)
				b.StartTimer()
				d, err := workflow.Decode(c.Delta, workflow.DeltaLimits)
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
	}
}
