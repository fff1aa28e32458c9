package storagetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
)

// Growth is a sustained edit load played straight into a store, shaped
// like rooms under constant editing: each workflow's editors make
// OpsPerWrite operations per Interval (a room's MinWriteInterval), and the
// workflow writes, at most every Interval, the operations made since its
// last write, and snapshots every SnapshotEvery (a room under constant
// edits snapshots every SnapshotMaxDelay). It measures what the log costs over
// a long run (BENCHMARKS.md "Storage": rows, table or file size, WAL).
type Growth struct {
	Edits         int           // operations in all
	Workflows     int           // written concurrently, one goroutine each
	OpsPerWrite   int           // operations per write of one workflow
	Interval      time.Duration // between two writes of one workflow; 0: unpaced
	SnapshotEvery time.Duration // between two snapshots of a workflow; 0: never
	Blocks        int           // blocks per workflow the edits spread over
	// PerOperation writes one row per operation (the layout before batch
	// rows) instead of one row per write (the join of its operations).
	PerOperation bool
}

// GrowthStats is what PlayGrowth counts.
type GrowthStats struct {
	Edits, Writes, Rows, Snapshots int64
	PayloadBytes                   int64 // encoded bytes of the rows appended
}

// PlayGrowth plays g into s. After every write of workflow 0 whose edit
// count passed another sampleEvery edits in all, it calls sample (from that
// workflow's goroutine; nil for none).
func PlayGrowth(tb testing.TB, s storage.Store, g Growth, sampleEvery int, sample func(edits int64)) GrowthStats {
	tb.Helper()
	var st GrowthStats
	var edits, writes, rows, snaps, payload atomic.Int64
	perWF := g.Edits / g.Workflows
	var nextSample atomic.Int64
	nextSample.Store(int64(sampleEvery))
	ctx := context.Background()
	errs := make(chan error, g.Workflows)
	var wg sync.WaitGroup
	for w := range g.Workflows {
		wg.Go(func() {
			id := fmt.Sprintf("growth-%d", w)
			doc := workflow.New()
			clock := crdt.NewClock(crdt.ReplicaID(fmt.Sprintf("editor-%08x", w)))
			wall := int64(benchWall)
			apply := func(op workflow.Op) *workflow.Doc {
				wall++
				d, err := doc.Apply(clock.Now(wall), op)
				if err != nil {
					panic(err)
				}
				return d
			}
			var add workflow.BatchAddBlocks
			for i := range g.Blocks {
				add.Blocks = append(add.Blocks, workflow.BlockInput{ID: benchID(i), Type: "agent", Name: fmt.Sprint("Agent ", i),
					SubBlocks: map[string]workflow.SubBlockInput{"systemPrompt": {ID: "systemPrompt", Type: "long-input", Value: ""}}})
			}
			first := apply(add)
			if err := s.Append(ctx, id, []storage.Delta{storage.NewDelta(first.Encode())}); err != nil {
				errs <- err
				return
			}
			var tick <-chan time.Time
			if g.Interval > 0 {
				t := time.NewTicker(g.Interval)
				defer t.Stop()
				tick = t.C
			}
			start := time.Now()
			lastSnap := start
			n := 0
			for n < perWF {
				// Editors do not wait for the store: what they did while
				// the last write was in flight is the next write, as in a
				// room, so a slow commit makes larger writes, not fewer
				// edits.
				k := g.OpsPerWrite
				if tick != nil {
					<-tick
					k = int(time.Since(start)/g.Interval)*g.OpsPerWrite - n
				}
				k = min(max(k, 1), perWF-n)
				var batch []storage.Delta
				joined := workflow.New()
				for i := range k {
					blk := benchID((n + i) % g.Blocks)
					var d *workflow.Doc
					if (n+i)%2 == 0 {
						d = apply(workflow.UpdatePosition{ID: blk, Position: workflow.Position{X: float64(n + i), Y: 1}})
					} else {
						d = apply(workflow.UpdateSubBlock{BlockID: blk, SubBlockID: "systemPrompt", Value: fmt.Sprintf("You are a helpful agent, take %d", n+i)})
					}
					if g.PerOperation {
						batch = append(batch, storage.NewDelta(d.Encode()))
					} else {
						joined.Merge(d)
					}
				}
				if !g.PerOperation {
					batch = []storage.Delta{storage.Merged(joined.Encode(), k)}
				}
				if err := s.Append(ctx, id, batch); err != nil {
					errs <- err
					return
				}
				for _, d := range batch {
					payload.Add(int64(len(d.Bytes())))
				}
				n += k
				writes.Add(1)
				rows.Add(int64(len(batch)))
				total := edits.Add(int64(k))
				if g.SnapshotEvery > 0 && time.Since(lastSnap) >= g.SnapshotEvery {
					lastSnap = time.Now()
					if _, err := s.Snapshot(ctx, id, doc); err != nil {
						errs <- err
						return
					}
					snaps.Add(1)
				}
				if w == 0 && sample != nil && sampleEvery > 0 && total >= nextSample.Load() {
					nextSample.Store((total/int64(sampleEvery) + 1) * int64(sampleEvery))
					sample(total)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("PlayGrowth: %v", err)
	}
	st.Edits, st.Writes, st.Rows, st.Snapshots, st.PayloadBytes = edits.Load(), writes.Load(), rows.Load(), snaps.Load(), payload.Load()
	return st
}
