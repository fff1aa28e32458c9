package cluster_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/cluster"
	"github.com/flowsync/flowsync/sync/cluster/clustertest"
	"github.com/flowsync/flowsync/sync/protocol"
)

// liveSink is a Local that records the live frames it hears.
type liveSink struct {
	*clustertest.Memory
	mu     sync.Mutex
	frames map[string][]byte // latest frame per node
	count  atomic.Int64      // frames heard
	msgs   atomic.Int64      // RemoteEphemeral calls
}

func (s *liveSink) RemoteEphemeral(workflowID, nodeID string, frames [][]byte) {
	s.msgs.Add(1)
	s.count.Add(int64(len(frames)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frames == nil {
		s.frames = map[string][]byte{}
	}
	s.frames[nodeID] = frames[len(frames)-1]
}

func (s *liveSink) latest(node string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frames[node]
}

// cursorFrame is the PresenceUpdate a room relays for session i at step k.
func cursorFrame(wf string, i, k int) []byte {
	return protocol.AppendFrame(nil, &protocol.PresenceUpdate{WorkflowID: wf,
		SessionID: fmt.Sprintf("s-%03d-0123456789ab", i), UserID: fmt.Sprintf("user-%03d", i), Name: fmt.Sprintf("User %d", i),
		Cursor: &protocol.Point{X: float64(100 + k), Y: float64(200 + i)}, Selection: protocol.Selection{Type: protocol.SelectBlock, ID: "block-0001"}})
}

// Frames of one session queued faster than EphemeralInterval coalesce:
// the other node hears the latest, in far fewer messages than frames.
func TestEphemeralCoalesced(t *testing.T) {
	s := clustertest.StartNATS(t, nil)
	const wf = "wf-live"
	a := &liveSink{Memory: clustertest.NewMemory()}
	b := &liveSink{Memory: clustertest.NewMemory()}
	na, err := cluster.New(cluster.Config{NodeID: "a"}, connect(t, s), a, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = na.Close() })
	nb, err := cluster.New(cluster.Config{NodeID: "b"}, connect(t, s), b, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nb.Close() })
	for _, x := range []struct {
		m *clustertest.Memory
		n *cluster.Node
	}{{a.Memory, na}, {b.Memory, nb}} {
		x.m.Open(wf)
		if err := x.n.Host(wf); err != nil {
			t.Fatal(err)
		}
	}
	if err := na.PublishEphemeral("not-hosted", "p1", cursorFrame("not-hosted", 1, 0)); err != nil {
		t.Fatal(err)
	}
	const frames = 200
	start := time.Now()
	for k := range frames {
		if err := na.PublishEphemeral(wf, "ps1", cursorFrame(wf, 1, k)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	last := cursorFrame(wf, 1, frames-1)
	testutil.WaitWithin(t, 5*time.Second, "b to hear the latest cursor", func() bool { return string(b.latest("a")) == string(last) })
	msgs := b.msgs.Load()
	// At most one message per interval, plus the first and the last.
	if limit := int64(elapsed/cluster.EphemeralInterval) + 2; msgs > limit {
		t.Fatalf("%d messages for %d frames over %v, want at most %d (30 Hz)", msgs, frames, elapsed, limit)
	}
	if b.count.Load() != msgs {
		t.Fatalf("%d frames in %d messages: one session's frames were not coalesced", b.count.Load(), msgs)
	}
	t.Logf("%d frames in %v crossed as %d messages", frames, elapsed.Round(time.Millisecond), msgs)
	if got := a.count.Load(); got != 0 {
		t.Fatalf("a heard %d of its own frames", got)
	}
}

// BenchmarkEphemeralBus measures the bus traffic of live presence for a
// 100-member room spread over 3 nodes (34, 33, 33), every member moving its
// cursor (and holding a selection) at 30 Hz, the clients' rate: the worst
// case of a busy canvas. One op is one second of that traffic, in real
// time. It reports the bytes NATS took in from the nodes (bus-in-B/s, each
// message once, headers included) and delivered to them (bus-out-B/s: each
// message reaches the 2 other nodes), and messages published per second.
// Roster heartbeats (one entry per node every PresenceHeartbeat) are not
// part of it.
func BenchmarkEphemeralBus(b *testing.B) {
	const (
		wf      = "3f9c2a1e-5b7d-4c8e-9a0b-1d2e3f4a5b6c"
		members = 100
		nodes   = 3
		rate    = 30
	)
	s := clustertest.StartNATS(b, nil)
	ns := make([]*cluster.Node, nodes)
	sinks := make([]*liveSink, nodes)
	for i := range ns {
		sinks[i] = &liveSink{Memory: clustertest.NewMemory()}
		n, err := cluster.New(cluster.Config{NodeID: fmt.Sprintf("node-%d", i)}, connect(b, s), sinks[i], nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = n.Close() })
		sinks[i].Open(wf)
		if err := n.Host(wf); err != nil {
			b.Fatal(err)
		}
		ns[i] = n
	}
	// Frames are built ahead (the room builds them for its own members
	// anyway); what is measured is the bus.
	const steps = rate
	frames := make([][][]byte, members)
	for m := range frames {
		frames[m] = make([][]byte, steps)
		for k := range steps {
			frames[m][k] = cursorFrame(wf, m, k)
		}
	}
	before := func() (in, out, msgs int64) {
		v, err := s.Varz(nil)
		if err != nil {
			b.Fatal(err)
		}
		return v.InBytes, v.OutBytes, v.InMsgs
	}
	in0, out0, msgs0 := before()
	heard0 := int64(0)
	for _, sk := range sinks {
		heard0 += sk.count.Load()
	}
	start := time.Now()
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	for b.Loop() {
		for k := range steps {
			<-tick.C
			for m := range members {
				if err := ns[m%nodes].PublishEphemeral(wf, fmt.Sprintf("p%d", m), frames[m][k]); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	time.Sleep(2 * cluster.EphemeralInterval) // the last flush
	secs := time.Since(start).Seconds()
	in1, out1, msgs1 := before()
	heard := int64(0)
	for _, sk := range sinks {
		heard += sk.count.Load()
	}
	b.ReportMetric(float64(in1-in0)/secs, "bus-in-B/s")
	b.ReportMetric(float64(out1-out0)/secs, "bus-out-B/s")
	b.ReportMetric(float64(msgs1-msgs0)/secs, "msgs/s")
	b.ReportMetric(float64(heard-heard0)/secs, "frames-heard/s")
	b.ReportMetric(float64(len(frames[0][0])), "frame-B")
}
