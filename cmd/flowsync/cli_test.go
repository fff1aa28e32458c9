package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestServeRefusesWithoutDev(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"serve"}, func(string) string { return "" }, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "refusing to start: authentication is not configured; run with --dev") {
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

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, func(string) string { return "" }, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "flowsync ") {
		t.Fatalf("%d %q", code, out.String())
	}
}
