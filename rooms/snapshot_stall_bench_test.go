package rooms

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// snapTimes is a store that notes when each Snapshot call starts.
type snapTimes struct {
	storage.Store
	mu     sync.Mutex
	starts []time.Time
}

func (s *snapTimes) Snapshot(ctx context.Context, id string, doc *workflow.Doc, held ...storage.RowKey) (int64, error) {
	s.mu.Lock()
	s.starts = append(s.starts, time.Now())
	s.mu.Unlock()
	return s.Store.Snapshot(ctx, id, doc, held...)
}

func (s *snapTimes) between(from, to time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.starts {
		if !t.Before(from) && !t.After(to) {
			n++
		}
	}
	return n
}

// BenchmarkSnapshotStall measures how long snapshots stall a room: a real
// room (its goroutine, a memory store) holds a document of n blocks, an
// editor moves a block every millisecond, a watcher notes when each relay
// reaches it, and the room snapshots at most every 100 ms
// (SnapshotMaxDelay). Each iteration loads the document into a fresh
// registry, lets the edits run until the relays flow at their pace (the
// first edit measures the document's size), then watches 1.5 s. Metrics:
// max-gap-ms, the longest time without a relay to the watcher in the
// window (the worst over iterations), and snapshots, how many
// Store.Snapshot calls started in the windows. The snapshots=false cases
// never snapshot: the gap the pacing, the machine and the garbage
// collector make alone.
//
//	nice go test -run '^$' -bench SnapshotStall -benchtime 3x ./rooms
func BenchmarkSnapshotStall(b *testing.B) {
	for _, n := range []int{10_000, 50_000} {
		seed := batchDoc(b, n)
		for _, snapshots := range []bool{false, true} {
			b.Run(fmt.Sprintf("blocks=%d/snapshots=%v", n, snapshots), func(b *testing.B) {
				var gap time.Duration
				snaps := 0
				for b.Loop() {
					g, s := snapshotStall(b, seed, snapshots)
					gap, snaps = max(gap, g), snaps+s
				}
				b.ReportMetric(float64(gap.Microseconds())/1e3, "max-gap-ms")
				b.ReportMetric(float64(snaps), "snapshots")
			})
		}
	}
}

// snapshotStall is one iteration of BenchmarkSnapshotStall: it returns the
// longest gap between two relays in the window and the snapshots started
// in it.
func snapshotStall(b *testing.B, seed *workflow.Doc, snapshots bool) (time.Duration, int) {
	ctx := context.Background()
	store := &snapTimes{Store: memory.New()}
	if _, err := store.Snapshot(ctx, "wf", seed); err != nil {
		b.Fatal(err)
	}
	cfg := Config{MaxClockLag: -1, SnapshotInterval: 50 * time.Millisecond, SnapshotMaxDelay: 100 * time.Millisecond}
	if !snapshots {
		cfg.SnapshotInterval, cfg.SnapshotMaxDelay = time.Hour, time.Hour
	}
	r, err := NewRegistry(cfg, store, nil, NewMetrics(nil))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			b.Error(err)
		}
	}()
	watcher := &stallWatcher{fakeMember: *member("watcher", "watcher")}
	editor := &countingMember{sid: "editor", id: Identity{UserID: "u-editor", ReplicaID: "honest", Role: protocol.RoleWrite}}
	var rm *Room
	for _, m := range []Member{watcher, editor} {
		// Both have the document: no catch-up (a cold join's is measured
		// elsewhere).
		if rm, err = r.Join(ctx, "wf", m, JoinOptions{Have: seed.Context().Clone()}); err != nil {
			b.Fatal(err)
		}
	}
	const warm, window = 300 * time.Millisecond, 1500 * time.Millisecond
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		doc, clock := seed.Clone(), crdt.NewClock("honest")
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			d, err := doc.Apply(clock.Now(time.Now().UnixMilli()), workflow.UpdatePosition{ID: "block-00001", Position: workflow.Position{X: float64(i), Y: 1}})
			if err != nil {
				b.Error(err)
				return
			}
			rm.SubmitDelta(editor, fmt.Sprint("e", i), d.Encode(), d)
		}
	})
	defer func() { close(stop); wg.Wait() }()
	// Warm up: the first edit measures the document's size (one encoding,
	// in the loop), and the relays must be flowing at their pace.
	time.Sleep(warm)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if last, n := watcher.last(); n >= 100 && time.Since(last) < 20*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the relays did not start flowing")
		}
	}
	from := time.Now()
	time.Sleep(window)
	to := time.Now()
	return watcher.windowGap(from, to), store.between(from, to)
}

// windowGap returns the longest time in [from, to] without a relay: between
// two relays, or from the last one to the window's end (a stall still
// running when the window closes counts too).
func (w *stallWatcher) windowGap(from, to time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var gap time.Duration
	prev := from
	for _, t := range w.relays {
		if t.Before(from) || t.After(to) {
			continue
		}
		gap = max(gap, t.Sub(prev))
		prev = t
	}
	return max(gap, to.Sub(prev))
}

// last returns when the latest relay arrived and how many did.
func (w *stallWatcher) last() (time.Time, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.relays) == 0 {
		return time.Time{}, 0
	}
	return w.relays[len(w.relays)-1], len(w.relays)
}

// BenchmarkSnapshotCapture is the room loop's own cost of starting a
// snapshot of a document of n blocks (startSnapshot, called as the loop
// calls it); the write that follows runs on its own goroutine and is waited
// for outside the timer.
//
//	nice go test -run '^$' -bench SnapshotCapture -benchtime 5x ./rooms
func BenchmarkSnapshotCapture(b *testing.B) {
	for _, n := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			r := newRegistry(b, Config{}, nil)
			rm := newRoom(r, "wf")
			rm.doc = batchDoc(b, n)
			rm.clock = crdt.NewClock("server")
			rm.snap.timer = time.NewTimer(time.Hour)
			rm.snap.timer.Stop()
			b.ReportAllocs()
			for b.Loop() {
				rm.markSnapDirty()
				rm.startSnapshot("bench")
				b.StopTimer()
				if res := <-rm.snapC; res.err != nil {
					b.Fatal(res.err)
				}
				rm.handleSnapshot(snapResult{})
				b.StartTimer()
			}
		})
	}
}
