package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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
// in-process relay and checks what it wrote (search.json, the chart, the
// table).
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
	// Whether a step passes depends on how loaded the machine is, so the
	// test holds the search to its rules, not to a speed: each verdict
	// follows from the step's figures, the rates are the ones walkRates asks
	// for given those verdicts, and the result is the best passing step.
	steps := srs[0].Steps
	if len(steps) == 0 || steps[0].OfferedPerSec != 20 {
		t.Fatalf("steps %+v: want the first at 20 offered", steps)
	}
	var best searchStep
	for _, st := range steps {
		want := st.AckP99Ms <= 100 && st.SustainedPerSec >= 0.95*st.OfferedPerSec
		if st.Pass != want || st.Pass != (st.Why == "") {
			t.Errorf("step %+v: pass = %v, its figures say %v", st, st.Pass, want)
		}
		if st.Pass && st.SustainedPerSec > best.SustainedPerSec {
			best = st
		}
	}
	i := 0
	err = walkRates(20, 2, 80, 2, 2, func(offered float64) (bool, error) {
		if i >= len(steps) || steps[i].OfferedPerSec != offered {
			return false, fmt.Errorf("step %d: the search would offer %v; the run recorded %+v", i, offered, steps[i:])
		}
		i++
		return steps[i-1].Pass, nil
	})
	if err != nil || i != len(steps) {
		t.Errorf("replaying the recorded verdicts: %v (%d of %d steps)", err, i, len(steps))
	}
	if srs[0].MaxSustained != best.SustainedPerSec || srs[0].MaxOffered != best.OfferedPerSec {
		t.Errorf("result %v at %v, want the best passing step %+v", srs[0].MaxSustained, srs[0].MaxOffered, best)
	}
	png, err := os.ReadFile(filepath.Join(dir, "search.png"))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("search.png: %v", err)
	}
	if !strings.Contains(stdout.String(), "| relay | none |") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}

// walkRates raises the rate while steps pass, retries a failing rate, and
// narrows between the last pass and the first failure.
func TestWalkRates(t *testing.T) {
	var asked []float64
	flaky := map[float64]int{40: 1} // 40 fails once, then passes
	err := walkRates(20, 2, 1000, 2, 2, func(offered float64) (bool, error) {
		asked = append(asked, offered)
		if flaky[offered] > 0 {
			flaky[offered]--
			return false, nil
		}
		return offered <= 100, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 20, 40 (fails, retried), 80, 160 (three tries), then the midpoints
	// sqrt(80·160) ≈ 113 (fails three times) and sqrt(80·113) ≈ 95.
	m1 := math.Sqrt(80 * 160)
	m2 := math.Sqrt(80 * m1)
	want := []float64{20, 40, 40, 80, 160, 160, 160, m1, m1, m1, m2}
	if !slices.Equal(asked, want) {
		t.Errorf("rates %v, want %v", asked, want)
	}
	if err := walkRates(20, 2, 1000, 2, 0, func(float64) (bool, error) { return false, errors.New("down") }); err == nil {
		t.Error("a failing step's error was not returned")
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
