package charts

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsync/flowsync/benchmarks/loadgen"
)

func isPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 1000 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s: %d bytes, not a chart", path, len(b))
	}
}

func TestChartsNeedData(t *testing.T) {
	dir := t.TempDir()
	empty := []*loadgen.Result{{Target: "flowsync"}}
	if err := LatencyCDF(filepath.Join(dir, "a.png"), "x", empty); err == nil {
		t.Error("LatencyCDF without samples: want an error")
	}
	if err := Throughput(filepath.Join(dir, "b.png"), "x", empty); err == nil {
		t.Error("Throughput without a timeline: want an error")
	}
	if err := Search(filepath.Join(dir, "c.png"), "x", 100, []string{"flowsync"}, nil); err == nil {
		t.Error("Search without steps: want an error")
	}
}

func TestCharts(t *testing.T) {
	dir := t.TempDir()
	// Zero latencies must not break the log axis.
	cdf := [][2]float64{{0, 0}, {0.5, 1.5}, {0.99, 20}, {1, 40}}
	rs := []*loadgen.Result{
		{Target: "flowsync", DeliveryLatency: loadgen.Percentiles{Count: 4, P99: 20, CDF: cdf}, AckLatency: loadgen.Percentiles{Count: 4, CDF: cdf},
			Timeline: []loadgen.Progress{{ElapsedS: 1, OpsPerSec: 100, DeliveriesPerSec: 900}, {ElapsedS: 2, OpsPerSec: 110, DeliveriesPerSec: 950}}},
		{Target: "baseline", DragLatency: loadgen.Percentiles{Count: 4, CDF: cdf},
			Timeline: []loadgen.Progress{{ElapsedS: 1, OpsPerSec: 90, DeliveriesPerSec: 800}}},
	}
	for name, draw := range map[string]func(string) error{
		"latency.png":    func(p string) error { return LatencyCDF(p, "t", rs) },
		"throughput.png": func(p string) error { return Throughput(p, "t", rs) },
		"search.png": func(p string) error {
			return Search(p, "t", 100, []string{"flowsync", "baseline"}, map[string][]SearchPoint{
				"flowsync": {{500, 499, 12}, {1000, 990, 30}, {2000, 1500, 400}},
				"baseline": {{500, 480, 0}},
			})
		},
	} {
		path := filepath.Join(dir, name)
		if err := draw(path); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		isPNG(t, path)
	}
}
