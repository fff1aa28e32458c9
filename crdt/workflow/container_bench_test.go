package workflow

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
)

// containerDoc is a document holding one loop with n agent blocks inside.
func containerDoc(tb testing.TB, n int) (*Doc, int64) {
	tb.Helper()
	d := New()
	wall := int64(1000)
	apply := func(op Op) {
		wall++
		if _, err := d.Apply(crdt.Timestamp{Wall: wall, Replica: "a"}, op); err != nil {
			tb.Fatal(err)
		}
	}
	apply(AddBlock{Block: BlockInput{ID: "loop", Type: "loop", Name: "Outer loop"}})
	for i := 0; i < n; i += 100 {
		var batch BatchAddBlocks
		for j := i; j < min(i+100, n); j++ {
			batch.Blocks = append(batch.Blocks, BlockInput{ID: fmt.Sprint("c", j), Type: "agent", Name: fmt.Sprint("Child ", j),
				Data: map[string]any{"parentId": "loop", "extent": "parent"}})
		}
		apply(batch)
	}
	return d, wall
}

// BenchmarkRemoveContainer removes a loop holding n blocks (Prepare, with
// the index built, and the merge): the cascade costs what it removes, and
// per child it must not grow with n. It reports µs per child of wall time,
// and of process CPU time (garbage collection included; on a loaded
// machine the wall time counts other processes' turns too) for Prepare
// and for Merge apart.
func BenchmarkRemoveContainer(b *testing.B) {
	for _, n := range []int{1000, 8000} {
		b.Run(fmt.Sprintf("children=%d", n), func(b *testing.B) {
			base, wall := containerDoc(b, n)
			var prep, merge time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				d := base.Clone()
				if _, err := d.Prepare(crdt.Timestamp{Wall: wall + 1, Replica: "a"}, UpdateName{ID: "c1", NewName: "warm"}); err != nil {
					b.Fatal(err) // builds the index outside the timing
				}
				b.StartTimer()
				start := procCPU(b)
				delta, err := d.Prepare(crdt.Timestamp{Wall: wall + 1, Replica: "a"}, RemoveBlock{ID: "loop"})
				if err != nil {
					b.Fatal(err)
				}
				mid := procCPU(b)
				d.Merge(delta)
				end := procCPU(b)
				prep, merge = prep+mid-start, merge+end-mid
			}
			per := float64(b.N) * float64(n)
			b.ReportMetric(float64(b.Elapsed().Microseconds())/per, "µs/child")
			b.ReportMetric(float64(prep.Nanoseconds())/1e3/per, "prepare-cpu-µs/child")
			b.ReportMetric(float64(merge.Nanoseconds())/1e3/per, "merge-cpu-µs/child")
		})
	}
}

// BenchmarkStepMergeRemoval merges the removal of a loop holding n blocks
// in steps of 4,096 values (a room's default step) and reports the CPU
// time of the costliest step (the last one includes the rest of the delta)
// next to that of merging the same delta at once: what one turn of a room
// loop costs with and without steps, measured in CPU so that other
// processes on the machine do not count. max-step-cpu-ms is the process's
// CPU (the garbage collector's background work during the step included,
// though it runs beside the loop on another core); max-step-thread-cpu-ms
// the stepping thread's alone (its assists to the collector included);
// median-step-thread-cpu-ms the typical step.
func BenchmarkStepMergeRemoval(b *testing.B) {
	for _, n := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("children=%d", n), func(b *testing.B) {
			// Each sub-benchmark runs on a goroutine of its own: lock that
			// one, or a thread's CPU readings may be two threads'.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			base, wall := containerDoc(b, n)
			delta, err := base.Prepare(crdt.Timestamp{Wall: wall + 1, Replica: "a"}, RemoveBlock{ID: "loop"})
			if err != nil {
				b.Fatal(err)
			}
			var worst, worstThread, whole time.Duration
			var threadSteps []time.Duration
			steps := 0
			for range b.N {
				b.StopTimer()
				d := base.Clone()
				d.index() // a room's document has its index built
				w := base.Clone()
				w.index()
				b.StartTimer()
				start := procCPU(b)
				w.Merge(delta)
				whole = max(whole, procCPU(b)-start)
				sm := d.StepMerge(delta, 4096)
				for done := false; !done; {
					start, startThread := procCPU(b), threadCPU(b)
					if done = sm.Step(); done {
						sm.Finish()
					}
					t := threadCPU(b) - startThread
					worst = max(worst, procCPU(b)-start)
					worstThread = max(worstThread, t)
					threadSteps = append(threadSteps, t)
				}
				steps = sm.Steps()
			}
			slices.Sort(threadSteps)
			b.ReportMetric(float64(worst.Microseconds())/1e3, "max-step-cpu-ms")
			b.ReportMetric(float64(worstThread.Microseconds())/1e3, "max-step-thread-cpu-ms")
			b.ReportMetric(float64(threadSteps[len(threadSteps)/2].Microseconds())/1e3, "median-step-thread-cpu-ms")
			b.ReportMetric(float64(whole.Microseconds())/1e3, "whole-merge-cpu-ms")
			b.ReportMetric(float64(steps), "steps")
		})
	}
}
