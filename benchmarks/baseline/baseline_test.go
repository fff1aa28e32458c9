package baseline_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowsync/flowsync/benchmarks/baseline"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/sync/client"
	"github.com/flowsync/flowsync/sync/protocol"
)

func serve(t *testing.T, mode baseline.Mode, pgURL string) (url string, srv *baseline.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := baseline.New(ctx, baseline.Config{Mode: mode, PostgresURL: pgURL})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "ws://" + ln.Addr().String() + "/", srv
}

func newClient(t *testing.T, url, replica string, cfg client.Config) *client.Client {
	t.Helper()
	cfg.URL, cfg.ReplicaID, cfg.WorkflowID, cfg.Token = url, replica, "wf", replica+":"+replica
	cfg.Backoff = client.Backoff{Base: 20 * time.Millisecond, Cap: 100 * time.Millisecond}
	cfg.DisableCoalescing = true // one Delta frame per operation, as the harness sends them
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); _ = c.Close(); <-done })
	return c
}

// TestPostgresModeStoresAndCatchesUp: every delta is one committed
// transaction, acknowledged durable, and a client joining later gets the
// stored document as catch-up (with the server's context in Joined, so it
// resends nothing).
func TestPostgresModeStoresAndCatchesUp(t *testing.T) {
	url, srv := serve(t, baseline.ModePostgres, pgtest.Schema(t))
	a := newClient(t, url, "ra", client.Config{})
	testutil.WaitFor(t, "a live", func() bool { return a.Status().State == client.StateLive })
	for i, op := range []workflow.Op{
		workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b1", Type: "agent", Name: "One"}}},
		workflow.UpdatePosition{ID: "b1", Position: workflow.Position{X: 10, Y: 20}},
		workflow.UpdateName{ID: "b1", NewName: "Renamed"},
	} {
		if _, err := a.Apply(op); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	testutil.WaitFor(t, "a's ops durable", func() bool { return a.Pending() == 0 })
	if st := srv.Stats(); st.Transactions != 3 || st.Deltas != 3 || st.Failed != 0 {
		t.Errorf("stats %+v: want 3 deltas in 3 transactions", st)
	}

	b := newClient(t, url, "rb", client.Config{})
	testutil.WaitFor(t, "b live", func() bool { return b.Status().State == client.StateLive })
	v := b.View()
	if blk := v.Blocks["b1"]; blk == nil || blk.Name != "Renamed" || blk.Position != (workflow.Position{X: 10, Y: 20}) {
		t.Fatalf("b's view after catch-up: %+v", blk)
	}
	if !b.Doc().Equal(a.Doc()) {
		t.Error("b's document differs from a's after the catch-up")
	}
	if st := srv.Stats(); st.Deltas != 3 {
		t.Errorf("stats %+v: b resent deltas the server has", st)
	}
}

// TestRelayModeRelaysDeltasAndDrags: the bare relay forwards deltas and
// drag positions to the room's other members and stores nothing.
func TestRelayModeRelaysDeltasAndDrags(t *testing.T) {
	url, srv := serve(t, baseline.ModeRelay, "")
	var drags atomic.Int64
	var lastX atomic.Int64
	b := newClient(t, url, "rb", client.Config{OnDrag: func(u protocol.DragUpdate) {
		if p, ok := u.Positions["b1"]; ok {
			drags.Add(1)
			lastX.Store(int64(p.X))
		}
	}})
	a := newClient(t, url, "ra", client.Config{})
	testutil.WaitFor(t, "both live", func() bool {
		return a.Status().State == client.StateLive && b.Status().State == client.StateLive
	})
	if _, err := a.Apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b1", Type: "agent", Name: "One"}}}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the block at b", func() bool { return b.View().Blocks["b1"] != nil })
	if err := a.Drag(map[string]client.Point{"b1": {X: 42, Y: 1}}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the drag at b", func() bool { return drags.Load() > 0 && lastX.Load() == 42 })
	if st := srv.Stats(); st.Transactions != 0 || st.Relayed == 0 {
		t.Errorf("stats %+v: want relays and no transactions", st)
	}
}
