package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NodeConfig describes one `flowsync serve` process.
type NodeConfig struct {
	Name string
	// DataDir is the bolt store's directory, used when PostgresURL is empty.
	DataDir string
	// PostgresURL is the node's store. The node reaches it through a proxy
	// of its own (Node.Store), so the test can cut its store link.
	PostgresURL string
	// NATSURL joins the node to a cluster (normally a proxy's address, so
	// the test can cut the node off the bus); empty: a single node.
	NATSURL    string
	Region     string
	StoreGroup string
	// AntiEntropy is --anti-entropy-interval. Default: 1 s.
	AntiEntropy time.Duration
	// AdminSecret turns on the admin API (written to a file for
	// --admin-secret-file). Default: a fixed test secret.
	AdminSecret string
	// Args are further flags.
	Args []string
}

// DefaultAdminSecret is the admin API secret of every test node.
const DefaultAdminSecret = "faults-admin-secret-0123456789abcdef0123456789abcdef"

// Node is one flowsync server process, restartable on the same address.
type Node struct {
	Config NodeConfig
	// Addr is the HTTP listen address, the same across restarts.
	Addr string
	// Store is the node's link to Postgres (nil with bolt).
	Store *Proxy

	t      testing.TB
	dir    string
	secret string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	runs   int
	kills  int
}

// FreeAddr returns a loopback address with a port nothing listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// StartNode starts the node and waits until it answers /healthz.
func StartNode(t testing.TB, cfg NodeConfig) *Node {
	t.Helper()
	if cfg.AntiEntropy == 0 {
		cfg.AntiEntropy = time.Second
	}
	if cfg.AdminSecret == "" {
		cfg.AdminSecret = DefaultAdminSecret
	}
	n := &Node{Config: cfg, Addr: FreeAddr(t), t: t, dir: t.TempDir(), secret: cfg.AdminSecret}
	if err := os.WriteFile(filepath.Join(n.dir, "admin-secret"), []byte(cfg.AdminSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg.PostgresURL != "" {
		u, err := url.Parse(cfg.PostgresURL)
		if err != nil {
			t.Fatal(err)
		}
		n.Store = NewProxy(t, cfg.Name+"-store", u.Host)
	}
	t.Cleanup(n.Kill)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	return n
}

// URL is the node's websocket endpoint.
func (n *Node) URL() string { return "ws://" + n.Addr + "/v1/sync" }

func (n *Node) args() []string {
	a := []string{"serve", "--dev", "--addr", n.Addr, "--log-level", "info", "--shutdown-timeout", "5s",
		"--demo=false", "--max-connections-per-ip", "-1", "--max-connections-per-user", "-1",
		"--admin-secret-file", filepath.Join(n.dir, "admin-secret")}
	c := n.Config
	if c.PostgresURL != "" {
		u, _ := url.Parse(c.PostgresURL)
		u.Host = n.Store.Addr()
		a = append(a, "--postgres-url", u.String(), "--postgres-connect-timeout", "1s")
	} else {
		a = append(a, "--data-dir", c.DataDir)
	}
	if c.NATSURL != "" {
		a = append(a, "--nats-url", c.NATSURL, "--node-id", c.Name, "--anti-entropy-interval", c.AntiEntropy.String())
		if c.Region != "" {
			a = append(a, "--region", c.Region)
		}
		if c.StoreGroup != "" {
			a = append(a, "--store-group", c.StoreGroup)
		}
	}
	return append(a, c.Args...)
}

// Start runs the process (again) and waits for /healthz. It fails if the
// node is running.
func (n *Node) Start() error {
	bin, err := Binary()
	if err != nil {
		return err
	}
	n.mu.Lock()
	if n.cmd != nil {
		n.mu.Unlock()
		return fmt.Errorf("%s: already running", n.Config.Name)
	}
	n.runs++
	logPath := filepath.Join(n.dir, fmt.Sprintf("run-%d.log", n.runs))
	lf, err := os.Create(logPath)
	if err != nil {
		n.mu.Unlock()
		return err
	}
	cmd := exec.Command(bin, n.args()...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = serverEnv()
	if err := cmd.Start(); err != nil {
		n.mu.Unlock()
		lf.Close()
		return err
	}
	exited := make(chan struct{})
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		lf.Close()
		close(exited)
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-exited:
			n.mu.Lock()
			if n.cmd == cmd {
				n.cmd = nil
			}
			n.mu.Unlock()
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s exited at start:\n%s", n.Config.Name, b)
		default:
		}
		if code, _ := httpDo(http.MethodGet, "http://"+n.Addr+"/healthz", "", nil); code == 200 {
			return nil
		}
		if time.Now().After(deadline) {
			n.Kill()
			return fmt.Errorf("%s did not answer /healthz within 30 s", n.Config.Name)
		}
	}
}

// serverEnv is the test's environment without FLOWSYNC_ variables, which
// the server would read as flag defaults.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLOWSYNC_") {
			env = append(env, kv)
		}
	}
	return env
}

