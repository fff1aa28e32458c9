// Package crashtest runs the real flowsync binary against real stores and
// breaks things: SIGKILL at random moments (Postgres and the embedded
// store), kills that land during snapshot writes, and a Postgres outage
// made by a TCP proxy the test controls: server kills under load, a store
// outage and crashes during snapshot writes, each small enough for CI.
//
// Every randomized choice comes from one seed, printed by each test and
// taken back from FLOWSYNC_SEED. FLOWSYNC_CRASH_CYCLES sets the number of
// kills (default 10); cmd/flowsync/crash.sh runs more.
package crashtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/client"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds cmd/flowsync once per test binary run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "flowsync-crashtest-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "flowsync")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/flowsync/flowsync/cmd/flowsync")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("FLOWSYNC_SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("FLOWSYNC_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay with FLOWSYNC_SEED=%d)", s, s)
	return s
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is one run of the binary.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	log    string
	exited chan struct{}
}

// startServer runs `flowsync serve --dev` on addr with args and waits for
// /healthz.
func startServer(t *testing.T, addr, logPath string, args ...string) *server {
	t.Helper()
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	all := append([]string{"serve", "--dev", "--addr", addr, "--log-level", "debug", "--shutdown-timeout", "5s"}, args...)
	cmd := exec.Command(binary(t), all...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), "FLOWSYNC_POSTGRES_URL=", "FLOWSYNC_DATA_DIR=", "FLOWSYNC_STORE=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, addr: addr, log: logPath, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		lf.Close()
		close(s.exited)
	}()
	t.Cleanup(s.kill)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-s.exited:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("server exited at start:\n%s", b)
		default:
		}
		if code, _ := httpGet("http://" + addr + "/healthz"); code == 200 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal("server did not come up in 30 s")
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// midSnapshot reports whether the run's log shows a snapshot started and
// not finished (the kill landed during a snapshot write).
func (s *server) midSnapshot() bool {
	f, err := os.Open(s.log)
	if err != nil {
		return false
	}
	defer f.Close()
	open := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		switch line := sc.Text(); {
		case strings.Contains(line, `"msg":"snapshot started"`):
			open++
		case strings.Contains(line, `"msg":"snapshot written"`), strings.Contains(line, `"msg":"snapshot failed; retrying"`):
			open--
		}
	}
	return open > 0
}

func httpGet(url string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of an unlabelled metric from /metrics.
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	code, body := httpGet("http://" + addr + "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// editor is one live client that writes identifiable operations: block
// "c<i>-b<n>" adds, and updates of their "prompt" sub-block to unique
// values. It remembers every operation's delta (whose causal context is the
// operation's dots) and how many of its first operations were
// durable-acked.
type editor struct {
	id  int
	c   *client.Client
	rng *rand.Rand

	mu         sync.Mutex
	ops        []*workflow.Doc
	durable    int // ops[:durable] were durable-acked (the outbox emptied after them)
	rejected   []string
	blocks     []string
	stopWrites chan struct{}
	done       chan struct{}
	runDone    chan error
}

func newEditor(t *testing.T, id int, url, wf string, seed uint64) *editor {
	t.Helper()
	e := &editor{id: id, rng: rand.New(rand.NewPCG(seed, uint64(id))), stopWrites: make(chan struct{}), done: make(chan struct{}), runDone: make(chan error, 1)}
	c, err := client.New(client.Config{
		URL: url, ReplicaID: fmt.Sprintf("crash-%d-%d", seed%1e6, id), WorkflowID: wf, Token: fmt.Sprintf("u%d:Editor %d", id, id),
		Backoff:     client.Backoff{Base: 50 * time.Millisecond, Cap: 300 * time.Millisecond},
		DialTimeout: 3 * time.Second,
		OnReject: func(err *client.RejectError) {
			e.mu.Lock()
			e.rejected = append(e.rejected, err.Error())
			e.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	ctx, cancel := context.WithCancel(context.Background())
	go func() { e.runDone <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		c.Close()
		<-e.runDone
	})
	return e
}

// write runs until stop is closed: one operation every 1–6 ms, pausing now
// and then until the outbox drains so the durable watermark advances.
func (e *editor) write(t *testing.T) {
	defer close(e.done)
	for n := 1; ; n++ {
		select {
		case <-e.stopWrites:
			e.noteDurable()
			return
		default:
		}
		e.noteDurable()
		var op workflow.Op
		if len(e.blocks) == 0 || e.rng.IntN(3) == 0 {
			id := fmt.Sprintf("c%d-b%d", e.id, n)
			e.blocks = append(e.blocks, id)
			op = workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: id,
				Position:  &workflow.Position{X: float64(n), Y: float64(e.id)},
				SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "v0"}}}}}
		} else {
			b := e.blocks[e.rng.IntN(len(e.blocks))]
			op = workflow.UpdateSubBlock{BlockID: b, SubBlockID: "prompt", Value: fmt.Sprintf("c%d-v%d", e.id, n)}
		}
		d, err := e.c.Apply(op)
		if err != nil {
			t.Errorf("editor %d: apply: %v", e.id, err)
			return
		}
		e.mu.Lock()
		e.ops = append(e.ops, d)
		e.mu.Unlock()
		time.Sleep(time.Duration(1+e.rng.IntN(6)) * time.Millisecond)
		if n%40 == 0 {
			for deadline := time.Now().Add(200 * time.Millisecond); e.c.Pending() > 0 && time.Now().Before(deadline); {
				time.Sleep(2 * time.Millisecond)
			}
		}
	}
}

