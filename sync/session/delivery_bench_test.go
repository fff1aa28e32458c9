package session_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// BenchmarkDelivery measures what the server writes per edit in rooms of
// ten editors, each sending rate edits per second (paced, the editors in
// turn): websocket
// messages, socket writes (flushes) and bytes out per edit, goroutines the
// process created per edit, and the process's CPU per edit (the in-process
// clients' reading included). One
// iteration is one edit from every client. With acks=on the clients ask
// for Acks frames (Hello.caps).
//
//	nice go test -run '^$' -bench BenchmarkDelivery -benchtime 20x -count 3 ./sync/session
func BenchmarkDelivery(b *testing.B) {
	for _, rate := range []int{5, 50} {
		for _, acks := range []bool{false, true} {
			b.Run(fmt.Sprintf("rate=%d/acks=%v", rate, acks), func(b *testing.B) { benchDelivery(b, rate, acks) })
		}
	}
}

type benchEditor struct {
	conn  *websocket.Conn
	doc   *workflow.Doc
	clock *crdt.Clock
	block string
	wall  int64
	mu    sync.Mutex
	acked int // ops durable
	done  chan struct{}
}

func benchDelivery(b *testing.B, rate int, acks bool) {
	const roomsN, perRoom = 2, 10
	reg, err := rooms.NewRegistry(rooms.Config{}, memory.New(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	metrics := session.NewMetrics(nil)
	h, err := session.NewHandler(session.Config{FramesPerSecond: -1, ConnectionsPerMinutePerIP: -1}, reg, session.DevAuthenticator{}, nil, metrics)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = reg.Close(ctx)
		_ = h.Close(ctx)
		srv.Close()
	}()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var caps []string
	if acks {
		caps = []string{protocol.CapabilityAcks}
	}
	send := func(c *websocket.Conn, f protocol.Frame) {
		if err := c.WriteMessage(websocket.BinaryMessage, protocol.AppendFrame(nil, f)); err != nil {
			b.Fatal(err)
		}
	}
	wall0 := time.Now().Add(-time.Hour).UnixMilli()
	var eds []*benchEditor
	var want int // durable ops every editor waits for, per editor
	var wantMu sync.Mutex
	for i := range roomsN * perRoom {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		rid := fmt.Sprintf("rep-%d", i)
		send(c, &protocol.Hello{ProtocolVersion: protocol.ProtocolVersion, Token: fmt.Sprintf("u%d:U", i), ReplicaID: rid, Caps: caps})
		wf := fmt.Sprintf("wf-%d", i%roomsN)
		send(c, &protocol.Join{WorkflowID: wf})
		e := &benchEditor{conn: c, doc: workflow.New(), clock: crdt.NewClock(crdt.ReplicaID(rid)), block: fmt.Sprintf("b%d", i), wall: wall0, done: make(chan struct{})}
		eds = append(eds, e)
		go func() {
			defer close(e.done)
			for {
				_, m, err := c.ReadMessage()
				if err != nil {
					return
				}
				f, err := protocol.Decode(m, protocol.Limits{MaxFrameBytes: 64 << 20})
				if err != nil {
					return
				}
				n := 0
				switch f := f.(type) {
				case *protocol.Durable:
					n = len(f.OpIDs)
				case *protocol.Acks:
					n = len(f.Durable)
				}
				if n > 0 {
					e.mu.Lock()
					e.acked += n
					e.mu.Unlock()
				}
			}
		}()
		e.wall++
		d, err := e.doc.Apply(e.clock.Now(e.wall), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: e.block, Type: "agent", Name: "Agent " + e.block}}})
		if err != nil {
			b.Fatal(err)
		}
		send(c, &protocol.Delta{WorkflowID: wf, OpID: "add", Delta: d.Encode()})
	}
	want = 1
	waitDurable := func() {
		wantMu.Lock()
		w := want
		wantMu.Unlock()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			all := true
			for _, e := range eds {
				e.mu.Lock()
				if e.acked < w {
					all = false
				}
				e.mu.Unlock()
			}
			if all {
				return
			}
		}
		b.Fatal("edits not durable within 30 s")
	}
	waitDurable()
	flushes := func() (uint64, float64) {
		var d dto.Metric
		_ = metrics.QueueDepth.Write(&d)
		return d.GetHistogram().GetSampleCount(), d.GetHistogram().GetSampleSum()
	}
	bytesOut := func() float64 {
		var d dto.Metric
		_ = metrics.BytesOut.Write(&d)
		return d.GetCounter().GetValue()
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	n0, f0 := flushes()
	bytes0, cpu0, g0 := bytesOut(), cpu(), goroutinesCreated(b)
	b.ResetTimer()
	// The editors take turns, evenly spread over each period, as
	// independent editors' edits arrive.
	tick := time.NewTicker(time.Second / time.Duration(rate*len(eds)))
	defer tick.Stop()
	for i := range b.N {
		for k, e := range eds {
			<-tick.C
			e.wall++
			d, err := e.doc.Apply(e.clock.Now(e.wall), workflow.UpdatePosition{ID: e.block, Position: workflow.Position{X: float64(i), Y: float64(k)}})
			if err != nil {
				b.Fatal(err)
			}
			send(e.conn, &protocol.Delta{WorkflowID: fmt.Sprintf("wf-%d", k%roomsN), OpID: fmt.Sprintf("op-%d", i), Delta: d.Encode()})
		}
	}
	wantMu.Lock()
	want = 1 + b.N
	wantMu.Unlock()
	waitDurable()
	b.StopTimer()
	n1, f1 := flushes()
	edits := float64(b.N * len(eds))
	b.ReportMetric(f1-f0, "messages")
	b.ReportMetric((f1-f0)/edits, "messages/edit")
	b.ReportMetric(float64(n1-n0)/edits, "writes/edit")
	b.ReportMetric((bytesOut()-bytes0)/edits, "bytes/edit")
	b.ReportMetric(float64(goroutinesCreated(b)-g0)/edits, "goroutines/edit")
	b.ReportMetric(float64((cpu()-cpu0).Microseconds())/edits, "cpu-us/edit")
	for _, e := range eds {
		_ = e.conn.Close()
		<-e.done
	}
}
