package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/sync/server"
)

func TestServeRefusesWithoutDev(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"serve"}, func(string) string { return "" }, &out, &errb)
	if msg := errb.String(); code != 2 || !strings.Contains(msg, "refusing to start: authentication is not configured") ||
		!strings.Contains(msg, "--jwt-secret-file") || !strings.Contains(msg, "--dev") {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
}

func TestParseServeFlagsAndEnv(t *testing.T) {
	env := map[string]string{"FLOWSYNC_ADDR": ":9999", "FLOWSYNC_DEV": "true",
		"FLOWSYNC_ALLOWED_ORIGINS": "https://a.example, https://b.example", "FLOWSYNC_LOG_LEVEL": "debug"}
	cfg, level, err := parseServe([]string{"--addr", ":7777"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":7777" || !cfg.Dev || len(cfg.Session.AllowedOrigins) != 2 || level.String() != "DEBUG" {
		t.Fatalf("cfg = %+v, level %v", cfg, level)
	}
	if _, _, err := parseServe(nil, func(k string) string {
		if k == "FLOWSYNC_DEV" {
			return "maybe"
		}
		return ""
	}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "FLOWSYNC_DEV") {
		t.Fatalf("bad env: %v", err)
	}
}

// `flowsync version` and `flowsync --version` print the same line: the
// version, the commit and its date, and the Go version. A test binary
// carries no VCS stamps, so it reports devel and unknown.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{arg}, func(string) string { return "" }, &out, &errb)
		line := out.String()
		if code != 0 || !strings.HasPrefix(line, "flowsync devel (commit unknown of unknown, go1.") || !strings.Contains(line, runtime.Version()) {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", arg, code, line, errb.String())
		}
	}
}

// A dev server checks no tokens: it listens on loopback unless --addr (or
// FLOWSYNC_ADDR) says otherwise; a production server on every interface.
func TestParseServeDevListensOnLoopback(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--dev"}, nil, "127.0.0.1:8080"},
		{nil, map[string]string{"FLOWSYNC_DEV": "true"}, "127.0.0.1:8080"},
		{[]string{"--dev", "--addr", ":8080"}, nil, ":8080"},
		{[]string{"--dev"}, map[string]string{"FLOWSYNC_ADDR": "0.0.0.0:9000"}, "0.0.0.0:9000"},
		{nil, nil, ":8080"},
	} {
		cfg, _, err := parseServe(c.args, func(k string) string { return c.env[k] }, io.Discard)
		if err != nil || cfg.Addr != c.want {
			t.Errorf("%v %v: addr %q (%v), want %q", c.args, c.env, cfg.Addr, err, c.want)
		}
	}
}

