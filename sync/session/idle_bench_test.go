package session_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// Idle-connection footprint (the goal: at most 10 KiB resident per idle
// connection with 10,000 held, since most connections of an editor are
// idle and their memory decides how many a node carries).
//
//	FLOWSYNC_IDLE_CONNS=10000 go test -run '^$' -bench BenchmarkIdleConnections -benchtime 1x ./sync/session
//
// The handler is served over loopback by the benchmark's own process; the
// clients run in a child process (this test binary again, running
// TestIdleClientProcess), so that the server's heap, stack and RSS deltas
// hold the server's per-connection structures only. Every client says
// Hello, joins one of FLOWSYNC_IDLE_ROOMS rooms (default 100) and then
// stays silent, answering pings. With FLOWSYNC_IDLE_HEAPPROFILE=file the
// benchmark records every allocation (MemProfileRate 1) and writes a heap
// profile while the connections are held:
//
//	go tool pprof -sample_index=inuse_space -top file
//
// Metrics, per connection: heap-B/conn (HeapAlloc delta: live objects),
// heapinuse-B/conn (HeapInuse delta: their spans), stack-B/conn
// (StackInuse delta), rss-B/conn (VmRSS delta of this process after
// debug.FreeOSMemory, so without the garbage of the joins' broadcasts),
// goroutines/conn. Below a few thousand connections the fixed costs (the
// rooms' goroutines, the runtime's starting stack size, which follows the
// average goroutine) weigh on the per-connection figures.
//
// The resident memory of a real server, with the load generator in
// another process (the figure the goal is about; it includes the
// garbage the connections left and the GC has not returned yet):
//
//	go build -o /tmp/flowsync ./cmd/flowsync
//	/tmp/flowsync serve --dev --addr 127.0.0.1:7079 --debug-addr 127.0.0.1:6069 \
//	  --data-dir /tmp/fs-idle --max-connections -1 --max-connections-per-ip -1 --max-connections-per-user -1 &
//	go run ./cmd/flowsync-bench run --url ws://127.0.0.1:7079/v1/sync --server-pid $! \
//	  --scenario idle --clients 10000 --no-charts --out /tmp/idle-results
//
// (or go run ./cmd/flowsync-bench run --target flowsync --scenario idle
// --clients 10000, which starts the server as its child process).
func BenchmarkIdleConnections(b *testing.B) {
	n := envInt(b, "FLOWSYNC_IDLE_CONNS", 1000)
	nRooms := envInt(b, "FLOWSYNC_IDLE_ROOMS", 100)
	profile := os.Getenv("FLOWSYNC_IDLE_HEAPPROFILE")
	if profile != "" {
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = 512 * 1024 }()
	}
	for b.Loop() {
		r := measureIdle(b, n, nRooms, profile)
		b.ReportMetric(r.heap/float64(n), "heap-B/conn")
		b.ReportMetric(r.heapInuse/float64(n), "heapinuse-B/conn")
		b.ReportMetric(r.stack/float64(n), "stack-B/conn")
		b.ReportMetric(r.rss/float64(n), "rss-B/conn")
		b.ReportMetric(r.goroutines/float64(n), "goroutines/conn")
	}
}

type idleFootprint struct{ heap, heapInuse, stack, rss, goroutines float64 }

func measureIdle(b testing.TB, n, nRooms int, profile string) idleFootprint {
	b.Helper()
	var scfg session.Config
	scfg.MaxConnections, scfg.MaxConnectionsPerIP, scfg.MaxConnectionsPerUser = -1, -1, -1
	scfg.ConnectionsPerMinutePerIP = -1
	reg, err := rooms.NewRegistry(rooms.Config{}, memory.New(), nil, rooms.NewMetrics(nil))
	if err != nil {
		b.Fatal(err)
	}
	logs := &syncBuffer{} // Info: why sessions ended, if any did
	h, err := session.NewHandler(scfg, reg, session.DevAuthenticator{}, slog.New(slog.NewTextHandler(logs, nil)), session.NewMetrics(nil))
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/sync", h)
	srv := httptest.NewServer(mux)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			b.Errorf("rooms close: %v", err)
		}
		if err := h.Close(ctx); err != nil {
			b.Errorf("sessions close: %v", err)
		}
		srv.Close()
	}()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/sync"

	before := settledMem()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FLOWSYNC_IDLE_CHILD_URL="+url,
		"FLOWSYNC_IDLE_CHILD_CONNS="+strconv.Itoa(n), "FLOWSYNC_IDLE_CHILD_ROOMS="+strconv.Itoa(nRooms))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close() // the child closes its connections and exits
		if err := cmd.Wait(); err != nil {
			b.Errorf("client process: %v", err)
		}
		for deadline := time.Now().Add(30 * time.Second); h.Len() > 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}()
	lines := bufio.NewScanner(stdout)
	ready := false
	for lines.Scan() {
		if lines.Text() == "ready" {
			ready = true
			break
		}
	}
	go io.Copy(io.Discard, stdout) //nolint:errcheck // the child's test output
	if !ready {
		b.Fatalf("the client process did not get its %d connections ready", n)
	}
	if got := h.Len(); got != n {
		out := logs.String()
		b.Fatalf("%d sessions live, want %d; the server logged:\n%s", got, n, out[:min(len(out), 4000)])
	}
	quiesce()
	after := settledMem()
	if got := h.Len(); got != n {
		out := logs.String()
		b.Fatalf("%d of %d sessions ended while held; the server logged:\n%s", n-got, n, out[:min(len(out), 4000)])
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	return idleFootprint{
		heap:       float64(after.mem.HeapAlloc) - float64(before.mem.HeapAlloc),
		heapInuse:  float64(after.mem.HeapInuse) - float64(before.mem.HeapInuse),
		stack:      float64(after.mem.StackInuse) - float64(before.mem.StackInuse),
		rss:        float64(after.rss - before.rss),
		goroutines: float64(after.goroutines - before.goroutines),
	}
}

