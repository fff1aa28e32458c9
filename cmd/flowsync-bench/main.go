// Command flowsync-bench runs the benchmark harness: flowsync against the
// baseline (a server that writes every operation in a transaction of its
// own, as the system it replaces does) and a bare relay (BENCHMARKS.md).
//
//	flowsync-bench run --target flowsync,baseline,relay --scenario many-rooms \
//	    --clients 1000 --rooms 100 --rate 20 --duration 30s \
//	    --postgres-url postgres://… --out results/
//
// Scenarios: many-rooms, hot-room (every client in one room), drag-storm
// (live Drag frames, latest-wins relay), typing (keystroke-sized sub-block
// updates, several typists per room), structural (add/remove blocks, edges
// and loop containers), reconnect-storm (every connection drops at once;
// time until all are live and caught up; nothing acked may be lost),
// large-join (K clients join a 10,000-block document) and idle (10,000
// idle connections; server memory per connection). Flags a scenario does
// not set keep its preset (see presets). --mix sets the operation mix
// ("position=50,subblock=40,structural=10,drag=0").
//
// Each target is started in a child process (`flowsync-bench serve`), so
// that the server's CPU time and resident memory read from /proc/<pid> are
// its own; --in-process serves it in this process instead (the figures then
// include the load generator), and --url measures a server already running
// (CPU and memory with --server-pid). Targets run one after the other, on
// the same machine, and land in the same table: results.json, results.md
// and PNG charts in --out. With --postgres-url, the Postgres commits, row
// writes and WAL bytes of each target that stores in Postgres are read from
// pg_stat_database and pg_stat_wal before the server starts and after it
// stopped.
//
//	flowsync-bench search --target flowsync,baseline --clients 20 --rooms 10 …
//
// raises the offered durable-operation rate step by step until the
// durable-ack p99 exceeds --bound or the sustained rate falls below 95% of
// the offered one, for each target, and reports the highest sustained rate
// and the ratio flowsync/baseline (search.json, search.md, search.png).
//
//	flowsync-bench serve --target T [--addr A] [--postgres-url U] [--store S]
//
// serves one target and prints "listening <ws-url>" on stdout.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flowsync/flowsync/benchmarks/charts"
	"github.com/flowsync/flowsync/benchmarks/loadgen"
	"github.com/flowsync/flowsync/benchmarks/pgstats"
	"github.com/flowsync/flowsync/benchmarks/targets"
)

// Scenarios.
const (
	ManyRooms      = "many-rooms"
	HotRoom        = "hot-room"
	DragStorm      = "drag-storm"
	Typing         = "typing"
	Structural     = "structural"
	ReconnectStorm = "reconnect-storm"
	LargeJoin      = "large-join"
	Idle           = "idle"
)

// preset is a scenario's defaults for the flags the command line leaves
// unset.
type preset struct {
	clients, rooms int
	rate           float64
	duration       time.Duration
	mix            string
}

// presets are sized for the goals on a 2-core machine; the smoke
// test and quick runs pass smaller flags.
var presets = map[string]preset{
	ManyRooms:      {1000, 100, 20, 30 * time.Second, loadgen.MixMixed},
	HotRoom:        {100, 1, 5, 30 * time.Second, loadgen.MixMixed},
	DragStorm:      {200, 20, 30, 30 * time.Second, "drag=100"},
	Typing:         {200, 50, 8, 30 * time.Second, "subblock=100"},
	Structural:     {100, 10, 5, 30 * time.Second, "position=20,subblock=20,structural=60"},
	ReconnectStorm: {2000, 200, 1, 0, loadgen.MixMixed},
	LargeJoin:      {20, 1, 0, 0, ""},
	Idle:           {10000, 1000, 0, 0, ""},
}

func scenarioNames() string {
	return strings.Join([]string{ManyRooms, HotRoom, DragStorm, Typing, Structural, ReconnectStorm, LargeJoin, Idle}, "|")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "flowsync-bench:", err)
		os.Exit(1)
	}
}

