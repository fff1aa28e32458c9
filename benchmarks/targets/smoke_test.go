package targets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/benchmarks/charts"
	"github.com/flowsync/flowsync/benchmarks/loadgen"
	"github.com/flowsync/flowsync/benchmarks/targets"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
)

// TestSmoke runs every target for about two seconds with a handful of
// clients: flowsync in-process on the memory store, the baseline against
// Postgres (pgtest: skipped without one, failed under CI), the relay
// in-process. It is the CI-sized version of the harness.
func TestSmoke(t *testing.T) {
	var results []*loadgen.Result
	for _, name := range targets.Names {
		t.Run(name, func(t *testing.T) {
			o := targets.Options{Store: "memory"}
			if name == targets.Baseline {
				o.PostgresURL = pgtest.Schema(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			srv, err := targets.Start(ctx, name, o)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := srv.Stop(); err != nil {
					t.Errorf("stop: %v", err)
				}
			}()
			var progress int
			res, err := loadgen.Run(ctx, loadgen.Config{
				URL: srv.URL, Clients: 6, Rooms: 2, Rate: 10, Duration: 2 * time.Second,
				Drain: 5 * time.Second, ServerInProcess: true,
				Target: name, Scenario: "smoke", Store: targets.StoreLabel(name, o),
				Progress: func(loadgen.Progress) { progress++ },
			})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(res)
			t.Logf("%s", b)
			if res.OpsSent == 0 || res.Deliveries == 0 {
				t.Fatalf("ops sent %d, deliveries %d: want both > 0", res.OpsSent, res.Deliveries)
			}
			if res.OpsUnacked != 0 || res.OpsDurable != res.OpsSent || res.OpsRejected != 0 || res.ApplyErrors != 0 {
				t.Errorf("sent %d, durable %d, unacked %d, rejected %d, apply errors %d: want every op acked",
					res.OpsSent, res.OpsDurable, res.OpsUnacked, res.OpsRejected, res.ApplyErrors)
			}
			if res.Deliveries > res.ExpectedDeliveries {
				t.Errorf("deliveries %d > expected %d", res.Deliveries, res.ExpectedDeliveries)
			}
			for what, p := range map[string]loadgen.Percentiles{"delivery": res.DeliveryLatency, "ack": res.AckLatency} {
				if p.Count == 0 || !(p.P50 > 0 && p.P50 <= p.P99 && p.P99 <= p.P999 && p.P999 <= p.Max) || p.Max > 10_000 {
					t.Errorf("%s latency %+v: want 0 < p50 ≤ p99 ≤ p999 ≤ max < 10 s", what, p)
				}
			}
			if res.BytesPerOp <= 0 || res.ServerCPUS <= 0 || res.ServerRSSBytes <= 0 {
				t.Errorf("bytes/op %v, server CPU %v s, RSS %d: want all > 0", res.BytesPerOp, res.ServerCPUS, res.ServerRSSBytes)
			}
			if progress == 0 {
				t.Error("no progress reported")
			}
			results = append(results, res)
		})
	}
	var md bytes.Buffer
	if err := loadgen.WriteMarkdown(&md, results); err != nil {
		t.Fatal(err)
	}
	if len(results) == len(targets.Names) && !strings.Contains(md.String(), "| figure | flowsync (memory) | baseline (postgres, tx per op) | relay (none) | flowsync / baseline | flowsync / relay |") {
		t.Errorf("markdown table:\n%s", md.String())
	}
	if len(results) > 0 {
		dir := t.TempDir()
		if err := charts.LatencyCDF(filepath.Join(dir, "latency.png"), "smoke", results); err != nil {
			t.Fatal(err)
		}
		if err := charts.Throughput(filepath.Join(dir, "throughput.png"), "smoke", results); err != nil {
			t.Fatal(err)
		}
		assertPNG(t, filepath.Join(dir, "latency.png"))
		assertPNG(t, filepath.Join(dir, "throughput.png"))
	}
	t.Logf("\n%s", md.String())
}
