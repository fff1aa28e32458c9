package rooms

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// BenchmarkRemovalStall drives a real room (its own goroutine, a memory
// store) holding a loop of n blocks, where an honest member moves a block
// every millisecond and a watcher notes when each relay reaches it, while a
// third member removes the loop: by a client's delta ("delta") or by an
// operation the room prepares ("op"). "step=off" merges the removal in one
// turn (RemovalStep past its size), as rooms did before stepped merges.
// Metrics per removal:
//
//   - remove-ms: from submitting the removal to its Applied;
//
//   - max-gap-ms: the longest time between two relays the watcher
//     received from 20 ms before the removal to 50 ms after its Applied;
//     with a relay every millisecond, about the longest loop turn;
//
//   - steps: how many turns merged it, and max-step-ms the longest of
//     them (wall time, the room loop's own: the last one includes the
//     delta's relay, ack and store queueing).
//
//     cd rooms && go test -c -o /tmp/rooms.test && nice /tmp/rooms.test -test.run '^$' -test.bench RemovalStall -test.benchtime 3x
func BenchmarkRemovalStall(b *testing.B) {
	for _, n := range []int{10_000, 50_000} {
		seed := loopDoc(b, n)
		for _, via := range []string{"delta", "op"} {
			for _, step := range []int{DefaultRemovalStep, 1 << 30} {
				name := fmt.Sprintf("blocks=%d/%s/step=%d", n, via, step)
				if step == 1<<30 {
					name = fmt.Sprintf("blocks=%d/%s/step=off", n, via)
				}
				b.Run(name, func(b *testing.B) {
					var remove, gap, longest time.Duration
					steps := 0
					for range b.N {
						r, g, l, s := removalStall(b, seed, via, step)
						remove, gap, longest, steps = remove+r, max(gap, g), max(longest, l), steps+s
					}
					b.ReportMetric(float64(remove.Microseconds())/1e3/float64(b.N), "remove-ms")
					b.ReportMetric(float64(gap.Microseconds())/1e3, "max-gap-ms")
					b.ReportMetric(float64(steps)/float64(b.N), "steps")
					b.ReportMetric(float64(longest.Microseconds())/1e3, "max-step-ms")
				})
			}
		}
	}
}

// removalStall runs one removal of BenchmarkRemovalStall in a fresh
// registry and returns the time to its Applied, the watcher's longest gap
// and the steps it took.
func removalStall(b *testing.B, seed *workflow.Doc, via string, step int) (remove, gap, longest time.Duration, steps int) {
	b.StopTimer()
	defer b.StartTimer()
	ctx := context.Background()
	store := memory.New()
	if _, err := store.Snapshot(ctx, "wf", seed); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	r, err := NewRegistry(Config{MaxClockLag: -1, RemovalStep: step, onStep: func(_ int, took time.Duration) {
		mu.Lock()
		steps++
		longest = max(longest, took)
		mu.Unlock()
	}}, store, nil, NewMetrics(nil))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			b.Error(err)
		}
	}()
	watcher := &stallWatcher{fakeMember: *member("watcher", "watcher")}
	editor := &ackMember{fakeMember: *member("editor", "honest"), acks: make(chan protocol.Frame, 1)}
	remover := &ackMember{fakeMember: *member("remover", "remover"), acks: make(chan protocol.Frame, 1)}
	var rm *Room
	for _, m := range []Member{watcher, editor, remover} {
		if rm, err = r.Join(ctx, "wf", m, JoinOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	// The honest edits move a block outside the loop.
	editorDoc := workflow.New()
	clock := crdt.NewClock("honest")
	first, err := editorDoc.Apply(clock.Now(time.Now().UnixMilli()), workflow.AddBlock{Block: workflow.BlockInput{ID: "side", Type: "agent", Name: "Side"}})
	if err != nil {
		b.Fatal(err)
	}
	rm.SubmitDelta(editor, "e0", first.Encode(), first)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			d, err := editorDoc.Apply(clock.Now(time.Now().UnixMilli()), workflow.UpdatePosition{ID: "side", Position: workflow.Position{X: float64(i), Y: 1}})
			if err != nil {
				b.Error(err)
				return
			}
			rm.SubmitDelta(editor, fmt.Sprint("e", i), d.Encode(), d)
		}
	})
	defer func() { close(stop); wg.Wait() }()

	// A first operation builds the document's index (once per loaded
	// room, whatever the operation): out of the measurement.
	rm.SubmitOperation(remover, "warm", workflow.UpdateName{ID: "c1", NewName: "Warm"})
	if f := <-remover.acks; f.Type() != protocol.FrameApplied {
		b.Fatalf("the warm-up was refused: %+v", f)
	}
	var removal *workflow.Doc
	if via == "delta" {
		if removal, err = seed.Prepare(crdt.Timestamp{Wall: time.Now().UnixMilli(), Replica: "remover"}, workflow.RemoveBlock{ID: "loop"}); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // the honest relays settle into their pace
	from := time.Now()
	time.Sleep(20 * time.Millisecond)
	b.StartTimer()
	start := time.Now()
	if via == "delta" {
		rm.SubmitDelta(remover, "remove", removal.Encode(), removal)
	} else {
		rm.SubmitOperation(remover, "remove", workflow.RemoveBlock{ID: "loop"})
	}
	if f := <-remover.acks; f.Type() != protocol.FrameApplied {
		b.Fatalf("the removal was refused: %+v", f)
	}
	remove = time.Since(start)
	b.StopTimer()
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	return remove, watcher.maxGap(from, time.Now()), longest, steps
}
