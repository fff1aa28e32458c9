package loadgen

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

func TestPercentiles(t *testing.T) {
	var ns []int64
	for i := 1; i <= 1000; i++ {
		ns = append(ns, int64(i)*int64(time.Millisecond))
	}
	p := percentiles(ns)
	if p.Count != 1000 || p.P50 != 500 || p.P99 != 990 || p.P999 != 999 || p.Max != 1000 {
		t.Fatalf("percentiles = %+v", p)
	}
	// The CDF runs from the minimum to the maximum, quantiles and values
	// both non-decreasing, with the tail points included.
	if len(p.CDF) != 203 || p.CDF[0] != [2]float64{0, 1} || p.CDF[len(p.CDF)-1] != [2]float64{1, 1000} {
		t.Fatalf("CDF ends: %d points, first %v, last %v", len(p.CDF), p.CDF[0], p.CDF[len(p.CDF)-1])
	}
	for i := 1; i < len(p.CDF); i++ {
		if p.CDF[i][0] < p.CDF[i-1][0] || p.CDF[i][1] < p.CDF[i-1][1] {
			t.Fatalf("CDF not monotonic at %d: %v after %v", i, p.CDF[i], p.CDF[i-1])
		}
	}
	if p := percentiles(nil); p.Count != 0 || p.CDF != nil {
		t.Fatal("empty input: want zero percentiles")
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := ReadProc(0)
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSBytes <= 0 || s.HWMBytes < s.RSSBytes || s.CPU < 0 {
		t.Fatalf("ReadProc(self) = %+v", s)
	}
}

// TestSendTimeRoundTrip checks that the send time written by apply is what
// a receiver reads back from the delta, for both kinds of operation.
func TestSendTimeRoundTrip(t *testing.T) {
	epoch := time.Now().Add(-time.Hour)
	b := &bench{epoch: epoch, epochNs: epoch.UnixNano()}
	doc := workflow.New()
	now := time.Now()
	nowNs := b.epochNs + now.Sub(epoch).Nanoseconds()
	for i, op := range []workflow.Op{
		workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b1", Type: "agent", Name: "B1"}}},
		workflow.UpdateSubBlock{BlockID: "b1", SubBlockID: SubBlockID, Value: "t=" + strconv.FormatInt(nowNs, 10)},
		workflow.UpdatePosition{ID: "b1", Position: workflow.Position{X: float64(nowNs - b.epochNs), Y: 3}},
	} {
		delta, err := doc.Prepare(crdt.Timestamp{Wall: now.UnixMilli(), Logical: uint32(i), Replica: "r1"}, op)
		if err != nil {
			t.Fatal(err)
		}
		doc.Merge(delta)
	}
	var got []int64
	doc.Store().Range(func(k workflow.Key, cells []crdtCell) bool {
		for _, c := range cells {
			if ts, ok := b.sendTime(k, c.Value.Value); ok {
				got = append(got, ts)
			}
		}
		return true
	})
	if len(got) != 2 || got[0] != nowNs || got[1] != nowNs {
		t.Fatalf("send times %v, want two of %d", got, nowNs)
	}
}

func TestWriteMarkdown(t *testing.T) {
	rs := []*Result{
		{Target: "flowsync", Store: "postgres", Scenario: "s", OpsSent: 1000, OpsPerSec: 2500, ServerProcess: "self (in-process)",
			Postgres: &PGWrites{Ops: 1000, TxPer1kOps: 10}},
		{Target: "baseline", Scenario: "s", OpsSent: 1000, OpsPerSec: 100, ServerProcess: "pid 1",
			Postgres: &PGWrites{Ops: 1000, TxPer1kOps: 1000}},
		{Target: "relay", Scenario: "s", OpsSent: 1000, OpsPerSec: 5000, ServerProcess: "pid 2"},
	}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, rs); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"| figure | flowsync (postgres) | baseline (–) | relay (–) | flowsync / baseline | flowsync / relay |",
		"| durable ops/s in window (acked before it closed) | 2,500 | 100 | 5,000 | 25.00× | 0.50× |",
		"| Postgres commits per 1,000 ops | 10.0 | 1,000.0 | – | 0.0100× (1/100) | – |",
		"/proc/self", "/proc/<pid>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "reconnect storm") || strings.Contains(out, "idle:") {
		t.Errorf("rows without values were written:\n%s", out)
	}
}

func TestParseMix(t *testing.T) {
	for in, want := range map[string]string{
		"":                                      "position=50,subblock=50",
		"typing":                                "subblock=100",
		"position=50,subblock=40,structural=10": "position=50,subblock=40,structural=10",
		" drag = 3 , position=1":                "position=1,drag=3",
	} {
		m, err := ParseMix(in)
		if err != nil || m.String() != want {
			t.Errorf("ParseMix(%q) = %q, %v; want %q", in, m, err, want)
		}
	}
	for _, bad := range []string{"position", "position=-1", "teleport=5", "drag=0"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q): want an error", bad)
		}
	}
	m, _ := ParseMix("drag=1")
	if m.Durable() || !m.Has(KindDrag) {
		t.Errorf("drag-only mix: Durable %v, Has(drag) %v", m.Durable(), m.Has(KindDrag))
	}
}

// TestStructuralCycle applies three rounds of the structural cycle to a
// document holding the client's block: every edit must be valid, the adds
// carry send times, and each round ends with the document as it began.
func TestStructuralCycle(t *testing.T) {
	epoch := time.Now()
	b := &bench{epoch: epoch, epochNs: epoch.UnixNano()}
	bc := &benchClient{block: "b0", idx: 0}
	doc := workflow.New()
	ts := func(i int) crdt.Timestamp {
		return crdt.Timestamp{Wall: epoch.UnixMilli(), Logical: uint32(i), Replica: "r1"}
	}
	if _, err := doc.Apply(ts(0), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b0", Type: "agent", Name: "B0"}}}); err != nil {
		t.Fatal(err)
	}
	timed := 0
	for i := 1; i <= 18; i++ {
		op, isTimed := b.structural(bc, float64(i))
		delta, err := doc.Apply(ts(i), op)
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, op.Name(), err)
		}
		if isTimed {
			timed++
			n := 0
			delta.Store().Range(func(k workflow.Key, cells []crdtCell) bool {
				for _, c := range cells {
					if _, ok := b.sendTime(k, c.Value.Value); ok {
						n++
					}
				}
				return true
			})
			if n != 1 {
				t.Errorf("step %d (%s): %d send times in the delta, want 1", i, op.Name(), n)
			}
		}
		if i%6 == 0 {
			if v := doc.View(); len(v.Blocks) != 1 || len(v.Edges) != 0 {
				t.Fatalf("after round %d: %d blocks, %d edges; want only b0", i/6, len(v.Blocks), len(v.Edges))
			}
		}
	}
	if timed != 6 || bc.cycle != 3 {
		t.Errorf("timed %d, cycles %d; want 6 and 3", timed, bc.cycle)
	}
}
