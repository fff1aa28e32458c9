package rooms

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/crdt/workflow/workflowtest"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// stallWatcher is the honest member that only listens: it notes when each
// RemoteDelta reaches it.
type stallWatcher struct {
	fakeMember
	mu     sync.Mutex
	relays []time.Time
}

func (w *stallWatcher) Enqueue(b []byte) bool {
	if f, err := protocol.Decode(b, protocol.Limits{}); err == nil {
		if _, ok := f.(*protocol.RemoteDelta); ok {
			w.mu.Lock()
			w.relays = append(w.relays, time.Now())
			w.mu.Unlock()
		}
	}
	return true
}

func (w *stallWatcher) EnqueueReply(r [][]byte) bool {
	for _, b := range r {
		w.Enqueue(b)
	}
	return true
}

// maxGap returns the longest time between two relays received in [from, to].
func (w *stallWatcher) maxGap(from, to time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var gap time.Duration
	for i := 1; i < len(w.relays); i++ {
		if w.relays[i].Before(from) || w.relays[i-1].After(to) {
			continue
		}
		gap = max(gap, w.relays[i].Sub(w.relays[i-1]))
	}
	return gap
}

// ackMember is a member that hands every Applied or Nack it is sent to a
// channel, and drops the rest.
type ackMember struct {
	fakeMember
	acks chan protocol.Frame
}

func (a *ackMember) Enqueue(b []byte) bool {
	if len(b) > 4096 {
		return true // a relay or catch-up, never an ack
	}
	f, err := protocol.Decode(b, protocol.Limits{})
	if err != nil {
		return true
	}
	switch f.(type) {
	case *protocol.Applied, *protocol.Nack:
		select {
		case a.acks <- f:
		default:
		}
	}
	return true
}

func (a *ackMember) EnqueueReply(r [][]byte) bool {
	for _, b := range r {
		a.Enqueue(b)
	}
	return true
}

// BenchmarkHostileFrameStall drives a real room (its own goroutine, a
// memory store) holding a 1,000-block document, where an honest member
// edits a block every millisecond and a second honest member watches the
// relays, while an attacker sends one adversarial delta of each shape
// (workflowtest.AdversarialDeltas) per iteration, into a fresh room: for
// "/admit" the largest the caps admit, for "/refuse" the 1 MiB one the
// caps refuse (the session's decode refuses it; the room never sees it).
// Metrics per hostile frame:
//   - decode-ms: workflow.DecodeDelta of the frame's delta, which the
//     session goroutine runs before the room sees it;
//   - room-ms: from SubmitDelta to the attacker's Applied or Nack, the
//     room loop's admission, Vet, merge, relay and ack;
//   - max-gap-ms: the longest time between two relays the watcher
//     received from 20 ms before the hostile frame to 100 ms after its
//     ack: how long one frame stalled the room for everyone else.
//
// The "none" case sends no hostile frame: the gap the pacing alone makes.
//
//	nice go test -run XXX -bench HostileFrameStall -benchtime 5x ./rooms
func BenchmarkHostileFrameStall(b *testing.B) {
	const wall = 1_700_000_000_000 // buildDoc's clock: the room's lag check is off
	base := buildDoc(b, 1000)
	ids := make([]string, 0, 1000)
	for i := range 1000 {
		if i%3 != 0 { // buildDoc removes every third block
			ids = append(ids, fmt.Sprintf("block-%04d", i))
		}
	}
	var cases []workflowtest.Adversarial
	for _, c := range append([]workflowtest.Adversarial{{Name: "none", Doc: base}},
		workflowtest.AdversarialDeltas(b, base, ids, "evil", wall+10_000)...) {
		if c.Delta == nil {
			cases = append(cases, c)
			continue
		}
		admit := c
		admit.Name, admit.Refused = c.Name+"/admit", nil
		cases = append(cases, admit)
		if c.Refused != nil {
			// The 1 MiB delta of the shape: the session refuses it while
			// decoding; the room never sees it.
			refuse := c
			refuse.Name, refuse.Delta = c.Name+"/refuse", nil
			cases = append(cases, refuse)
		}
	}
	for _, c := range cases {
		b.Run(c.Name, func(b *testing.B) {
			// The honest edits, built once: every iteration starts from
			// the same stored document.
			editorDoc := c.Doc.Clone()
			clock := crdt.NewClock("honest")
			edits := make([][]byte, 2000)
			for i := range edits {
				d, err := editorDoc.Apply(clock.Now(time.Now().UnixMilli()), workflow.UpdatePosition{ID: ids[0], Position: workflow.Position{X: float64(i), Y: 1}})
				if err != nil {
					b.Fatal(err)
				}
				edits[i] = d.Encode()
			}
			seed := c.Doc // stored as a snapshot: some exceed what a log row may hold
			var decode, room, gap time.Duration
			b.ReportMetric(float64(max(len(c.Delta), len(c.Refused))), "delta-bytes")
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				d, r, g := hostileFrame(b, seed, edits, c)
				decode, room, gap = decode+d, room+r, max(gap, g)
				b.StartTimer()
			}
			b.ReportMetric(float64(decode.Microseconds())/1e3/float64(b.N), "decode-ms")
			b.ReportMetric(float64(room.Microseconds())/1e3/float64(b.N), "room-ms")
			b.ReportMetric(float64(gap.Microseconds())/1e3, "max-gap-ms")
		})
	}
}