// Kill sends SIGKILL and waits until the process is gone (no-op when it is
// not running).
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	if cmd != nil {
		n.kills++
	}
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Restart kills the node and starts it again on the same address.
func (n *Node) Restart() error {
	n.Kill()
	return n.Start()
}

// Up reports whether the process runs.
func (n *Node) Up() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Kills counts the SIGKILLs the node received.
func (n *Node) Kills() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.kills
}

// Delete deletes a workflow through the node's admin API.
func (n *Node) Delete(wf string) error {
	code, body := httpDo(http.MethodDelete, "http://"+n.Addr+"/admin/v1/workflows/"+url.PathEscape(wf), n.secret, nil)
	if code != 200 {
		return fmt.Errorf("%s: DELETE %s: %d %s", n.Config.Name, wf, code, body)
	}
	return nil
}

// Metric sums a metric's samples from /metrics (every label set).
func (n *Node) Metric(name string) (float64, error) {
	code, body := httpDo(http.MethodGet, "http://"+n.Addr+"/metrics", "", nil)
	if code != 200 {
		return 0, fmt.Errorf("%s: /metrics: %d %s", n.Config.Name, code, body)
	}
	sum, found := 0.0, false
	for line := range strings.SplitSeq(body, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, err
		}
		sum, found = sum+v, true
	}
	if !found {
		return 0, fmt.Errorf("%s: metric %s not found", n.Config.Name, name)
	}
	return sum, nil
}

// Readyz returns /readyz's status code and body.
func (n *Node) Readyz() (int, string) {
	return httpDo(http.MethodGet, "http://"+n.Addr+"/readyz", "", nil)
}

// Problems returns the WARN and ERROR lines of every run's log (at most
// max), for failure messages.
func (n *Node) Problems(max int) []string {
	var out []string
	for run := 1; run <= n.runs && len(out) < max; run++ {
		f, err := os.Open(filepath.Join(n.dir, fmt.Sprintf("run-%d.log", run)))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() && len(out) < max {
			if l := sc.Text(); strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) {
				out = append(out, fmt.Sprintf("%s run %d: %s", n.Config.Name, run, l))
			}
		}
		f.Close()
	}
	return out
}

// MidSnapshot reports whether the latest run's log shows a snapshot
// started and not finished: the kill landed during a snapshot write (the
// node must run with --log-level debug).
func (n *Node) MidSnapshot() bool {
	b, err := os.ReadFile(filepath.Join(n.dir, fmt.Sprintf("run-%d.log", n.runs)))
	if err != nil {
		return false
	}
	open := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		switch {
		case strings.Contains(line, `"msg":"snapshot started"`):
			open++
		case strings.Contains(line, `"msg":"snapshot written"`), strings.Contains(line, `"msg":"snapshot failed; retrying"`):
			open--
		}
	}
	return open > 0
}

// LogContains reports whether any run's log has a line containing s.
func (n *Node) LogContains(s string) bool {
	for run := 1; run <= n.runs; run++ {
		b, err := os.ReadFile(filepath.Join(n.dir, fmt.Sprintf("run-%d.log", run)))
		if err == nil && strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}

func httpDo(method, u, secret string, body io.Reader) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, err.Error()
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, "timeout"
		}
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
