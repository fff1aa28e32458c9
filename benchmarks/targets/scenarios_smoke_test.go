package targets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowsync/flowsync/benchmarks/charts"
	"github.com/flowsync/flowsync/benchmarks/loadgen"
	"github.com/flowsync/flowsync/benchmarks/targets"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/sync/client"
)

// start starts a target in-process for a smoke test and stops it at the
// end of the test.
func start(t *testing.T, ctx context.Context, name string, o targets.Options) *targets.Running {
	t.Helper()
	srv, err := targets.Start(ctx, name, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return srv
}

func logResult(t *testing.T, res *loadgen.Result) {
	t.Helper()
	r := *res
	r.Timeline = nil
	r.DeliveryLatency.CDF, r.AckLatency.CDF, r.DragLatency.CDF = nil, nil, nil
	b, _ := json.Marshal(r)
	t.Logf("%s", b)
}

// assertPNG checks that path is a non-empty PNG.
func assertPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 1000 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("%s: %d bytes, not a PNG chart", path, len(b))
	}
}

// TestSmokeScenarios runs a smoke-sized version of every scenario beyond
// the steady load of TestSmoke, each for about a second, against
// in-process targets, and checks what each scenario exists to show.
func TestSmokeScenarios(t *testing.T) {
	t.Run("drag-storm", func(t *testing.T) {
		var results []*loadgen.Result
		for _, name := range []string{targets.Flowsync, targets.Relay} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			srv := start(t, ctx, name, targets.Options{Store: "memory"})
			res, err := loadgen.Run(ctx, loadgen.Config{
				URL: srv.URL, Clients: 6, Rooms: 2, Rate: 20, Duration: time.Second, Drain: 2 * time.Second,
				Mix: "drag=100", ServerInProcess: true, Target: name, Scenario: "drag-storm",
			})
			if err != nil {
				t.Fatal(err)
			}
			logResult(t, res)
			// Drags are never stored: no durable operation, but live
			// positions reach the other members of the room, each at most
			// once per call, on time.
			if res.OpsSent != 0 || res.DragSent == 0 || res.DragDeliveries == 0 || res.DragDeliveries > res.DragExpected {
				t.Errorf("%s: ops %d, drags sent %d, delivered %d of at most %d", name, res.OpsSent, res.DragSent, res.DragDeliveries, res.DragExpected)
			}
			if p := res.DragLatency; p.Count == 0 || p.P50 <= 0 || p.Max > 10_000 {
				t.Errorf("%s: drag latency %+v", name, p)
			}
			results = append(results, res)
		}
		dir := t.TempDir()
		if err := charts.LatencyCDF(filepath.Join(dir, "lat.png"), "drag", results); err != nil {
			t.Fatal(err)
		}
		assertPNG(t, filepath.Join(dir, "lat.png"))
	})

	for _, tc := range []struct{ scenario, mix string }{
		{"typing", "subblock=100"},
		{"structural", "position=20,subblock=20,structural=60"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			srv := start(t, ctx, targets.Flowsync, targets.Options{Store: "memory"})
			res, err := loadgen.Run(ctx, loadgen.Config{
				URL: srv.URL, Clients: 6, Rooms: 2, Rate: 12, Duration: time.Second, Drain: 5 * time.Second,
				Mix: tc.mix, ServerInProcess: true, Target: targets.Flowsync, Scenario: tc.scenario,
			})
			if err != nil {
				t.Fatal(err)
			}
			logResult(t, res)
			// Every operation of the mix is valid (the structural cycle
			// adds, connects, nests and removes without errors), durable,
			// and its values reach the room.
			if res.OpsSent == 0 || res.ApplyErrors != 0 || res.OpsRejected != 0 || res.OpsDurable != res.OpsSent || res.Deliveries == 0 {
				t.Errorf("sent %d, apply errors %d, rejected %d, durable %d, deliveries %d", res.OpsSent, res.ApplyErrors, res.OpsRejected, res.OpsDurable, res.Deliveries)
			}
			dir := t.TempDir()
			for _, f := range []func(string, string, []*loadgen.Result) error{charts.LatencyCDF, charts.Throughput} {
				path := filepath.Join(dir, "c.png")
				if err := f(path, tc.scenario, []*loadgen.Result{res}); err != nil {
					t.Fatal(err)
				}
				assertPNG(t, path)
			}
		})
	}

	t.Run("reconnect-storm", func(t *testing.T) {
		for _, name := range []string{targets.Flowsync, targets.Baseline} {
			t.Run(name, func(t *testing.T) {
				o := targets.Options{Store: "memory"}
				if name == targets.Baseline {
					o.PostgresURL = pgtest.Schema(t)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				srv := start(t, ctx, name, o)
				res, err := loadgen.RunReconnectStorm(ctx, loadgen.Config{
					URL: srv.URL, Clients: 20, Rooms: 4, Rate: 5, StormWarmup: time.Second, Drain: 5 * time.Second,
					Backoff:         client.Backoff{Base: 50 * time.Millisecond, Cap: 500 * time.Millisecond},
					ServerInProcess: true, Target: name, Scenario: "reconnect-storm", Store: targets.StoreLabel(name, o),
				})
				if err != nil {
					t.Fatal(err)
				}
				logResult(t, res)
				st := res.Storm
				if st.Dropped < 20 || st.Resynced != 20 || st.TimedOut || st.ResyncAllS <= 0 || st.AppliedAtDrop == 0 {
					t.Errorf("storm %+v: want all 20 connections dropped and every client resynced", st)
				}
				if !st.Verified || st.CheckedValues < res.OpsDurable || st.Lost != 0 {
					t.Errorf("storm %+v (ops durable %d): want every acked value in the server's document", st, res.OpsDurable)
				}
				// After the drain every client holds exactly the server's
				// document: no relay was lost around the rejoin.
				if st.ConvergedClient != 20 {
					t.Errorf("%d of 20 clients equal to the server's document: %s", st.ConvergedClient, st.Note)
				}
				if res.OpsUnacked != 0 || res.Reconnects < 20 {
					t.Errorf("unacked %d, reconnects %d", res.OpsUnacked, res.Reconnects)
				}
			})
		}
	})

	t.Run("large-join", func(t *testing.T) {
		for _, name := range []string{targets.Flowsync, targets.Baseline} {
			t.Run(name, func(t *testing.T) {
				o := targets.Options{Store: "memory"}
				if name == targets.Baseline {
					o.PostgresURL = pgtest.Schema(t)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				srv := start(t, ctx, name, o)
				res, err := loadgen.RunLargeJoin(ctx, loadgen.Config{
					URL: srv.URL, Clients: 3, DocBlocks: 300, ServerInProcess: true, Target: name, Scenario: "large-join",
				})
				if err != nil {
					t.Fatal(err)
				}
				logResult(t, res)
				js := res.Join
				if js.Complete != 3 || js.JoinLatency.Count != 3 || js.JoinLatency.P50 <= 0 {
					t.Errorf("join %+v: want 3 joiners that see all 300 blocks", js)
				}
				// Each joiner reads at least the document (catch-up).
				if js.DocBytes == 0 || js.BytesPerJoin < float64(js.DocBytes)*0.9 {
					t.Errorf("document %d bytes, %f read per joiner", js.DocBytes, js.BytesPerJoin)
				}
			})
		}
	})

	t.Run("idle", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		srv := start(t, ctx, targets.Flowsync, targets.Options{Store: "memory"})
		res, err := loadgen.RunIdle(ctx, loadgen.Config{
			URL: srv.URL, Clients: 200, Rooms: 20, Hold: time.Second, ServerInProcess: true, Target: targets.Flowsync, Scenario: "idle",
		})
		if err != nil {
			t.Fatal(err)
		}
		logResult(t, res)
		is := res.Idle
		if is.Held != 200 || is.Reconnects != 0 || is.RSSAfterBytes <= 0 || is.NoFileSoft < 456 {
			t.Errorf("idle %+v: want all 200 connections held", is)
		}
	})
}
