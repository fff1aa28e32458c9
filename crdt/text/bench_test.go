package text

import (
	"math/rand/v2"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The trace benchmarks. BENCHMARKS.md, "Collaborative text", has the
// command and the results. Besides ns/op each reports cpu-ms/op, the CPU
// time the whole process (garbage collector included) spent per operation,
// which a loaded machine inflates far less than wall time.

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration, unit string, scale float64) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/scale, unit)
}

// flatPatch is a patch whose inserted text is a slice of one shared
// string: the benchmark's own input then holds no pointers, so the garbage
// collector does not mark a quarter of a million strings on every cycle
// and the figures are the replica's.
type flatPatch struct{ pos, del, lo, hi int32 }

func flatten(ps []patch) (string, []flatPatch) {
	var sb strings.Builder
	out := make([]flatPatch, len(ps))
	for i, p := range ps {
		lo := sb.Len()
		sb.WriteString(p.Ins)
		out[i] = flatPatch{int32(p.Pos), int32(p.Del), int32(lo), int32(sb.Len())}
	}
	return sb.String(), out
}

// applyFlat replays flattened patches as local edits of replica "a".
func applyFlat(b *testing.B, start, all string, ps []flatPatch, sample func(i int)) *Text {
	t := New()
	if start != "" {
		if _, err := t.Insert("a", 0, start); err != nil {
			b.Fatal(err)
		}
	}
	for i := range ps {
		p := &ps[i]
		if p.del > 0 {
			if _, err := t.Delete(int(p.pos), int(p.del)); err != nil {
				b.Fatal(err)
			}
		}
		if p.hi > p.lo {
			if _, err := t.Insert("a", int(p.pos), all[p.lo:p.hi]); err != nil {
				b.Fatal(err)
			}
		}
		if sample != nil {
			sample(i)
		}
	}
	return t
}

func BenchmarkApplyLocal(b *testing.B) {
	for _, name := range traceNames {
		b.Run(name, func(b *testing.B) {
			// Not the cached trace: its quarter of a million strings would
			// stay live for the collector to mark.
			tr := readTrace(b, name)
			all, ps := flatten(tr.patches())
			startText, want := tr.StartContent, len([]rune(tr.EndContent))
			tr = nil
			b.ReportAllocs()
			runtime.GC()
			b.ResetTimer()
			start := cpuTime()
			for range b.N {
				if t := applyFlat(b, startText, all, ps, nil); t.Len() != want {
					b.Fatal("wrong final length")
				}
			}
			reportCPU(b, start, "cpu-ms/op", 1e6)
			b.StopTimer()
			peak, retained := peakHeap(b, func(sample, final func()) {
				t := applyFlat(b, startText, all, ps, func(i int) {
					if i%5000 == 0 {
						sample()
					}
				})
				final()
				runtime.KeepAlive(t)
				runtime.KeepAlive(ps) // in the baseline: must stay live to the end
			})
			b.ReportMetric(float64(peak), "peak-live-heap-B")
			b.ReportMetric(float64(retained), "live-heap-B")
		})
	}
}

// peakHeap runs fn once and returns the most live heap above what was in
// use before it, over the samples fn takes, and what is live when fn calls
// final.
func peakHeap(b *testing.B, fn func(sample func(), final func())) (peak, live uint64) {
	runtime.GC() // twice: the first runs the cleanups of what the setup dropped
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	above := func() uint64 {
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > base {
			return ms.HeapAlloc - base
		}
		return 0
	}
	// A sample collects first: the peak is of live memory, not of garbage
	// the collector has yet to free (under GOGC=100 a process may hold up
	// to about as much again).
	fn(func() { runtime.GC(); peak = max(peak, above()) }, func() {
		runtime.GC()
		live = above()
		peak = max(peak, live)
	})
	return peak, live
}

