package history

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/bolt"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/storage/postgres"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/storage/storagetest"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU time per operation since start (getrusage: under
// load, wall time measures the machine, CPU time the work).
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N)/1e6, "cpu-ms/op")
}

// What a checkpoint of a 1,000-block workflow costs (BENCHMARKS.md
// "Checkpoints"): the room's part (copying its document), the manager's
// (view, fingerprint, summary, compression) and the store's write, on
// each store; then reading one back and turning it into restore
// operations. The Postgres case needs a server (storage/postgres/testdb.sh).
//
//	go test ./sync/history -run '^$' -bench Checkpoint1000 -benchtime 20x -count 3
func BenchmarkCheckpoint1000(b *testing.B) {
	doc, _ := storagetest.BigDoc(b, 1000, 0)
	ctx := context.Background()
	b.Run("room-copy", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			doc.Clone()
		}
		reportCPU(b, start)
	})
	stores := map[string]func(b *testing.B) storage.CheckpointStore{
		"memory": func(*testing.B) storage.CheckpointStore { return memory.New() },
		"bolt": func(b *testing.B) storage.CheckpointStore {
			s, err := bolt.Open(bolt.Config{Path: filepath.Join(b.TempDir(), "flowsync.db")})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(b *testing.B) storage.CheckpointStore {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := postgres.Open(ctx, postgres.Config{URL: pgtest.Schema(b), MaxConns: 2})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		},
	}
	for _, name := range []string{"memory", "bolt", "postgres"} {
		b.Run("save/"+name, func(b *testing.B) {
			store := stores[name](b)
			m, err := New(Config{Store: store, Interval: -1,
				Document: func(context.Context, string) (*workflow.Doc, error) { return doc, nil },
				Apply:    func(context.Context, string, string, []workflow.Op) error { return nil }})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close(ctx)
			var meta storage.CheckpointMeta
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if meta, err = m.Create(ctx, "wf", "bench", ""); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
			b.ReportMetric(float64(meta.Bytes), "stored-bytes")
			b.ReportMetric(float64(len(doc.Encode())), "doc-bytes")
		})
	}
	store := memory.New()
	meta, err := store.SaveCheckpoint(ctx, "wf", storage.NewCheckpoint{AtMs: 1, Doc: doc}, storage.Retention{})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("load-view", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			_, d, err := store.LoadCheckpoint(ctx, "wf", meta.ID)
			if err != nil {
				b.Fatal(err)
			}
			d.View()
		}
		reportCPU(b, start)
	})
	view := doc.View()
	empty := workflow.New().View()
	b.Run("restore-ops", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			if _, err := RestoreOps(view, empty); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, start)
	})
	// The room's part of a restore: applying the replace-state of 1,000
	// blocks over a 1,000-block document (the loop merges it; a room
	// merges a delta this large in steps, see rooms/stepped.go).
	ops, err := RestoreOps(view, empty)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("apply-replace-state", func(b *testing.B) {
		b.ReportAllocs()
		var cpu time.Duration
		var delta *workflow.Doc
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			target := doc.Clone()
			clock := crdt.NewClock("restorer")
			b.StartTimer()
			start := cpuTime()
			if delta, err = target.Apply(clock.Now(2_000_000_000_000), ops[0]); err != nil {
				b.Fatal(err)
			}
			cpu += cpuTime() - start
		}
		b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
		b.ReportMetric(float64(len(delta.Encode())), "delta-bytes")
	})
}