var usage = `usage:
  flowsync-bench run    --target flowsync|baseline|relay[,…] --scenario ` + scenarioNames() + `
                        [--clients N] [--rooms R] [--rate OPS_PER_CLIENT_PER_S] [--duration D]
                        [--mix position=50,subblock=40,structural=10,drag=0]
                        [--url ws://… [--server-pid PID]] [--postgres-url …] [--store memory|postgres|bolt]
                        [--in-process] [--warmup D] [--storm close|restart] [--doc-blocks N] [--hold D] --out DIR
  flowsync-bench search --target flowsync,baseline [--clients N] [--rooms R] [--start OPS_PER_S]
                        [--factor F] [--step D] [--bound D] [--max OPS_PER_S] [--postgres-url …] --out DIR
  flowsync-bench report --in DIR   (rewrites DIR/results.md and the charts from DIR/results.json)
  flowsync-bench serve  --target T [--addr 127.0.0.1:0] [--postgres-url …] [--store …] [--no-rate-limits]`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
	case "search":
		return searchCmd(ctx, args[1:], stdout, stderr)
	case "report":
		return reportCmd(args[1:], stdout, stderr)
	case "serve":
		return serveCmd(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

type serveFlags struct {
	postgresURL, store, dataDir string
	noRateLimits                bool
	baselinePool                int
}

func (s *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.postgresURL, "postgres-url", os.Getenv("FLOWSYNC_POSTGRES_URL"), "Postgres URL: the baseline's database, and flowsync's store unless --store says otherwise (env FLOWSYNC_POSTGRES_URL); the database is created if missing")
	fs.StringVar(&s.store, "store", "", "flowsync's store: memory, postgres or bolt (default: postgres with --postgres-url, else memory)")
	fs.StringVar(&s.dataDir, "data-dir", "", "directory of the bolt store (default: a temporary directory)")
	fs.IntVar(&s.baselinePool, "baseline-pool", 0, "the baseline's Postgres pool size (default: pgxpool's, max(4, CPUs))")
}

func (s *serveFlags) args() []string {
	a := []string{"--postgres-url", s.postgresURL, "--store", s.store}
	if s.dataDir != "" {
		a = append(a, "--data-dir", s.dataDir)
	}
	if s.noRateLimits {
		a = append(a, "--no-rate-limits")
	}
	if s.baselinePool > 0 {
		a = append(a, "--baseline-pool", strconv.Itoa(s.baselinePool))
	}
	return a
}

func (s *serveFlags) options() (targets.Options, func(), error) {
	o := targets.Options{PostgresURL: s.postgresURL, Store: s.store, DataDir: s.dataDir, NoRateLimits: s.noRateLimits, BaselinePool: int32(s.baselinePool)}
	cleanup := func() {}
	if s.store == "bolt" && s.dataDir == "" {
		dir, err := os.MkdirTemp("", "flowsync-bench-")
		if err != nil {
			return o, nil, err
		}
		o.DataDir = dir
		cleanup = func() { os.RemoveAll(dir) }
	}
	return o, cleanup, nil
}

// storesInPostgres reports whether the target keeps its operations in
// Postgres with these flags.
func (s *serveFlags) storesInPostgres(name string) bool {
	return s.postgresURL != "" && strings.HasPrefix(targets.StoreLabel(name, targets.Options{PostgresURL: s.postgresURL, Store: s.store}), "postgres")
}

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "flowsync, baseline or relay")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	var sf serveFlags
	sf.register(fs)
	fs.BoolVar(&sf.noRateLimits, "no-rate-limits", false, "flowsync: turn the per-connection frame and byte rate limits off")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server to this file (until it stops)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	o, cleanup, err := sf.options()
	if err != nil {
		return err
	}
	defer cleanup()
	o.Addr = *addr
	srv, err := targets.Start(ctx, *target, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "listening", srv.URL)
	<-ctx.Done()
	if *cpuProfile != "" {
		pprof.StopCPUProfile() // before the shutdown, which is not what was measured
	}
	// Goroutines started while serving: each costs a start and, for work
	// deeper than 2 KiB of stack, a stack copy: a hand-off the server pays per delivery.
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(created)
	if created[0].Value.Kind() == metrics.KindUint64 {
		fmt.Fprintln(os.Stderr, "goroutines created", created[0].Value.Uint64())
	}
	return srv.Stop()
}

// server is a started target (or one given by --url).
type server struct {
	url        string
	pid        int
	inProcess  bool
	stop       func() error
	pgBefore   pgstats.Snapshot
	pgMeasured bool
}