// quiesce waits until the goroutine count has not changed for a second
// (at most a minute): the joins' roster broadcasts have been written and
// the writers have ended.
func quiesce() {
	last, since := -1, time.Now()
	for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(100 * time.Millisecond) {
		if g := runtime.NumGoroutine(); g != last {
			last, since = g, time.Now()
		} else if time.Since(since) > time.Second {
			return
		}
	}
}

type memPoint struct {
	mem        runtime.MemStats
	rss        int64
	goroutines int
}

// settledMem collects garbage until the stacks stop shrinking (the GC
// halves an oversized stack at most once per cycle), then reads the
// runtime's and the OS's figures.
func settledMem() memPoint {
	var p memPoint
	last := uint64(0)
	for i := 0; i < 10; i++ {
		runtime.GC()
		runtime.ReadMemStats(&p.mem)
		if i > 2 && p.mem.StackInuse == last {
			break
		}
		last = p.mem.StackInuse
		time.Sleep(50 * time.Millisecond)
	}
	p.goroutines = runtime.NumGoroutine()
	debug.FreeOSMemory() // what the joins' broadcasts left is not resident any more
	p.rss = vmRSS()
	return p
}

// vmRSS returns this process's resident set size (Linux), or 0.
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// TestIdleClientProcess is BenchmarkIdleConnections's client process; it
// skips unless the benchmark started it. It opens the connections, prints
// "ready" once each is joined, reads (answering pings) until its stdin
// closes, then closes them.
func TestIdleClientProcess(t *testing.T) {
	url := os.Getenv("FLOWSYNC_IDLE_CHILD_URL")
	if url == "" {
		t.Skip("started by BenchmarkIdleConnections only")
	}
	n := envInt(t, "FLOWSYNC_IDLE_CHILD_CONNS", 1)
	nRooms := envInt(t, "FLOWSYNC_IDLE_CHILD_ROOMS", 1)
	conns := make([]*websocket.Conn, n)
	// Each connection reads from its Join on (answering pings, taking the
	// roster updates of the joins after it): a client that stopped
	// reading would be cut as a slow consumer.
	var readers sync.WaitGroup
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 64)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := idleClient(url, i, nRooms)
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			conns[i] = c
			readers.Go(func() {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
		readers.Wait()
		t.Fatal(err)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		_ = c.Close()
	}
	readers.Wait()
}

// idleClient connects as user i, joins room i%nRooms and reads up to Joined.
func idleClient(url string, i, nRooms int) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	send := func(f protocol.Frame) error {
		b, err := protocol.Encode(f)
		if err != nil {
			return err
		}
		return c.WriteMessage(websocket.BinaryMessage, b)
	}
	until := func(want protocol.FrameType) error {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		defer c.SetReadDeadline(time.Time{}) //nolint:errcheck
		for {
			_, b, err := c.ReadMessage()
			if err != nil {
				return err
			}
			f, err := protocol.Decode(b, protocol.Limits{MaxFrameBytes: 64 << 20})
			if err != nil {
				return err
			}
			if f.Type() == want {
				return nil
			}
			if e, ok := f.(*protocol.Error); ok {
				return fmt.Errorf("server error %s: %s", e.Code, e.Message)
			}
		}
	}
	rid := fmt.Sprintf("idle%d", i)
	if err := send(&protocol.Hello{ProtocolVersion: protocol.ProtocolVersion, Token: "user-" + strconv.Itoa(i), ReplicaID: rid, ClientName: "idle"}); err != nil {
		c.Close()
		return nil, err
	}
	if err := until(protocol.FrameWelcome); err != nil {
		c.Close()
		return nil, err
	}
	if err := send(&protocol.Join{WorkflowID: "idle-" + strconv.Itoa(i%nRooms)}); err != nil {
		c.Close()
		return nil, err
	}
	if err := until(protocol.FrameJoined); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
