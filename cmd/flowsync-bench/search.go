package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/flowsync/flowsync/benchmarks/charts"
	"github.com/flowsync/flowsync/benchmarks/loadgen"
	"github.com/flowsync/flowsync/benchmarks/targets"
)

// searchStep is one offered rate of a max-throughput search.
type searchStep struct {
	OfferedPerSec   float64 `json:"offered_ops_per_s"`
	SustainedPerSec float64 `json:"sustained_ops_per_s"` // durable acks in the window / window
	AckP99Ms        float64 `json:"ack_p99_ms"`
	DeliveryP99Ms   float64 `json:"delivery_p99_ms"`
	Unacked         int64   `json:"unacked_after_drain"`
	ServerCPUS      float64 `json:"server_cpu_s"`
	Pass            bool    `json:"pass"`
	Why             string  `json:"why,omitempty"`
	LoadAvg         string  `json:"load_average"`
}

// searchResult is one target's search.
type searchResult struct {
	Target       string       `json:"target"`
	Store        string       `json:"store"`
	Steps        []searchStep `json:"steps"`
	MaxSustained float64      `json:"max_sustained_ops_per_s"` // best passing step
	MaxOffered   float64      `json:"max_passing_offered_ops_per_s"`
	// Postgres is what the target wrote over the whole search (every step,
	// setup edits included), per operation made durable.
	Postgres *loadgen.PGWrites `json:"postgres,omitempty"`
	ops      int64
}

