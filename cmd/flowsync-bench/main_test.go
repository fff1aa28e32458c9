package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/benchmarks/loadgen"
)

// TestRunInProcess runs the command end to end against the in-process
// relay and checks both result files.
func TestRunInProcess(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"run", "--target", "relay", "--in-process", "--scenario", "hot-room",
		"--clients", "4", "--rate", "10", "--duration", "1s", "--postgres-url", "", "--out", dir}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "deliveries/s") {
		t.Errorf("no progress line in:\n%s", stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rs []loadgen.Result
	if err := json.Unmarshal(b, &rs); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Rooms != 1 || rs[0].Deliveries == 0 || rs[0].Target != "relay" {
		t.Fatalf("results.json: %s", b)
	}
	md, err := os.ReadFile(filepath.Join(dir, "results.md"))
	if err != nil || !strings.Contains(string(md), "| relay | none | hot-room | 4 / 1 |") {
		t.Fatalf("results.md (%v):\n%s", err, md)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nope"},
		{"run", "--scenario", "drag-storm"},
		{"run", "--url", "ws://x", "--target", "relay,flowsync"},
	} {
		if err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q): want an error", args)
		}
	}
}