// finished returns the final replica of a trace and every delta of it.
// It reads the trace afresh and drops the tests' cached traces: a cached
// trace's quarter of a million strings would stay live, and the garbage
// collector would mark them on every cycle of the benchmark, a cost that is
// the harness's, not the replica's.
func finished(b *testing.B, name string) (*Text, []Delta) {
	traceCache.Clear()
	tr := readTrace(b, name)
	return replay(b, tr, tr.patches(), true)
}

func BenchmarkMergeRemote(b *testing.B) {
	for _, name := range traceNames {
		b.Run(name, func(b *testing.B) {
			_, deltas := finished(b, name)
			b.ReportAllocs()
			runtime.GC()
			b.ResetTimer()
			start := cpuTime()
			for range b.N {
				t := New()
				for _, d := range deltas {
					if err := t.Merge(d); err != nil {
						b.Fatal(err)
					}
				}
			}
			reportCPU(b, start, "cpu-ms/op", 1e6)
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, name := range traceNames {
		b.Run(name, func(b *testing.B) {
			t, _ := finished(b, name)
			var enc []byte
			b.ReportAllocs()
			runtime.GC()
			b.ResetTimer()
			start := cpuTime()
			for range b.N {
				enc = Encode(ptr(t.DeltaSince(nil)))
			}
			reportCPU(b, start, "cpu-ms/op", 1e6)
			b.ReportMetric(float64(len(enc)), "bytes")
			b.ReportMetric(float64(flateSize(enc)), "flate-bytes")
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	for _, name := range traceNames {
		b.Run(name, func(b *testing.B) {
			t, _ := finished(b, name)
			enc := Encode(ptr(t.DeltaSince(nil)))
			b.ReportAllocs()
			runtime.GC()
			b.ResetTimer()
			start := cpuTime()
			for range b.N {
				if _, err := Load(enc); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start, "cpu-ms/op", 1e6)
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range traceNames {
		b.Run(name, func(b *testing.B) {
			t, _ := finished(b, name)
			enc := Encode(ptr(t.DeltaSince(nil)))
			b.ReportAllocs()
			runtime.GC()
			b.ResetTimer()
			start := cpuTime()
			for range b.N {
				if _, err := DecodeDelta(enc, StateLimits); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start, "cpu-ms/op", 1e6)
		})
	}
}

// BenchmarkMergeOneChar merges one-character inserts typed at random
// places by another replica into the finished document.
func BenchmarkMergeOneChar(b *testing.B) {
	for _, name := range traceNames {
		b.Run(name, func(b *testing.B) {
			t, _ := finished(b, name)
			enc := Encode(ptr(t.DeltaSince(nil)))
			other, err := Load(enc)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			const batch = 1024
			deltas := make([]Delta, batch)
			b.ReportAllocs()
			b.ResetTimer()
			var cpu time.Duration
			for done := 0; done < b.N; done += batch {
				b.StopTimer()
				n := min(batch, b.N-done)
				for i := range n {
					deltas[i], _ = other.Insert("z", rng.IntN(other.Len()+1), "x")
				}
				b.StartTimer()
				start := cpuTime()
				for i := range n {
					if err := t.Merge(deltas[i]); err != nil {
						b.Fatal(err)
					}
				}
				cpu += cpuTime() - start
			}
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkAdmitOneChar admits (without merging) one-character inserts
// typed at random places by another replica into the finished document:
// the cost of the admission rules per edit. Each is typed on a fresh copy,
// so that its origins are items the document holds.
func BenchmarkAdmitOneChar(b *testing.B) {
	for _, name := range traceNames {
		b.Run(name, func(b *testing.B) {
			t, _ := finished(b, name)
			enc := Encode(ptr(t.DeltaSince(nil)))
			rng := rand.New(rand.NewPCG(1, 2))
			deltas := make([]Delta, 64)
			for i := range deltas {
				other, err := Load(enc)
				if err != nil {
					b.Fatal(err)
				}
				deltas[i], _ = other.Insert("z", rng.IntN(other.Len()+1), "x")
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := cpuTime()
			for i := range b.N {
				if err := t.Admit(&deltas[i%len(deltas)], "z"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
