package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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
	if err != nil || !strings.Contains(string(md), "Scenario **hot-room**: 4 clients, 1 rooms") || !strings.Contains(string(md), "| figure | relay (none) |") {
		t.Fatalf("results.md (%v):\n%s", err, md)
	}
	for _, png := range []string{"hot-room-latency.png", "hot-room-throughput.png"} {
		b, err := os.ReadFile(filepath.Join(dir, png))
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s: %v, %d bytes", png, err, len(b))
		}
	}
}

// TestSearchInProcess runs a tiny max-throughput search against the
// in-process relay: it raises the offered rate by --factor until --max,
// every step passes (the relay acks at once), and the best step is the
// result.
func TestSearchInProcess(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"search", "--target", "relay", "--in-process", "--clients", "4", "--rooms", "2",
		"--start", "20", "--factor", "2", "--max", "80", "--step", "1s", "--retries", "2", "--postgres-url", "", "--out", dir}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "search.json"))
	if err != nil {
		t.Fatal(err)
	}
	var srs []searchResult
	if err := json.Unmarshal(b, &srs); err != nil {
		t.Fatal(err)
	}
	if len(srs) != 1 {
		t.Fatalf("search.json: %s", b)
	}
	// The rates go 20, 40, 80 (a rate that failed on a stall of the shared
	// machine is tried again, up to --retries times) and each passes.
	var rates []float64
	passed := map[float64]bool{}
	for _, st := range srs[0].Steps {
		if len(rates) == 0 || rates[len(rates)-1] != st.OfferedPerSec {
			rates = append(rates, st.OfferedPerSec)
		}
		passed[st.OfferedPerSec] = passed[st.OfferedPerSec] || st.Pass
	}
	if !slices.Equal(rates, []float64{20, 40, 80}) || !passed[20] || !passed[40] || !passed[80] {
		t.Errorf("steps %+v: want 20, 40 and 80 offered, each passing", srs[0].Steps)
	}
	if m := srs[0].MaxSustained; m < 0.95*80 || srs[0].MaxOffered != 80 {
		t.Errorf("max sustained %v at %v, want ≈ 80 at 80", m, srs[0].MaxOffered)
	}
	png, err := os.ReadFile(filepath.Join(dir, "search.png"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("search.png: %v", err)
	}
	if !strings.Contains(stdout.String(), "| relay | none |") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

func TestPresetsAndFlags(t *testing.T) {
	for name, p := range presets {
		if name != LargeJoin && name != Idle && name != ReconnectStorm && (p.rate <= 0 || p.duration <= 0) {
			t.Errorf("%s: preset %+v has no rate or duration", name, p)
		}
		if p.rooms > p.clients {
			t.Errorf("%s: more rooms than clients", name)
		}
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nope"},
		{"run", "--scenario", "teleport"},
		{"run", "--mix", "position=x"},
		{"search", "--factor", "1"},
		{"run", "--url", "ws://x", "--target", "relay,flowsync"},
	} {
		if err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q): want an error", args)
		}
	}
}