func TestParseServeStoreFlags(t *testing.T) {
	none := func(string) string { return "" }
	cfg, _, err := parseServe([]string{"--dev"}, none, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Kind != server.StoreAuto || cfg.Store.DataDir != server.DefaultDataDir || cfg.Store.PostgresURL != "" ||
		cfg.Rooms.SnapshotInterval != time.Second || cfg.Rooms.SnapshotMaxDelay != 10*time.Second {
		t.Fatalf("defaults: %+v", cfg.Store)
	}
	env := map[string]string{"FLOWSYNC_POSTGRES_URL": "postgres://u:secret@db:5432/flowsync", "FLOWSYNC_DATA_DIR": "/var/lib/flowsync",
		"FLOWSYNC_SNAPSHOT_INTERVAL": "250ms"}
	cfg, _, err = parseServe([]string{"--postgres-max-conns", "4", "--snapshot-max-delay", "5s"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.PostgresURL != env["FLOWSYNC_POSTGRES_URL"] || cfg.Store.DataDir != "/var/lib/flowsync" || cfg.Store.Postgres.MaxConns != 4 ||
		cfg.Rooms.SnapshotInterval != 250*time.Millisecond || cfg.Rooms.SnapshotMaxDelay != 5*time.Second {
		t.Fatalf("from env and flags: %+v %+v", cfg.Store, cfg.Rooms)
	}
	if _, _, err := parseServe([]string{"--postgres-max-conns", "0"}, none, &bytes.Buffer{}); err == nil {
		t.Fatal("--postgres-max-conns 0 accepted")
	}
	cfg, _, _ = parseServe([]string{"--dev", "--store", "postgres"}, none, &bytes.Buffer{})
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--postgres-url") {
		t.Fatalf("postgres without a URL: %v", err)
	}
	if got := server.RedactURL(env["FLOWSYNC_POSTGRES_URL"]); strings.Contains(got, "secret") {
		t.Fatalf("redacted URL %q", got)
	}
}

// TestServeKeepsDataInDataDir: a fresh `flowsync serve --dev` uses the
// embedded store in --data-dir.
func TestServeCreatesBoltFileInDataDir(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev", "--addr", "127.0.0.1:0", "--data-dir", dir}, func(string) string { return "" }, &bytes.Buffer{}, &errb)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, server.BoltFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in --data-dir; stderr: %s", server.BoltFile, errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

func TestParseServeClusterFlags(t *testing.T) {
	cfg, _, err := parseServe(nil, func(string) string { return "" }, &bytes.Buffer{})
	if err != nil || cfg.Cluster.NATSURL != "" {
		t.Fatalf("default must be single node: %+v %v", cfg.Cluster, err)
	}
	env := map[string]string{"FLOWSYNC_NATS_URL": "nats://a:4222,nats://b:4222", "FLOWSYNC_NATS_CREDS": "/etc/flowsync/nats.creds",
		"FLOWSYNC_REGION": "eu"}
	cfg, _, err = parseServe([]string{"--dev", "--node-id", "eu-1", "--store-group", "eu-pg"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Cluster
	if c.NATSURL != "nats://a:4222,nats://b:4222" || c.NATSCreds != "/etc/flowsync/nats.creds" || c.Region != "eu" ||
		c.NodeID != "eu-1" || c.StoreGroup != "eu-pg" {
		t.Fatalf("cluster config: %+v", c)
	}
}

func TestParseServeAuthFiles(t *testing.T) {
	dir := t.TempDir()
	jwtFile, adminFile := dir+"/jwt", dir+"/admin"
	if err := os.WriteFile(jwtFile, []byte("k1:"+strings.Repeat("a", 32)+"\n"+strings.Repeat("b", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(adminFile, []byte(strings.Repeat("c", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FLOWSYNC_JWT_SECRET_FILE": jwtFile, "FLOWSYNC_JWT_ISSUER": "my-app"}
	cfg, _, err := parseServe([]string{"--admin-secret-file", adminFile, "--jwt-audience", "aud-1"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.JWT.Keys) != 2 || cfg.JWT.Keys[0].ID != "k1" || cfg.JWT.Audience != "aud-1" || cfg.JWT.Issuer != "my-app" {
		t.Fatalf("JWT config = %+v", cfg.JWT)
	}
	if string(cfg.AdminSecret) != strings.Repeat("c", 32) {
		t.Fatalf("admin secret not read")
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if _, _, err := parseServe([]string{"--jwt-secret-file", dir + "/missing"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Fatal("a missing secret file was accepted")
	}
}

func TestParseServeLimits(t *testing.T) {
	env := map[string]string{"FLOWSYNC_DEV": "true", "FLOWSYNC_MAX_CONNECTIONS_PER_IP": "7", "FLOWSYNC_FRAMES_PER_SECOND": "-1"}
	cfg, _, err := parseServe([]string{"--max-connections", "500", "--byte-burst", "4194304", "--trust-proxy-headers", "--connections-per-minute-per-ip", "-1", "--max-document-bytes", "1048576"},
		func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Session
	if s.MaxConnections != 500 || s.MaxConnectionsPerIP != 7 || s.MaxConnectionsPerUser != 50 || !s.TrustProxyHeaders ||
		s.FramesPerSecond != -1 || s.FrameBurst != 200 || s.ByteBurst != 4<<20 || s.MaxRateLimitRefusals != 100 ||
		s.ConnectionsPerMinutePerIP != -1 || s.ConnectionBurstPerIP != 100 || cfg.Rooms.MaxDocumentBytes != 1<<20 {
		t.Fatalf("session limits = %+v", s)
	}
}
