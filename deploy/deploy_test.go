package deploy_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unit is what the test reads of flowsync.service.
type unit struct {
	execStart   []string
	envFile     string
	credentials map[string]string // name → source path (LoadCredential=)
	stateDir    string            // StateDirectory=
}

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{credentials: map[string]string{}}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not key=value: %q", path, line)
		}
		if section != "[Service]" {
			continue
		}
		switch key {
		case "ExecStart":
			// No quoting in this unit: systemd splits on whitespace.
			if strings.ContainsAny(value, `"'\`) {
				t.Fatalf("ExecStart has quoting this test does not parse: %q", value)
			}
			u.execStart = strings.Fields(value)
		case "EnvironmentFile":
			u.envFile = strings.TrimPrefix(value, "-")
		case "LoadCredential":
			name, src, _ := strings.Cut(value, ":")
			u.credentials[name] = src
		case "StateDirectory":
			u.stateDir = value
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(u.execStart) < 2 || u.envFile == "" {
		t.Fatalf("%s: no ExecStart or EnvironmentFile", path)
	}
	return u
}

// readEnv reads a systemd environment file: KEY=VALUE lines, # comments.
func readEnv(t *testing.T, path string) (set map[string]string, all []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	set = map[string]string{}
	name := regexp.MustCompile(`^#?(FLOWSYNC_[A-Z0-9_]+)=`)
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if m := name.FindStringSubmatch(line); m != nil {
			all = append(all, m[1]) // set or shown commented out: must be a real variable
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not KEY=VALUE: %q", path, line)
		}
		set[k] = strings.Trim(v, `"`)
	}
	return set, all
}

func buildFlowsync(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flowsync")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/flowsync/flowsync/cmd/flowsync")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
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

func secret(t *testing.T, path string) string {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	s := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// The unit's ExecStart, with the environment file, starts a server as
// systemd would run it: the built binary with the unit's flags, a temp
// directory for the state and credential directories, the environment
// file's settings with a free port for FLOWSYNC_ADDR. It becomes healthy
// and ready, its admin API takes the credential's secret, and SIGTERM
// stops it cleanly within the unit's stop timeout.
func TestSystemdUnitStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	u := readUnit(t, "flowsync.service")
	env, vars := readEnv(t, "flowsync.env")
	if u.execStart[0] != "/usr/local/bin/flowsync" || u.execStart[1] != "serve" {
		t.Fatalf("ExecStart %v: want /usr/local/bin/flowsync serve …", u.execStart)
	}
	if filepath.Base(u.envFile) != "flowsync.env" {
		t.Fatalf("EnvironmentFile %s is not this directory's flowsync.env", u.envFile)
	}
	if _, ok := env["FLOWSYNC_ADDR"]; !ok {
		t.Fatal("flowsync.env does not set FLOWSYNC_ADDR")
	}
	bin := buildFlowsync(t)

	// Every variable the file sets or shows is one `serve` reads.
	help, _ := exec.Command(bin, "serve", "-h").CombinedOutput()
	for _, v := range vars {
		if !strings.Contains(string(help), "("+v+")") {
			t.Errorf("flowsync.env names %s, which no serve flag reads", v)
		}
	}

	root := t.TempDir()
	stateRoot, creds := filepath.Join(root, "state"), filepath.Join(root, "credentials")
	for _, d := range []string{filepath.Join(stateRoot, u.stateDir), creds} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	secrets := map[string]string{}
	for name := range u.credentials {
		secrets[name] = secret(t, filepath.Join(creds, name))
	}
	// The specifiers the unit uses: %S the state root, %d the credentials.
	args := make([]string, 0, len(u.execStart))
	for _, a := range u.execStart[1:] {
		a = strings.NewReplacer("%S", stateRoot, "%d", creds, "%%", "%").Replace(a)
		if strings.ContainsAny(a, "%$") {
			t.Fatalf("ExecStart argument %q has a specifier or variable this test does not expand", a)
		}
		args = append(args, a)
	}
	addr := freeAddr(t)
	environ := []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		if k == "FLOWSYNC_ADDR" {
			v = addr
		}
		environ = append(environ, k+"="+v)
	}

	if path, err := exec.LookPath("systemd-analyze"); err == nil {
		// The unit as systemd reads it (with the binary where it is here).
		b, _ := os.ReadFile("flowsync.service")
		copyPath := filepath.Join(root, "flowsync.service")
		_ = os.WriteFile(copyPath, bytes.ReplaceAll(b, []byte(u.execStart[0]), []byte(bin)), 0o644)
		out, _ := exec.Command(path, "verify", copyPath).CombinedOutput()
		if s := strings.TrimSpace(string(out)); s != "" {
			t.Errorf("systemd-analyze verify: %s", s)
		}
	}

	var logs bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = environ
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	base := "http://" + addr
	get := func(path string, header ...string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _ := get("/healthz"); code == 200 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("flowsync exited before it was healthy: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy in 30 s\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz %d %s", code, body)
	}
	if admin, ok := secrets["admin.secret"]; ok {
		if code, body := get("/admin/v1/rooms", "X-Api-Key", admin); code != 200 {
			t.Errorf("admin API with the credential's secret: %d %s", code, body)
		}
	}
	if code, _ := get("/demo/"); code != 404 && env["FLOWSYNC_DEMO"] == "false" {
		t.Errorf("/demo/ answered %d with FLOWSYNC_DEMO=false", code)
	}
	if _, err := os.Stat(filepath.Join(stateRoot, u.stateDir, "flowsync.db")); err != nil {
		t.Errorf("no store in the state directory: %v", err)
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(45 * time.Second): // the unit's TimeoutStopSec
		t.Fatalf("still running 45 s after SIGTERM\n%s", logs.String())
	}
	for _, want := range []string{`"msg":"flowsync serving"`, `"msg":"flowsync stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log has no %s:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("errors logged:\n%s", logs.String())
	}
}
