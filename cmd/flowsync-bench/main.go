// Command flowsync-bench runs the benchmark harness of issue 7.
//
//	flowsync-bench run --target flowsync,baseline,relay --scenario many-rooms \
//	    --clients 100 --rooms 10 --rate 5 --duration 10s \
//	    --postgres-url postgres://… --out results/
//
// Each target is started in a child process (`flowsync-bench serve`), so
// that the server's CPU time and resident memory read from /proc/<pid> are
// its own; --in-process serves it in this process instead (the figures then
// include the load generator), and --url measures a server already running
// (no CPU or memory figures). Targets run one after the other, on the same
// machine, and land in the same table: results.json and results.md in --out.
//
//	flowsync-bench serve --target T [--addr A] [--postgres-url U] [--store S]
//
// serves one target and prints "listening <ws-url>" on stdout.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/flowsync/flowsync/benchmarks/loadgen"
	"github.com/flowsync/flowsync/benchmarks/targets"
)

// Scenarios.
const (
	ManyRooms = "many-rooms"
	HotRoom   = "hot-room"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "flowsync-bench:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  flowsync-bench run   --target flowsync|baseline|relay[,…] --scenario many-rooms|hot-room
                       --clients N --rooms R --rate OPS_PER_CLIENT_PER_S --duration D
                       [--url ws://…] [--postgres-url …] [--store memory|postgres|bolt]
                       [--mix mixed|positions|typing] [--in-process] --out DIR
  flowsync-bench serve --target T [--addr 127.0.0.1:0] [--postgres-url …] [--store …]`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "run":
		return runCmd(ctx, args[1:], stdout, stderr)
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
}

func (s *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.postgresURL, "postgres-url", os.Getenv("FLOWSYNC_POSTGRES_URL"), "Postgres URL: the baseline's database, and flowsync's store unless --store says otherwise (env FLOWSYNC_POSTGRES_URL)")
	fs.StringVar(&s.store, "store", "", "flowsync's store: memory, postgres or bolt (default: postgres with --postgres-url, else memory)")
	fs.StringVar(&s.dataDir, "data-dir", "", "directory of the bolt store (default: a temporary directory)")
}

func (s *serveFlags) args() []string {
	a := []string{"--postgres-url", s.postgresURL, "--store", s.store}
	if s.dataDir != "" {
		a = append(a, "--data-dir", s.dataDir)
	}
	return a
}

func (s *serveFlags) options() (targets.Options, func(), error) {
	o := targets.Options{PostgresURL: s.postgresURL, Store: s.store, DataDir: s.dataDir}
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

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "flowsync, baseline or relay")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	var sf serveFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
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
	return srv.Stop()
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	targetList := fs.String("target", targets.Flowsync, "comma-separated targets: flowsync, baseline, relay (run one after the other)")
	scenario := fs.String("scenario", ManyRooms, "many-rooms or hot-room (hot-room puts every client in one room)")
	clients := fs.Int("clients", 100, "websocket clients")
	rooms := fs.Int("rooms", 10, "rooms (workflows); hot-room: 1")
	rate := fs.Float64("rate", 5, "operations per client per second")
	duration := fs.Duration("duration", 10*time.Second, "measured window")
	mix := fs.String("mix", loadgen.MixMixed, "operation mix: mixed, positions or typing")
	url := fs.String("url", "", "measure a server already running at this websocket URL (one target; no CPU/memory figures)")
	inProcess := fs.Bool("in-process", false, "serve the target in this process (CPU/RSS then include the load generator)")
	out := fs.String("out", "results", "output directory for results.json and results.md")
	var sf serveFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch *scenario {
	case ManyRooms:
	case HotRoom:
		*rooms = 1
	default:
		return fmt.Errorf("unknown scenario %q (want many-rooms or hot-room)", *scenario)
	}
	names := strings.Split(*targetList, ",")
	if *url != "" && len(names) != 1 {
		return errors.New("--url measures one target")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var results []*loadgen.Result
	for _, name := range names {
		cfg := loadgen.Config{
			URL: *url, Clients: *clients, Rooms: *rooms, Rate: *rate, Duration: *duration, Mix: *mix,
			Target: name, Scenario: *scenario,
			Progress: func(p loadgen.Progress) { fmt.Fprintf(stderr, "%-8s %s\n", name, p) },
		}
		if *url == "" {
			cfg.Store = targets.StoreLabel(name, targets.Options{PostgresURL: sf.postgresURL, Store: sf.store})
		}
		var stopServer func() error
		switch {
		case *url != "":
		case *inProcess:
			o, cleanup, err := sf.options()
			if err != nil {
				return err
			}
			srv, err := targets.Start(ctx, name, o)
			if err != nil {
				cleanup()
				return err
			}
			cfg.URL, cfg.ServerInProcess = srv.URL, true
			stopServer = func() error { defer cleanup(); return srv.Stop() }
		default:
			u, pid, stop, err := startChild(ctx, name, sf, stderr)
			if err != nil {
				return err
			}
			cfg.URL, cfg.ServerPID, stopServer = u, pid, stop
		}
		fmt.Fprintf(stderr, "%s: %s, %d clients in %d rooms, %g ops/s each, %s at %s\n", name, *scenario, *clients, *rooms, *rate, *duration, cfg.URL)
		res, err := loadgen.Run(ctx, cfg)
		if stopServer != nil {
			if serr := stopServer(); serr != nil && err == nil {
				fmt.Fprintf(stderr, "%s: stopping the server: %v\n", name, serr)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		results = append(results, res)
		if err := write(*out, results); err != nil {
			return err
		}
	}
	if err := loadgen.WriteMarkdown(stdout, results); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s and %s\n", filepath.Join(*out, "results.json"), filepath.Join(*out, "results.md"))
	return nil
}

// write (re)writes results.json and results.md with every result so far.
func write(dir string, results []*loadgen.Result) error {
	for _, f := range []struct {
		name string
		fn   func(io.Writer, []*loadgen.Result) error
	}{{"results.json", loadgen.WriteJSON}, {"results.md", loadgen.WriteMarkdown}} {
		fh, err := os.Create(filepath.Join(dir, f.name))
		if err != nil {
			return err
		}
		err = f.fn(fh, results)
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
func startChild(ctx context.Context, name string, sf serveFlags, stderr io.Writer) (url string, pid int, stop func() error, err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(exe, append([]string{"serve", "--target", name}, sf.args()...)...)
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
