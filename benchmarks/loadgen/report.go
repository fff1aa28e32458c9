package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

type crdtCell = crdt.Dotted[workflow.Cell]

// cpuModel is the first "model name" of /proc/cpuinfo, or "unknown CPU".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// WriteJSON writes the results as indented JSON.
func WriteJSON(w io.Writer, results []*Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}

// WriteMarkdown writes the results as one Markdown table. When a result of
// target "baseline" is present, the durable ops/s of each row is also given
// as a ratio to the baseline's on the same scenario.
func WriteMarkdown(w io.Writer, results []*Result) error {
	base := map[string]*Result{}
	for _, r := range results {
		if r.Target == "baseline" {
			base[r.Scenario] = r
		}
	}
	var b strings.Builder
	b.WriteString("| target | store | scenario | clients / rooms | ops/s per client | durable ops/s in window | × baseline | deliveries/s in window (all delivered / expected) | delivery p50 / p99 / p999 ms | durable ack p50 / p99 / p999 ms | unacked | wire bytes/op | server CPU µs/delivery | server RSS MiB |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		ratio := "–"
		if br := base[r.Scenario]; br != nil && br.OpsPerSec > 0 {
			ratio = fmt.Sprintf("%.2f", r.OpsPerSec/br.OpsPerSec)
		}
		share := "–"
		if r.ExpectedDeliveries > 0 {
			share = fmt.Sprintf("%.0f%%", 100*float64(r.Deliveries)/float64(r.ExpectedDeliveries))
		}
		if r.DuplicateDeliveries > 0 {
			share += fmt.Sprintf(", %d dup", r.DuplicateDeliveries)
		}
		if r.EchoedValues > 0 {
			share += fmt.Sprintf(", %d echoed", r.EchoedValues)
		}
		cpu, rss := "–", "–"
		if r.ServerProcess != "" {
			cpu = fmt.Sprintf("%.1f", r.ServerCPUPerDeliveryU)
			rss = fmt.Sprintf("%.1f", float64(r.ServerRSSBytes)/(1<<20))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d / %d | %g | %.0f | %s | %.0f (%s) | %.2f / %.2f / %.2f | %.2f / %.2f / %.2f | %d | %.0f | %s | %s |\n",
			r.Target, orDash(r.Store), r.Scenario, r.Clients, r.Rooms, r.RatePerClient, r.OpsPerSec, ratio,
			r.DeliveriesPerSec, share,
			r.DeliveryLatency.P50, r.DeliveryLatency.P99, r.DeliveryLatency.P999,
			r.AckLatency.P50, r.AckLatency.P99, r.AckLatency.P999,
			r.OpsUnacked, r.BytesPerOp, cpu, rss)
	}
	if len(results) > 0 {
		procs := map[string]bool{}
		for _, r := range results {
			if r.ServerProcess != "" {
				procs[r.ServerProcess] = true
			}
		}
		fmt.Fprintf(&b, "\nMachine: %s. Window %.0f s per run; mix %s.", results[0].Machine, results[0].WindowS, results[0].Mix)
		self, child := false, false
		for p := range procs {
			if strings.HasPrefix(p, "self") {
				self = true
			} else {
				child = true
			}
		}
		if child {
			b.WriteString(" Server CPU (utime+stime, 10 ms ticks) and RSS read from /proc/<pid> of the server's own child process.")
		}
		if self {
			b.WriteString(" Server CPU and RSS read from /proc/self where the server ran in the load generator's process: those include the load generator.")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
