package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
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

// WriteMarkdown writes the results as Markdown: one table per scenario,
// a row per figure and a column per target, so that flowsync, the
// baseline and the relay are read side by side, followed by the ratios
// flowsync/baseline and flowsync/relay of each figure (for latencies,
// memory and CPU lower is better, for rates higher is). Rows no result
// has a value for are left out.
func WriteMarkdown(w io.Writer, results []*Result) error {
	var b strings.Builder
	var scenarios []string
	by := map[string][]*Result{}
	for _, r := range results {
		if _, ok := by[r.Scenario]; !ok {
			scenarios = append(scenarios, r.Scenario)
		}
		by[r.Scenario] = append(by[r.Scenario], r)
	}
	for i, sc := range scenarios {
		if i > 0 {
			b.WriteString("\n")
		}
		writeTable(&b, sc, by[sc])
	}
	if len(results) > 0 {
		self, child := false, false
		for _, r := range results {
			switch {
			case strings.HasPrefix(r.ServerProcess, "self"):
				self = true
			case r.ServerProcess != "":
				child = true
			}
		}
		fmt.Fprintf(&b, "\nMachine: %s.", results[0].Machine)
		var loads []string
		for _, r := range results {
			if r.LoadAvg != "" {
				loads = append(loads, r.Target+" "+r.LoadAvg)
			}
		}
		if len(loads) > 0 {
			fmt.Fprintf(&b, " Load average (1/5/15 min) at the end of each run: %s.", strings.Join(loads, "; "))
		}
		if child {
			b.WriteString(" Server CPU (utime+stime, 10 ms ticks) and RSS read from /proc/<pid> of the server process (the harness's child, or --server-pid).")
		}
		if self {
			b.WriteString(" Server CPU and RSS read from /proc/self where the server ran in the load generator's process: those include the load generator.")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// row is one figure of the table: its value for a result, ok false when
// the result has none.
type row struct {
	name string
	val  func(r *Result) (float64, bool)
	prec int
}

func writeTable(b *strings.Builder, scenario string, rs []*Result) {
	var flow, base, relay *Result
	for _, r := range rs {
		switch r.Target {
		case "flowsync":
			flow = r
		case "baseline":
			base = r
		case "relay":
			relay = r
		}
	}
	r0 := rs[0]
	fmt.Fprintf(b, "Scenario **%s**: %d clients, %d rooms", scenario, r0.Clients, r0.Rooms)
	if r0.RatePerClient > 0 {
		fmt.Fprintf(b, ", %g ops/s per client, mix %s", r0.RatePerClient, r0.Mix)
	}
	sameWindow := true
	for _, r := range rs {
		sameWindow = sameWindow && math.Abs(r.WindowS-r0.WindowS) < 0.5
	}
	if r0.WindowS > 0 && sameWindow {
		fmt.Fprintf(b, ", window %.1f s", r0.WindowS)
	}
	if r0.Storm != nil && r0.Storm.Mode != "" {
		fmt.Fprintf(b, ", drop: %s", r0.Storm.Mode)
	}
	b.WriteString(".\n\n| figure |")
	for _, r := range rs {
		fmt.Fprintf(b, " %s (%s) |", r.Target, orDash(r.Store))
	}
	ratios := flow != nil && (base != nil || relay != nil)
	if ratios {
		if base != nil {
			b.WriteString(" flowsync / baseline |")
		}
		if relay != nil {
			b.WriteString(" flowsync / relay |")
		}
	}
	b.WriteString("\n|---|")
	for range rs {
		b.WriteString("---|")
	}
	if ratios {
		if base != nil {
			b.WriteString("---|")
		}
		if relay != nil {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, rw := range rows {
		any := false
		for _, r := range rs {
			if _, ok := rw.val(r); ok {
				any = true
			}
		}
		if !any {
			continue
		}
		fmt.Fprintf(b, "| %s |", rw.name)
		for _, r := range rs {
			if v, ok := rw.val(r); ok {
				fmt.Fprintf(b, " %s |", num(v, rw.prec))
			} else {
				b.WriteString(" – |")
			}
		}
		if ratios {
			for _, other := range []*Result{base, relay} {
				if other == nil {
					continue
				}
				fv, ok1 := rw.val(flow)
				ov, ok2 := rw.val(other)
				if ok1 && ok2 && ov != 0 {
					fmt.Fprintf(b, " %s |", ratio(fv/ov))
				} else {
					b.WriteString(" – |")
				}
			}
		}
		b.WriteString("\n")
	}
}

// num formats v with prec decimals and thousands separators.
func num(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var out []byte
	for i, c := range []byte(intPart) {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	s = string(out)
	if neg {
		s = "-" + s
	}
	if frac != "" {
		s += "." + frac
	}
	return s
}

func pos(v float64) (float64, bool)                 { return v, v > 0 }
func lat(p Percentiles) bool                        { return p.Count > 0 }
func ifWindow(r *Result, v float64) (float64, bool) { return v, r.OpsSent > 0 }

// rows are the figures of the tables, in order.
var rows = []row{
	{"measured window s (storm: until 2 s after the last resync)", func(r *Result) (float64, bool) { return r.WindowS, r.Storm != nil }, 1},
	{"durable ops/s in window (acked before it closed)", func(r *Result) (float64, bool) { return ifWindow(r, r.OpsPerSec) }, 0},
	{"ops sent (window)", func(r *Result) (float64, bool) { return ifWindow(r, float64(r.OpsSent)) }, 0},
	{"ops still unacked after the drain", func(r *Result) (float64, bool) { return float64(r.OpsUnacked), r.OpsSent > 0 }, 0},
	{"ops rejected / apply errors", func(r *Result) (float64, bool) { return float64(r.OpsRejected + r.ApplyErrors), r.OpsSent > 0 }, 0},
	{"deliveries/s in window", func(r *Result) (float64, bool) { return float64(r.DeliveriesPerSec), r.ExpectedDeliveries > 0 }, 0},
	{"delivered / expected (%)", func(r *Result) (float64, bool) {
		if r.ExpectedDeliveries == 0 {
			return 0, false
		}
		return 100 * float64(r.Deliveries) / float64(r.ExpectedDeliveries), true
	}, 1},
	{"own values echoed back", func(r *Result) (float64, bool) { return float64(r.EchoedValues), r.ExpectedDeliveries > 0 }, 0},
	{"delivery p50 ms", func(r *Result) (float64, bool) { return r.DeliveryLatency.P50, lat(r.DeliveryLatency) }, 2},
	{"delivery p99 ms", func(r *Result) (float64, bool) { return r.DeliveryLatency.P99, lat(r.DeliveryLatency) }, 2},
	{"delivery p99.9 ms", func(r *Result) (float64, bool) { return r.DeliveryLatency.P999, lat(r.DeliveryLatency) }, 2},
	{"durable ack p50 ms", func(r *Result) (float64, bool) { return r.AckLatency.P50, lat(r.AckLatency) }, 2},
	{"durable ack p99 ms", func(r *Result) (float64, bool) { return r.AckLatency.P99, lat(r.AckLatency) }, 2},
	{"durable ack p99.9 ms", func(r *Result) (float64, bool) { return r.AckLatency.P999, lat(r.AckLatency) }, 2},
	{"drag calls/s sent", func(r *Result) (float64, bool) {
		if r.DragSent == 0 || r.WindowS == 0 {
			return 0, false
		}
		return float64(r.DragSent) / r.WindowS, true
	}, 0},
	{"drag deliveries/s in window", func(r *Result) (float64, bool) { return r.DragDeliveriesPerSec, r.DragSent > 0 }, 0},
	{"drag delivered / sent × receivers (%)", func(r *Result) (float64, bool) {
		if r.DragExpected == 0 {
			return 0, false
		}
		return 100 * float64(r.DragDeliveries) / float64(r.DragExpected), true
	}, 1},
	{"drag p50 ms", func(r *Result) (float64, bool) { return r.DragLatency.P50, lat(r.DragLatency) }, 2},
	{"drag p99 ms", func(r *Result) (float64, bool) { return r.DragLatency.P99, lat(r.DragLatency) }, 2},
	{"drag p99.9 ms", func(r *Result) (float64, bool) { return r.DragLatency.P999, lat(r.DragLatency) }, 2},
	{"wire bytes per op (all clients, both ways)", func(r *Result) (float64, bool) { return pos(r.BytesPerOp) }, 0},
	{"server CPU s", func(r *Result) (float64, bool) { return r.ServerCPUS, r.ServerProcess != "" }, 2},
	{"load generator CPU s (all clients, same machine)", func(r *Result) (float64, bool) { return pos(r.LoadgenCPUS) }, 2},
	{"server CPU µs per delivery", func(r *Result) (float64, bool) { return pos(r.ServerCPUPerDeliveryU) }, 2},
	{"server RSS MiB (end)", func(r *Result) (float64, bool) { return float64(r.ServerRSSBytes) / (1 << 20), r.ServerRSSBytes > 0 }, 1},
	{"Postgres commits per 1,000 ops", func(r *Result) (float64, bool) { return pgv(r, func(p *PGWrites) float64 { return p.TxPer1kOps }) }, 1},
	{"Postgres row writes per 1,000 ops", func(r *Result) (float64, bool) { return pgv(r, func(p *PGWrites) float64 { return p.RowsPer1kOps }) }, 1},
	{"Postgres WAL bytes per op", func(r *Result) (float64, bool) { return pgv(r, func(p *PGWrites) float64 { return p.WALBytesPerOp }) }, 0},
	{"Postgres commits (run)", func(r *Result) (float64, bool) {
		return pgv(r, func(p *PGWrites) float64 { return float64(p.Transactions) })
	}, 0},
	{"reconnect storm: connections dropped", func(r *Result) (float64, bool) {
		return storm(r, func(s *StormStats) float64 { return float64(s.Dropped) })
	}, 0},
	{"reconnect storm: server restart took (s)", func(r *Result) (float64, bool) {
		if r.Storm == nil || r.Storm.RestartS == 0 {
			return 0, false
		}
		return r.Storm.RestartS, true
	}, 2},
	{"reconnect storm: clients resynced", func(r *Result) (float64, bool) {
		return storm(r, func(s *StormStats) float64 { return float64(s.Resynced) })
	}, 0},
	{"reconnect storm: all resynced after (s)", func(r *Result) (float64, bool) { return storm(r, func(s *StormStats) float64 { return s.ResyncAllS }) }, 2},
	{"reconnect storm: resync p50 s", func(r *Result) (float64, bool) { return storm(r, func(s *StormStats) float64 { return s.ResyncP50S }) }, 2},
	{"reconnect storm: resync p99 s", func(r *Result) (float64, bool) { return storm(r, func(s *StormStats) float64 { return s.ResyncP99S }) }, 2},
	{"reconnect storm: acked values checked", func(r *Result) (float64, bool) {
		if r.Storm == nil || !r.Storm.Verified {
			return 0, false
		}
		return float64(r.Storm.CheckedValues), true
	}, 0},
	{"reconnect storm: acked values lost", func(r *Result) (float64, bool) {
		if r.Storm == nil || !r.Storm.Verified {
			return 0, false
		}
		return float64(r.Storm.Lost), true
	}, 0},
	{"reconnect storm: clients equal to the server's document", func(r *Result) (float64, bool) {
		if r.Storm == nil || !r.Storm.Verified {
			return 0, false
		}
		return float64(r.Storm.ConvergedClient), true
	}, 0},
	{"large join: document blocks", func(r *Result) (float64, bool) {
		return join(r, func(j *JoinStats) float64 { return float64(j.DocBlocks) })
	}, 0},
	{"large join: document bytes", func(r *Result) (float64, bool) {
		return join(r, func(j *JoinStats) float64 { return float64(j.DocBytes) })
	}, 0},
	{"large join: joiners with every block", func(r *Result) (float64, bool) {
		return join(r, func(j *JoinStats) float64 { return float64(j.Complete) })
	}, 0},
	{"large join: join + catch-up p50 ms", func(r *Result) (float64, bool) {
		return join(r, func(j *JoinStats) float64 { return j.JoinLatency.P50 })
	}, 1},
	{"large join: join + catch-up max ms", func(r *Result) (float64, bool) {
		return join(r, func(j *JoinStats) float64 { return j.JoinLatency.Max })
	}, 1},
	{"large join: bytes read per joiner", func(r *Result) (float64, bool) { return join(r, func(j *JoinStats) float64 { return j.BytesPerJoin }) }, 0},
	{"large join: server CPU s", func(r *Result) (float64, bool) { return join(r, func(j *JoinStats) float64 { return j.ServerCPUS }) }, 2},
	{"idle: connections held / opened", func(r *Result) (float64, bool) { return idle(r, func(i *IdleStats) float64 { return float64(i.Held) }) }, 0},
	{"idle: reconnects during the hold", func(r *Result) (float64, bool) {
		return idle(r, func(i *IdleStats) float64 { return float64(i.Reconnects) })
	}, 0},
	{"idle: server RSS before (MiB)", func(r *Result) (float64, bool) {
		return idle(r, func(i *IdleStats) float64 { return float64(i.RSSBeforeBytes) / (1 << 20) })
	}, 1},
	{"idle: server RSS after (MiB)", func(r *Result) (float64, bool) {
		return idle(r, func(i *IdleStats) float64 { return float64(i.RSSAfterBytes) / (1 << 20) })
	}, 1},
	{"idle: server KiB per connection", func(r *Result) (float64, bool) { return idle(r, func(i *IdleStats) float64 { return i.KiBPerConn }) }, 2},
	{"reconnects", func(r *Result) (float64, bool) {
		return float64(r.Reconnects), r.Storm == nil && r.Idle == nil && r.Join == nil
	}, 0},
}

func pgv(r *Result, f func(*PGWrites) float64) (float64, bool) {
	if r.Postgres == nil || r.Postgres.Ops == 0 || r.OpsSent == 0 && r.Join == nil {
		return 0, false
	}
	return f(r.Postgres), true
}

func storm(r *Result, f func(*StormStats) float64) (float64, bool) {
	if r.Storm == nil {
		return 0, false
	}
	return f(r.Storm), true
}

func join(r *Result, f func(*JoinStats) float64) (float64, bool) {
	if r.Join == nil {
		return 0, false
	}
	return f(r.Join), true
}

func idle(r *Result, f func(*IdleStats) float64) (float64, bool) {
	if r.Idle == nil {
		return 0, false
	}
	return f(r.Idle), true
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// ratio formats a ratio; one below 0.1 also as its inverse ("1/229"), so
// that "229× fewer" reads off the table.
func ratio(r float64) string {
	if r > 0 && r < 0.1 {
		return fmt.Sprintf("%.4f× (1/%s)", r, num(1/r, 0))
	}
	return fmt.Sprintf("%.2f×", r)
}
