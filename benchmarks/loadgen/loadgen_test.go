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
	if (percentiles(nil) != Percentiles{}) {
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
		{Target: "baseline", Scenario: "s", OpsPerSec: 100, ServerProcess: "pid 1"},
		{Target: "flowsync", Scenario: "s", OpsPerSec: 2500, ServerProcess: "self (in-process)"},
	}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, rs); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "| 25.00 |") || !strings.Contains(out, "/proc/self") || !strings.Contains(out, "/proc/<pid>") {
		t.Fatalf("markdown:\n%s", out)
	}
}
