package crashtest

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/bolt"
	"github.com/flowsync/flowsync/storage/postgres"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
)

const editors = 4

func openPostgres(t *testing.T, url string) func() storage.Store {
	return func() storage.Store {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := postgres.Open(ctx, postgres.Config{URL: url, MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}

// crashCycles runs the editors against the binary started with args,
// SIGKILLs it `cycles` times at random moments, checks after each kill that
// the store loads and holds every durable-acked operation, restarts it on
// the same port, and finally checks convergence.
func crashCycles(t *testing.T, open func() storage.Store, args ...string) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 0))
	cycles := envInt("FLOWSYNC_CRASH_CYCLES", 10)
	addr := freeAddr(t)
	dir := t.TempDir()
	srv := startServer(t, addr, filepath.Join(dir, "run-0.log"), args...)
	wf := fmt.Sprintf("wf-crash-%d", s%1e6)
	eds := make([]*editor, editors)
	for i := range eds {
		eds[i] = newEditor(t, i, "ws://"+addr+"/v1/sync", wf, s)
		go eds[i].write(t)
	}
	midSnapshot, durable := 0, 0
	for cycle := 1; cycle <= cycles; cycle++ {
		time.Sleep(time.Duration(200+rng.IntN(1000)) * time.Millisecond)
		srv.kill()
		if srv.midSnapshot() {
			midSnapshot++
		}
		durable = checkDurable(t, open, wf, eds)
		if t.Failed() {
			t.Fatalf("cycle %d: durable-acked operations lost (seed %d)", cycle, s)
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		srv = startServer(t, addr, filepath.Join(dir, fmt.Sprintf("run-%d.log", cycle)), args...)
	}
	time.Sleep(300 * time.Millisecond)
	t.Logf("%d kills, %d during a snapshot write; %d operations durable-acked before the last kill, all present", cycles, midSnapshot, durable)
	converge(t, srv, open, wf, eds)
}

// TestCrashPostgres: SIGKILL the real server at random moments while four
// clients edit; snapshots run back to back (1 ms interval, 5 ms max delay)
// so many kills land during a snapshot write.
func TestCrashPostgres(t *testing.T) {
	url := pgtest.Schema(t)
	crashCycles(t, openPostgres(t, url), "--postgres-url", url, "--snapshot-interval", "1ms", "--snapshot-max-delay", "5ms")
}

// TestCrashBolt: the same with the embedded default store.
func TestCrashBolt(t *testing.T) {
	dir := t.TempDir()
	open := func() storage.Store {
		st, err := bolt.Open(bolt.Config{Path: filepath.Join(dir, "flowsync.db"), OpenTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	t.Setenv("FLOWSYNC_CRASH_CYCLES", fmt.Sprint(max(3, envInt("FLOWSYNC_CRASH_CYCLES", 10)/3)))
	crashCycles(t, open, "--data-dir", dir, "--snapshot-interval", "5ms", "--snapshot-max-delay", "20ms")
}

// proxy forwards TCP to target until cut: then it closes every connection
// and refuses new ones until restored.
type proxy struct {
	ln     net.Listener
	target string
	down   atomic.Bool
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.down.Load() { // cut while dialing
			p.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		for _, pair := range [][2]net.Conn{{c, up}, {up, c}} {
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				_, _ = io.Copy(pair[0], pair[1])
				pair[0].Close()
				pair[1].Close()
				p.mu.Lock()
				delete(p.conns, pair[0])
				delete(p.conns, pair[1])
				p.mu.Unlock()
			}()
		}
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down.Store(true)
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) restore() { p.down.Store(false) }

// TestPostgresOutage cuts the server off from Postgres for a few seconds
// while four clients edit: relaying continues, /readyz says degraded,
// Durable acks wait; after the cut heals everything pending is written
// within seconds, nothing is lost and no log row is written twice.
func TestPostgresOutage(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 1))
	pgURL := pgtest.Schema(t)
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	px := newProxy(t, u.Host)
	u.Host = px.ln.Addr().String()
	viaProxy := u.String()

	addr := freeAddr(t)
	// Snapshots off (1 h) so the log keeps every row and rows can be
	// counted; short connect timeout so the outage is noticed fast.
	srv := startServer(t, addr, filepath.Join(t.TempDir(), "run.log"), "--postgres-url", viaProxy,
		"--postgres-connect-timeout", "1s", "--snapshot-interval", "1h", "--snapshot-max-delay", "1h")
	wf := fmt.Sprintf("wf-outage-%d", s%1e6)
	eds := make([]*editor, editors)
	for i := range eds {
		eds[i] = newEditor(t, i, "ws://"+addr+"/v1/sync", wf, s)
		go eds[i].write(t)
	}
	time.Sleep(time.Duration(500+rng.IntN(500)) * time.Millisecond)
	if code, body := httpGet("http://" + addr + "/readyz"); code != 200 {
		t.Fatalf("readyz before the outage: %d %s", code, body)
	}

	px.cut()
	cutAt := time.Now()
	outage := time.Duration(2000+rng.IntN(2000)) * time.Millisecond
	t.Logf("cutting Postgres off for %v", outage)
	var degradedAfter time.Duration
	for degradedAfter == 0 {
		if code, body := httpGet("http://" + addr + "/readyz"); code == 503 {
			if !strings.Contains(body, `"status":"degraded"`) {
				t.Fatalf("readyz during the outage: %s", body)
			}
			degradedAfter = time.Since(cutAt)
		} else if time.Since(cutAt) > outage {
			t.Fatalf("readyz still %d %v into the outage", code, outage)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Relays continue: what editor 0 sees of editor 1 keeps growing.
	blocksOf := func(e *editor, prefix string) int {
		n := 0
		for id := range e.c.Doc().View().Blocks {
			if strings.HasPrefix(id, prefix) {
				n++
			}
		}
		return n
	}
	seenBefore := blocksOf(eds[0], "c1-")
	time.Sleep(500 * time.Millisecond)
	durableDuring := make([]int, len(eds))
	for i, e := range eds {
		durableDuring[i] = len(e.durableOps())
	}
	time.Sleep(outage - time.Since(cutAt))
	if seenAfter := blocksOf(eds[0], "c1-"); seenAfter <= seenBefore {
		t.Errorf("relaying stopped during the outage: editor 0 saw %d of editor 1's blocks, then %d", seenBefore, seenAfter)
	}
	for i, e := range eds {
		if n := len(e.durableOps()); n != durableDuring[i] {
			t.Errorf("editor %d: durable acks advanced from %d to %d while Postgres was unreachable", i, durableDuring[i], n)
		}
		if e.c.Pending() == 0 {
			t.Errorf("editor %d: nothing pending at the end of the outage", i)
		}
	}
	px.restore()
	healed := time.Now()
	// Everything written before the heal becomes durable (the editors
	// keep writing, so their outboxes are rarely empty all at once).
	atHeal := make([]int, len(eds))
	for i, e := range eds {
		atHeal[i] = len(e.allOps())
	}
	for {
		all := true
		for i, e := range eds {
			if len(e.durableOps()) < atHeal[i] {
				all = false
			}
		}
		code, _ := httpGet("http://" + addr + "/readyz")
		if all && code == 200 {
			break
		}
		if time.Since(healed) > 20*time.Second {
			b, _ := os.ReadFile(srv.log)
			var warn []string
			for l := range strings.SplitSeq(string(b), "\n") {
				if !strings.Contains(l, `"level":"DEBUG"`) {
					warn = append(warn, l)
				}
			}
			for _, e := range eds {
				t.Logf("editor %d: %+v", e.id, e.c.Status())
			}
			t.Logf("server pending bytes %v", metric(t, addr, "flowsync_room_pending_durable_bytes"))
			t.Fatalf("20 s after the outage: readyz %d, pending %v; server log without debug lines:\n%s", code, pendings(eds), strings.Join(warn, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("outage %v: readyz degraded after %v; every edit made before the heal durable %v after Postgres came back",
		outage, degradedAfter.Round(time.Millisecond), time.Since(healed).Round(time.Millisecond))

	stored := int(metric(t, addr, "flowsync_store_deltas_stored_total"))
	if ready := metric(t, addr, "flowsync_store_ready"); ready != 1 {
		t.Errorf("flowsync_store_ready %v after recovery", ready)
	}
	converge(t, srv, openPostgres(t, pgURL), wf, eds)

	// No duplicates: one row per distinct delta, no more rows than
	// operations, and at least as many as the server counted as new (an
	// append whose COMMIT went through while the cut ate the reply is
	// retried and counted as already stored: more rows than counted).
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, distinct int
	if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT delta) FROM flowsync_log WHERE workflow_id = $1", wf).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	ops := 0
	for _, e := range eds {
		ops += len(e.allOps())
	}
	t.Logf("log rows %d (distinct %d), server counted %d new rows, %d operations", rows, distinct, stored, ops)
	if rows != distinct || rows < stored || rows > ops {
		t.Errorf("log rows %d, distinct deltas %d, rows the server inserted %d, operations %d", rows, distinct, stored, ops)
	}
}

func pendings(eds []*editor) []int {
	out := make([]int, len(eds))
	for i, e := range eds {
		out[i] = e.c.Pending()
	}
	return out
}