// startServer starts the named target as --url, --in-process or a child
// process say, reading the Postgres counters first when it stores there.
func startServer(ctx context.Context, name, url string, serverPID int, inProcess bool, sf serveFlags, stderr io.Writer) (*server, error) {
	s := &server{url: url, pid: serverPID, stop: func() error { return nil }}
	if sf.storesInPostgres(name) {
		if err := pgstats.EnsureDatabase(ctx, sf.postgresURL); err != nil {
			return nil, err
		}
		snap, err := pgstats.Read(ctx, sf.postgresURL)
		if err != nil {
			fmt.Fprintf(stderr, "%s: no Postgres figures: %v\n", name, err)
		} else {
			s.pgBefore, s.pgMeasured = snap, true
		}
	}
	switch {
	case url != "":
	case inProcess:
		o, cleanup, err := sf.options()
		if err != nil {
			return nil, err
		}
		srv, err := targets.Start(ctx, name, o)
		if err != nil {
			cleanup()
			return nil, err
		}
		s.url, s.inProcess = srv.URL, true
		s.stop = func() error { defer cleanup(); return srv.Stop() }
	default:
		u, pid, stop, err := startChild(ctx, name, "", sf, stderr)
		if err != nil {
			return nil, err
		}
		s.url, s.pid, s.stop = u, pid, stop
	}
	return s, nil
}

// pgOps is what Postgres writes are divided by: the operations the target
// made durable (setup edits included). Not the operations sent: a
// saturated baseline never commits its backlog, and dividing its commits
// by operations it never wrote would flatter it.
func pgOps(res *loadgen.Result) int64 { return res.SetupOps + res.OpsDurable }

// restart stops the child server and starts it again on the same address
// (RunReconnectStorm's server-restart mode) and returns the new pid.
func (s *server) restart(ctx context.Context, name string, sf serveFlags, stderr io.Writer) (int, error) {
	u, err := neturl.Parse(s.url)
	if err != nil {
		return 0, err
	}
	if err := s.stop(); err != nil {
		fmt.Fprintf(stderr, "%s: stopping the server for the restart: %v\n", name, err)
	}
	nu, pid, stop, err := startChild(ctx, name, u.Host, sf, stderr)
	if err != nil {
		return 0, err
	}
	if nu != s.url {
		_ = stop()
		return 0, fmt.Errorf("the restarted server listens at %s, not %s", nu, s.url)
	}
	s.pid, s.stop = pid, stop
	return pid, nil
}