// searchCmd runs the max-throughput search (see the package doc): per
// target, one server for every step, fresh rooms per step.
func searchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	fs.SetOutput(stderr)
	targetList := fs.String("target", "flowsync,baseline", "comma-separated targets")
	clients := fs.Int("clients", 20, "websocket clients; the offered rate is spread evenly over them (few clients per room keep the load generator's delivery work small, so that the search measures the durable write path)")
	rooms := fs.Int("rooms", 10, "rooms")
	start := fs.Float64("start", 250, "first offered rate, durable ops/s in all")
	factor := fs.Float64("factor", 1.5, "rate multiplier between steps")
	step := fs.Duration("step", 5*time.Second, "measured window per step")
	bound := fs.Duration("bound", 100*time.Millisecond, "durable-ack p99 bound")
	maxRate := fs.Float64("max", 200_000, "stop raising at this offered rate")
	refine := fs.Int("refine", 2, "bisection steps between the last passing and the first failing rate")
	retries := fs.Int("retries", 1, "times a failing rate is tried again before it counts as failed (a shared machine has stalls)")
	mix := fs.String("mix", loadgen.MixMixed, "operation mix (durable kinds)")
	inProcess := fs.Bool("in-process", false, "serve the targets in this process (CPU figures then include the load generator)")
	out := fs.String("out", "results", "output directory for search.json, search.md and search.png")
	var sf serveFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *factor <= 1 || *start <= 0 || *clients <= 0 || *rooms <= 0 || *rooms > *clients {
		return errors.New("search: want --factor > 1, --start > 0, 0 < --rooms ≤ --clients")
	}
	if m, err := loadgen.ParseMix(*mix); err != nil {
		return err
	} else if m.Has(loadgen.KindDrag) {
		return errors.New("search: the mix must be durable operations only (no drag)")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	sf.noRateLimits = true
	var all []*searchResult
	for _, name := range strings.Split(*targetList, ",") {
		sr := &searchResult{Target: name, Store: targets.StoreLabel(name, targets.Options{PostgresURL: sf.postgresURL, Store: sf.store})}
		all = append(all, sr)
		srv, err := startServer(ctx, name, "", 0, *inProcess, sf, stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		err = searchTarget(ctx, sr, srv, *clients, *rooms, *start, *factor, *maxRate, *step, *bound, *refine, *retries, *mix, stderr)
		total := &loadgen.Result{SetupOps: sr.ops}
		srv.finish(ctx, name, total, sf, false, stderr)
		sr.Postgres = total.Postgres
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := writeSearch(*out, all, *bound, *clients, *rooms, *step); err != nil {
			return err
		}
	}
	md, _ := os.ReadFile(filepath.Join(*out, "search.md"))
	_, err := stdout.Write(md)
	return err
}

func searchTarget(ctx context.Context, sr *searchResult, srv *server, clients, rooms int, start, factor, maxRate float64,
	step, bound time.Duration, refine, retries int, mix string, stderr io.Writer) error {
	try1 := func(offered float64) (searchStep, error) {
		cfg := loadgen.Config{
			URL: srv.url, ServerPID: srv.pid, ServerInProcess: srv.inProcess, Clients: clients, Rooms: rooms,
			Rate: offered / float64(clients), Duration: step, Drain: 3 * time.Second, Mix: mix,
			Target: sr.Target, Scenario: "search", Store: sr.Store,
			Progress: func(p loadgen.Progress) { fmt.Fprintf(stderr, "%-8s %8.0f/s offered  %s\n", sr.Target, offered, p) },
		}
		res, err := loadgen.Run(ctx, cfg)
		if err != nil {
			return searchStep{}, err
		}
		st := searchStep{
			OfferedPerSec: offered, SustainedPerSec: res.OpsPerSec, AckP99Ms: res.AckLatency.P99,
			DeliveryP99Ms: res.DeliveryLatency.P99, Unacked: res.OpsUnacked, ServerCPUS: res.ServerCPUS, LoadAvg: res.LoadAvg,
		}
		var why []string
		if st.AckP99Ms > float64(bound)/1e6 {
			why = append(why, fmt.Sprintf("ack p99 %.1f ms > %s", st.AckP99Ms, bound))
		}
		if st.SustainedPerSec < 0.95*offered {
			why = append(why, fmt.Sprintf("sustained %.0f/s < 95%% of offered", st.SustainedPerSec))
		}
		st.Pass, st.Why = len(why) == 0, strings.Join(why, "; ")
		fmt.Fprintf(stderr, "%s: offered %.0f/s → sustained %.0f/s, ack p99 %.1f ms: %s\n", sr.Target, offered, st.SustainedPerSec, st.AckP99Ms, map[bool]string{true: "pass", false: "FAIL (" + st.Why + ")"}[st.Pass])
		sr.Steps = append(sr.Steps, st)
		sr.ops += pgOps(res)
		if st.Pass && st.SustainedPerSec > sr.MaxSustained {
			sr.MaxSustained, sr.MaxOffered = st.SustainedPerSec, offered
		}
		return st, nil
	}
	return walkRates(start, factor, maxRate, refine, retries, func(offered float64) (bool, error) {
		st, err := try1(offered)
		return st.Pass, err
	})
}

// walkRates is the search's choice of rates: from start it multiplies the
// offered rate by factor while each rate passes and stays within maxRate,
// then narrows refine times between the last passing and the first failing
// rate (geometric midpoints). A failing rate is tried again up to retries
// times: one stall of a shared machine should not end the search. step runs
// one measured window at a rate and says whether it passed.
func walkRates(start, factor, maxRate float64, refine, retries int, step func(offered float64) (bool, error)) error {
	try := func(offered float64) (bool, error) {
		for i := 0; i < retries; i++ {
			if ok, err := step(offered); err != nil || ok {
				return ok, err
			}
		}
		return step(offered)
	}
	pass, fail := 0.0, 0.0
	for offered := start; offered <= maxRate; offered *= factor {
		ok, err := try(offered)
		if err != nil {
			return err
		}
		if !ok {
			fail = offered
			break
		}
		pass = offered
	}
	for range refine {
		if fail == 0 {
			break
		}
		lo := math.Max(pass, start/factor)
		mid := math.Sqrt(lo * fail)
		ok, err := try(mid)
		if err != nil {
			return err
		}
		if ok {
			pass = mid
		} else {
			fail = mid
		}
	}
	return nil
}

func writeSearch(dir string, all []*searchResult, bound time.Duration, clients, rooms int, step time.Duration) error {
	var flow, base *searchResult
	for _, sr := range all {
		switch sr.Target {
		case targets.Flowsync:
			flow = sr
		case targets.Baseline:
			base = sr
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Max sustained durable ops/s: %d clients in %d rooms, %s per step, pass = durable-ack p99 ≤ %s and sustained ≥ 95%% of offered.\n\n", clients, rooms, step, bound)
	b.WriteString("| target | store | max sustained durable ops/s | at offered ops/s | Postgres commits per 1,000 ops (whole search) | steps (offered → sustained, ack p99) |")
	if flow != nil && base != nil {
		b.WriteString(" flowsync / baseline |")
	}
	b.WriteString("\n|---|---|---|---|---|---|")
	if flow != nil && base != nil {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, sr := range all {
		var steps []string
		for _, s := range sr.Steps {
			mark := "✓"
			if !s.Pass {
				mark = "✗"
			}
			steps = append(steps, fmt.Sprintf("%.0f → %.0f, %.1f ms %s", s.OfferedPerSec, s.SustainedPerSec, s.AckP99Ms, mark))
		}
		writes := "–"
		if sr.Postgres != nil && sr.Postgres.Ops > 0 {
			writes = fmt.Sprintf("%.1f", sr.Postgres.TxPer1kOps)
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %s | %s |", sr.Target, sr.Store, sr.MaxSustained, sr.MaxOffered, writes, strings.Join(steps, "; "))
		if flow != nil && base != nil {
			if sr == flow && base.MaxSustained > 0 {
				fmt.Fprintf(&b, " %.1f× |", flow.MaxSustained/base.MaxSustained)
			} else {
				b.WriteString(" – |")
			}
		}
		b.WriteString("\n")
	}
	if flow != nil && base != nil && base.MaxSustained > 0 {
		fmt.Fprintf(&b, "\nflowsync / baseline: %.1f× the sustained durable ops/s", flow.MaxSustained/base.MaxSustained)
		if flow.Postgres != nil && base.Postgres != nil && flow.Postgres.TxPer1kOps > 0 {
			fmt.Fprintf(&b, "; %.1f× fewer Postgres commits per operation", base.Postgres.TxPer1kOps/flow.Postgres.TxPer1kOps)
		}
		b.WriteString(".\n")
	}
	fmt.Fprintf(&b, "\nMachine: %s. Load average at the end: %s.\n", loadgen.Machine(), loadgen.LoadAvg())
	points := map[string][]charts.SearchPoint{}
	var names []string
	for _, sr := range all {
		names = append(names, sr.Target)
		for _, s := range sr.Steps {
			points[sr.Target] = append(points[sr.Target], charts.SearchPoint{OfferedPerSec: s.OfferedPerSec, SustainedPerSec: s.SustainedPerSec, AckP99Ms: s.AckP99Ms})
		}
	}
	err := writeFiles(dir, map[string]func(io.Writer) error{
		"search.json": func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(all)
		},
		"search.md": func(w io.Writer) error { _, err := io.WriteString(w, b.String()); return err },
	})
	if err != nil {
		return err
	}
	if err := charts.Search(filepath.Join(dir, "search.png"), "max-throughput search", float64(bound)/1e6, names, sortedByOffered(points)); err != nil {
		return fmt.Errorf("search chart: %w", err)
	}
	return nil
}

// sortedByOffered orders each target's steps by offered rate (bisection
// steps come after the step that failed).
func sortedByOffered(m map[string][]charts.SearchPoint) map[string][]charts.SearchPoint {
	for _, pts := range m {
		slices.SortStableFunc(pts, func(a, b charts.SearchPoint) int { return cmp.Compare(a.OfferedPerSec, b.OfferedPerSec) })
	}
	return m
}