// hostileFrame runs one iteration of BenchmarkHostileFrameStall in a fresh
// registry whose store holds seed as its snapshot, and returns the attacker's decode time,
// the room's time to ack or refuse it, and the watcher's longest gap.
func hostileFrame(b *testing.B, seed *workflow.Doc, edits [][]byte, c workflowtest.Adversarial) (decode, room, gap time.Duration) {
	ctx := context.Background()
	store := memory.New()
	if _, err := store.Snapshot(ctx, "wf", seed); err != nil {
		b.Fatal(err)
	}
	r, err := NewRegistry(Config{MaxClockLag: -1}, store, nil, NewMetrics(nil))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			b.Error(err)
		}
	}()
	watcher := &stallWatcher{fakeMember: *member("watcher", "watcher")}
	editor := &ackMember{fakeMember: *member("editor", "honest"), acks: make(chan protocol.Frame, len(edits))}
	attacker := &ackMember{fakeMember: *member("attacker", "evil"), acks: make(chan protocol.Frame, 1)}
	var rm *Room
	for _, m := range []Member{watcher, editor, attacker} {
		// The attacker claims to have seen the document: the interleaved
		// ranges' document holds its dots, which a replica without them
		// may not write under.
		opts := JoinOptions{}
		if m == attacker {
			opts.Have = seed.Context().Clone()
		}
		if rm, err = r.Join(ctx, "wf", m, opts); err != nil {
			b.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for i, raw := range edits {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			d, err := workflow.Decode(raw, workflow.DeltaLimits)
			if err != nil {
				b.Error(err)
				return
			}
			rm.SubmitDelta(editor, fmt.Sprint("e", i), raw, d)
		}
	})
	defer func() { close(stop); wg.Wait() }()

	time.Sleep(50 * time.Millisecond) // the honest relays settle into their pace
	from := time.Now()
	time.Sleep(20 * time.Millisecond)
	if c.Refused != nil {
		start := time.Now()
		if _, err := workflow.DecodeDelta(slices.Clone(c.Refused)); !workflow.IsOverCap(err) {
			b.Fatalf("%s: %v, want a cap's refusal", c.Name, err)
		}
		decode = time.Since(start)
	}
	if c.Delta != nil {
		start := time.Now()
		d, err := workflow.DecodeDelta(slices.Clone(c.Delta))
		if err != nil {
			b.Fatal(err)
		}
		submitted := time.Now()
		decode = submitted.Sub(start)
		rm.SubmitDelta(attacker, "hostile", slices.Clone(c.Delta), d)
		ack := <-attacker.acks
		room = time.Since(submitted)
		if n, ok := ack.(*protocol.Nack); ok && !c.Foreign {
			b.Fatalf("%s refused: %s", c.Name, n.Message)
		}
	}
	time.Sleep(100 * time.Millisecond)
	watcher.mu.Lock()
	n := len(watcher.relays)
	watcher.mu.Unlock()
	if n < 20 {
		b.Fatalf("the watcher received %d relays", n)
	}
	return decode, room, watcher.maxGap(from, time.Now())
}
