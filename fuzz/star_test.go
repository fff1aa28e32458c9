package fuzz

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
)

// TestStarCatchUp runs clients around one server the way a room on a single
// node serves them: each client's edits reach the server in the order it
// made them, the server merges them one by one and relays each to the
// connected clients in that order, and a client that drops its connection
// loses the relays until it comes back and is caught up with CatchUp. At
// every catch-up, merging CatchUp must make what merging DeltaSince makes
// (CatchUp names only the removals of the edits the client missed), and at
// the end every client must hold the server's state. Seeded: FLOWSYNC_SEED
// replays a run.
func TestStarCatchUp(t *testing.T) {
	seed := testutil.Seed(t, 0)
	var total starReport
	for i := range uint64(40) {
		steps := []int{50, 400, 2000}[i%3]
		rep, err := runStar(seed+i, steps)
		if err != nil {
			t.Fatalf("seed %d, %d steps: %v\nreplay: FLOWSYNC_SEED=%d go test ./fuzz -run TestStarCatchUp", seed+i, steps, err, seed+i)
		}
		total.applied += rep.applied
		total.leaner += rep.leaner
	}
	t.Logf("edits applied %d; catch-ups that named fewer removed dots than DeltaSince %d", total.applied, total.leaner)
	if total.applied == 0 || total.leaner == 0 {
		t.Fatal("the runs made no edit, or no catch-up left a removed dot out: they test nothing")
	}
}

type starReport struct{ applied, leaner int }

type starClient struct {
	*replica
	connected bool
}

func runStar(seed uint64, steps int) (rep starReport, err error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	server := workflow.New()
	server.PrimeIndex() // a live room's index, kept by its merges
	clients := make([]*starClient, 3)
	for i := range clients {
		id := crdt.ReplicaID(fmt.Sprintf("c%d", i))
		clients[i] = &starClient{replica: &replica{id: id, doc: workflow.New(), clock: crdt.NewClock(id)}, connected: true}
	}
	type sent struct {
		from  int
		delta *workflow.Doc
	}
	var queue []sent // edits on their way to the server, in order
	wall := int64(1_700_000_000_000)
	catchUp := func(c *starClient) error {
		have := c.doc.Context().Clone()
		lean, full := server.CatchUp(have), server.DeltaSince(have)
		viaFull := c.doc.Clone()
		viaFull.Merge(full)
		c.doc.Merge(lean)
		c.observe(lean, wall)
		if !c.doc.Equal(viaFull) {
			return fmt.Errorf("%s merged with CatchUp differs from merged with DeltaSince", c.id)
		}
		if lean.Context().NumRanges() < full.Context().NumRanges() {
			rep.leaner++
		}
		return nil
	}
	for step := 0; step < steps; step++ {
		wall += rng.Int64N(4)
		i := rng.IntN(len(clients))
		c := clients[i]
		switch p := rng.Float64(); {
		case p < 0.40:
			delta, err := c.doc.Apply(c.clock.Now(wall), randomOp(rng, c.doc))
			if err != nil {
				continue
			}
			rep.applied++
			queue = append(queue, sent{i, delta})
		case p < 0.70:
			if len(queue) == 0 {
				continue
			}
			s := queue[0]
			queue = queue[1:]
			server.Merge(s.delta)
			for j, o := range clients {
				if j != s.from && o.connected {
					o.inbox = append(o.inbox, s.delta)
				}
			}
		case p < 0.90:
			if c.connected && len(c.inbox) > 0 {
				d := c.inbox[0]
				c.inbox = c.inbox[1:]
				c.doc.Merge(d)
				c.observe(d, wall)
			}
		case p < 0.95:
			c.connected, c.inbox = false, nil
		default:
			if !c.connected {
				c.connected = true
				if err := catchUp(c); err != nil {
					return rep, fmt.Errorf("step %d: %w", step, err)
				}
			}
		}
	}
	for _, s := range queue {
		server.Merge(s.delta)
	}
	for _, c := range clients {
		if err := catchUp(c); err != nil {
			return rep, fmt.Errorf("at the end: %w", err)
		}
		if !c.doc.Equal(server) {
			return rep, fmt.Errorf("%s differs from the server after its last catch-up", c.id)
		}
	}
	return rep, nil
}