// finish stops the server and fills in the Postgres figures of res (after
// the stop, so that every backend of the server has published its
// counters; with --url, after pgstats.Settle).
func (s *server) finish(ctx context.Context, name string, res *loadgen.Result, sf serveFlags, external bool, stderr io.Writer) {
	if err := s.stop(); err != nil {
		fmt.Fprintf(stderr, "%s: stopping the server: %v\n", name, err)
	}
	if !s.pgMeasured || res == nil {
		return
	}
	if external {
		fmt.Fprintf(stderr, "%s: waiting %s for Postgres to publish the server's counters\n", name, pgstats.Settle)
		select {
		case <-time.After(pgstats.Settle):
		case <-ctx.Done():
			return
		}
	}
	after, err := pgstats.Read(context.WithoutCancel(ctx), sf.postgresURL)
	if err != nil {
		fmt.Fprintf(stderr, "%s: no Postgres figures: %v\n", name, err)
		return
	}
	res.Postgres = pgstats.Diff(s.pgBefore, after, pgOps(res))
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	targetList := fs.String("target", targets.Flowsync, "comma-separated targets: flowsync, baseline, relay (run one after the other)")
	scenario := fs.String("scenario", ManyRooms, scenarioNames())
	clients := fs.Int("clients", 0, "websocket clients (large-join: joiners); default: the scenario's preset")
	rooms := fs.Int("rooms", 0, "rooms (workflows); default: the scenario's preset")
	rate := fs.Float64("rate", 0, "operations per client per second; default: the scenario's preset")
	duration := fs.Duration("duration", 0, "measured window; default: the scenario's preset")
	mix := fs.String("mix", "", "operation mix, e.g. position=50,subblock=40,structural=10,drag=0 (or mixed, positions, typing); default: the scenario's preset")
	url := fs.String("url", "", "measure a server already running at this websocket URL (one target)")
	serverPID := fs.Int("server-pid", 0, "with --url: the server's process id, for its CPU and RSS")
	inProcess := fs.Bool("in-process", false, "serve the target in this process (CPU/RSS then include the load generator)")
	warmup := fs.Duration("warmup", 5*time.Second, "reconnect-storm: editing time before every connection drops")
	stormTimeout := fs.Duration("storm-timeout", 120*time.Second, "reconnect-storm: how long to wait for every client to resync")
	docBlocks := fs.Int("doc-blocks", 10_000, "large-join: blocks in the document")
	hold := fs.Duration("hold", 10*time.Second, "idle: how long the connections are held")
	storm := fs.String("storm", "close", "reconnect-storm: how every connection drops: close (the load generator closes them all) or restart (the child server is stopped and started again on the same address)")
	drain := fs.Duration("drain", 10*time.Second, "how long to wait for outstanding durable acks after the window")
	connectTimeout := fs.Duration("connect-timeout", 120*time.Second, "bound on connecting every client")
	noCharts := fs.Bool("no-charts", false, "do not write PNG charts")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the load generator (not the server) to this file")
	out := fs.String("out", "results", "output directory for results.json, results.md and the charts")
	var sf serveFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	p, ok := presets[*scenario]
	if !ok {
		return fmt.Errorf("unknown scenario %q (want %s)", *scenario, scenarioNames())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["clients"] {
		*clients = p.clients
	}
	if !set["rooms"] {
		*rooms = p.rooms
	}
	if !set["rate"] {
		*rate = p.rate
	}
	if !set["duration"] {
		*duration = p.duration
	}
	if !set["mix"] {
		*mix = p.mix
	}
	if *scenario == HotRoom || *scenario == LargeJoin {
		*rooms = 1
	}
	switch {
	case *storm != "close" && *storm != "restart":
		return fmt.Errorf("--storm %q: want close or restart", *storm)
	case *storm == "restart" && (*url != "" || *inProcess):
		return errors.New("--storm restart needs the harness's own child server (no --url, no --in-process)")
	}
	if _, err := loadgen.ParseMix(*mix); err != nil && *mix != "" {
		return err
	}
	names := strings.Split(*targetList, ",")
	if *url != "" && len(names) != 1 {
		return errors.New("--url measures one target")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	// Each connection is a descriptor here and one in the child server
	// (which inherits the raised limit).
	if soft, hard, err := loadgen.RaiseNoFile(); err != nil {
		fmt.Fprintf(stderr, "raising RLIMIT_NOFILE: %v\n", err)
	} else if need := uint64(*clients) + 256; soft < need {
		fmt.Fprintf(stderr, "RLIMIT_NOFILE is %d (hard limit %d): too low for %d connections; raise the hard limit (ulimit -Hn, limits.conf, LimitNOFILE)\n", soft, hard, *clients)
	} else {
		fmt.Fprintf(stderr, "RLIMIT_NOFILE raised to %d (hard limit %d)\n", soft, hard)
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var results []*loadgen.Result
	for _, name := range names {
		cfg := loadgen.Config{
			Clients: *clients, Rooms: *rooms, Rate: *rate, Duration: *duration, Mix: *mix,
			Drain: *drain, ConnectTimeout: *connectTimeout,
			StormWarmup: *warmup, StormTimeout: *stormTimeout, DocBlocks: *docBlocks, Hold: *hold,
			Target: name, Scenario: *scenario,
			Progress: func(p loadgen.Progress) { fmt.Fprintf(stderr, "%-8s %s\n", name, p) },
		}
		if *url == "" {
			cfg.Store = targets.StoreLabel(name, targets.Options{PostgresURL: sf.postgresURL, Store: sf.store})
		}
		srv, err := startServer(ctx, name, *url, *serverPID, *inProcess, sf, stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		cfg.URL, cfg.ServerPID, cfg.ServerInProcess = srv.url, srv.pid, srv.inProcess
		fmt.Fprintf(stderr, "%s: %s, %d clients in %d rooms, %g ops/s each, mix %q, at %s (load average %s)\n",
			name, *scenario, *clients, *rooms, *rate, *mix, cfg.URL, loadgen.LoadAvg())
		var res *loadgen.Result
		switch *scenario {
		case ReconnectStorm:
			if *storm == "restart" {
				cfg.Restart = func(ctx context.Context) (int, error) { return srv.restart(ctx, name, sf, stderr) }
			}
			res, err = loadgen.RunReconnectStorm(ctx, cfg)
		case LargeJoin:
			res, err = loadgen.RunLargeJoin(ctx, cfg)
		case Idle:
			res, err = loadgen.RunIdle(ctx, cfg)
		default:
			res, err = loadgen.Run(ctx, cfg)
		}
		srv.finish(ctx, name, res, sf, *url != "", stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		results = append(results, res)
		if err := write(*out, results); err != nil {
			return err
		}
		if !*noCharts {
			writeCharts(*out, *scenario, results, stderr)
		}
	}
	if err := loadgen.WriteMarkdown(stdout, results); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s and %s\n", filepath.Join(*out, "results.json"), filepath.Join(*out, "results.md"))
	return nil
}

// writeCharts draws <scenario>-latency.png and <scenario>-throughput.png
// when the results have what they show (an idle run has no latencies).
func writeCharts(dir, scenario string, results []*loadgen.Result, stderr io.Writer) {
	title := fmt.Sprintf("%s: %d clients, %d rooms", scenario, results[0].Clients, results[0].Rooms)
	var lat, thr bool
	for _, r := range results {
		lat = lat || len(r.DeliveryLatency.CDF)+len(r.AckLatency.CDF)+len(r.DragLatency.CDF) > 0
		thr = thr || (len(r.Timeline) > 0 && r.OpsSent+r.DragSent > 0)
	}
	if lat {
		if err := charts.LatencyCDF(filepath.Join(dir, scenario+"-latency.png"), title+" — latency CDF", results); err != nil {
			fmt.Fprintf(stderr, "latency chart: %v\n", err)
		}
	}
	if thr {
		if err := charts.Throughput(filepath.Join(dir, scenario+"-throughput.png"), title+" — per second", results); err != nil {
			fmt.Fprintf(stderr, "throughput chart: %v\n", err)
		}
	}
}

// write (re)writes results.json and results.md with every result so far.
func write(dir string, results []*loadgen.Result) error {
	return writeFiles(dir, map[string]func(io.Writer) error{
		"results.json": func(w io.Writer) error { return loadgen.WriteJSON(w, results) },
		"results.md":   func(w io.Writer) error { return loadgen.WriteMarkdown(w, results) },
	})
}

func writeFiles(dir string, files map[string]func(io.Writer) error) error {
	for name, fn := range files {
		fh, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		err = fn(fh)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// startChild runs `flowsync-bench serve` for the target and waits for its
// "listening" line.
func startChild(ctx context.Context, name, addr string, sf serveFlags, stderr io.Writer) (url string, pid int, stop func() error, err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	cmd := exec.Command(exe, append([]string{"serve", "--target", name, "--addr", addr}, sf.args()...)...)
	cmd.Stderr = stderr
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop = func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			return <-done
		}
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(outPipe)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				lines <- u
			}
		}
		close(lines)
	}()
	select {
	case u, ok := <-lines:
		if !ok {
			_ = stop()
			return "", 0, nil, fmt.Errorf("%s: the server exited before listening", name)
		}
		return u, cmd.Process.Pid, stop, nil
	case <-time.After(60 * time.Second):
		_ = stop()
		return "", 0, nil, fmt.Errorf("%s: the server did not listen within 60 s", name)
	case <-ctx.Done():
		_ = stop()
		return "", 0, nil, ctx.Err()
	}
}

// reportCmd rewrites results.md and the charts of a run directory from its
// results.json (after a change to the tables or charts, without running
// the load again). The Postgres per-operation figures are recomputed from
// the raw counters.
func reportCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "a run's output directory (holding results.json)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(*in, "results.json"))
	if err != nil {
		return err
	}
	var results []*loadgen.Result
	if err := json.Unmarshal(b, &results); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(*in, "results.json"), err)
	}
	if len(results) == 0 {
		return errors.New("report: no results")
	}
	for _, r := range results {
		if p := r.Postgres; p != nil {
			before := pgstats.Snapshot{Database: p.Database, HasWAL: p.WALBytes > 0}
			after := pgstats.Snapshot{Database: p.Database, XactCommit: p.Transactions + 1, TupInserted: p.RowsInserted,
				TupUpdated: p.RowsUpdated, TupDeleted: p.RowsDeleted, WALBytes: p.WALBytes, HasWAL: p.WALBytes > 0}
			note := p.OtherActivity
			r.Postgres = pgstats.Diff(before, after, pgOps(r))
			r.Postgres.OtherActivity = note
		}
	}
	if err := write(*in, results); err != nil {
		return err
	}
	writeCharts(*in, results[0].Scenario, results, stderr)
	return loadgen.WriteMarkdown(stdout, results)
}