// noteDurable: called only from the writing goroutine, so no operation is
// applied between reading len(ops) and Pending.
func (e *editor) noteDurable() {
	e.mu.Lock()
	n := len(e.ops)
	e.mu.Unlock()
	if e.c.Pending() == 0 {
		e.mu.Lock()
		e.durable = n
		e.mu.Unlock()
	}
}

func (e *editor) stop() {
	close(e.stopWrites)
	<-e.done
}

// durableOps returns the operations durable-acked so far.
func (e *editor) durableOps() []*workflow.Doc {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ops[:e.durable:e.durable]
}

func (e *editor) allOps() []*workflow.Doc {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ops[:len(e.ops):len(e.ops)]
}

// missing counts the operations whose dots the stored document lacks.
func missing(stored *workflow.Doc, ops []*workflow.Doc) int {
	n := 0
	for _, d := range ops {
		if !stored.Context().Covers(d.Context()) {
			n++
		}
	}
	return n
}

// checkDurable opens the store with open (the server is down) and checks
// that it loads without error and holds every durable-acked operation.
func checkDurable(t *testing.T, open func() storage.Store, wf string, eds []*editor) (durable int) {
	t.Helper()
	st := open()
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	doc, err := st.Load(ctx, wf)
	if err != nil {
		t.Fatalf("loading the document after the kill: %v", err)
	}
	for _, e := range eds {
		ops := e.durableOps()
		durable += len(ops)
		if m := missing(doc, ops); m > 0 {
			t.Errorf("editor %d: %d of %d durable-acked operations lost", e.id, m, len(ops))
		}
	}
	return durable
}

// converge stops the editors, waits until every outbox is empty and every
// editor holds the same document, then SIGKILLs the server (whatever was
// durable-acked must survive that too) and checks that the stored document
// equals the editors' and holds every operation of every editor.
func converge(t *testing.T, srv *server, open func() storage.Store, wf string, eds []*editor) {
	t.Helper()
	for _, e := range eds {
		e.stop()
	}
	start := time.Now()
	for _, e := range eds {
		for e.c.Pending() > 0 {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("editor %d: %d operations still not durable 30 s after the last fault (status %v)", e.id, e.c.Pending(), e.c.Status())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("all outboxes empty %v after the editors stopped", time.Since(start).Round(time.Millisecond))
	var final *workflow.Doc
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		final = eds[0].c.Doc()
		equal := true
		for _, e := range eds[1:] {
			if !e.c.Doc().Equal(final) {
				equal = false
			}
		}
		if equal {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("editors did not converge within 15 s")
		}
	}
	srv.kill()
	st := open()
	defer st.Close()
	stored, err := st.Load(context.Background(), wf)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Equal(final) {
		t.Error("the stored document differs from the editors' converged document")
	}
	total := 0
	for _, e := range eds {
		ops := e.allOps()
		total += len(ops)
		if m := missing(stored, ops); m > 0 {
			t.Errorf("editor %d: %d of %d operations missing at the end", e.id, m, len(ops))
		}
		e.mu.Lock()
		if len(e.rejected) > 0 {
			t.Errorf("editor %d: rejected: %v", e.id, e.rejected)
		}
		e.mu.Unlock()
	}
	t.Logf("converged: %d editors, %d operations, %d blocks", len(eds), total, len(stored.View().Blocks))
}
