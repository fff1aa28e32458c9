package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// batches returns how many batches the writers flushed and how many frames
// they held in all.
func batches(t *testing.T, m *session.Metrics) (count uint64, frames float64) {
	t.Helper()
	var d dto.Metric
	if err := m.QueueDepth.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram().GetSampleCount(), d.GetHistogram().GetSampleSum()
}

// Frames queued while a connection waits out its flush interval go out
// together, each one whole and in order.
func TestFramesGatherBetweenFlushes(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) {
		s.FlushInterval = 200 * time.Millisecond
		s.FramesPerSecond = -1
	})
	a := e.connect(t, "ua:A", "rep-a")
	a.join("wf", "")
	a.send(&protocol.Delta{WorkflowID: "wf", OpID: "op-0", Delta: a.edit(addBlock("b", "B"))})
	a.expect(protocol.FrameApplied)

	// The Applied just flushed: the next acks wait for the interval, and
	// gather meanwhile.
	n0, f0 := batches(t, e.metrics)
	const edits = 30
	for i := 1; i <= edits; i++ {
		a.sendDelta("wf", a.edit(workflow.UpdatePosition{ID: "b", Position: workflow.Position{X: float64(i), Y: 1}}))
	}
	for i := 1; i <= edits; i++ {
		f := a.expect(protocol.FrameApplied).(*protocol.Applied)
		if want := fmt.Sprintf("op-%d", i); f.OpID != want {
			t.Fatalf("Applied %q, want %q: frames out of order", f.OpID, want)
		}
	}
	n1, f1 := batches(t, e.metrics)
	if got := f1 - f0; got < edits {
		t.Fatalf("%v frames flushed, want at least %d", got, edits)
	}
	if n1-n0 >= uint64(f1-f0) {
		t.Fatalf("%d batches for %v frames: nothing was gathered", n1-n0, f1-f0)
	}
}

// With FlushInterval -1 every wake flushes at once; the frames still all
// arrive, in order.
func TestFlushIntervalOff(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) {
		s.FlushInterval = -1
		s.FramesPerSecond = -1
	})
	a := e.connect(t, "ua:A", "rep-a")
	a.join("wf", "")
	a.send(&protocol.Delta{WorkflowID: "wf", OpID: "op-0", Delta: a.edit(addBlock("b", "B"))})
	a.expect(protocol.FrameApplied)
	for i := 1; i <= 10; i++ {
		a.sendDelta("wf", a.edit(workflow.UpdatePosition{ID: "b", Position: workflow.Position{X: float64(i), Y: 1}}))
	}
	for i := 1; i <= 10; i++ {
		if f := a.expect(protocol.FrameApplied).(*protocol.Applied); f.OpID != fmt.Sprintf("op-%d", i) {
			t.Fatalf("Applied %q out of order", f.OpID)
		}
	}
}

func TestFlushIntervalValidation(t *testing.T) {
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{{0, true}, {-1, true}, {5 * time.Millisecond, true}, {time.Second, true},
		{-2, false}, {-time.Millisecond, false}, {time.Second + 1, false}} {
		_, err := session.NewHandler(session.Config{FlushInterval: tc.d}, nil, session.DevAuthenticator{}, nil, nil)
		if tc.ok && err != nil && err.Error() != "session: NewHandler needs a registry and an authenticator" {
			t.Errorf("FlushInterval %v: %v", tc.d, err)
		}
		if !tc.ok && (err == nil || err.Error() == "session: NewHandler needs a registry and an authenticator") {
			t.Errorf("FlushInterval %v accepted", tc.d)
		}
	}
}

// An idle session runs one goroutine, its reader: the writer runs only
// while there is something to write, and ServeHTTP does not stay behind
// the upgrade.
func TestIdleSessionsRunOneGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, func(s *session.Config, _ *rooms.Config) {
			s.FlushInterval = 10 * time.Millisecond
		})
		a := e.connect(t, "ua:A", "rep-a")
		a.join("wf", "") // starts the room's goroutine
		// A held Stable waits up to a second for a write to ride with, then
		// is written and the writer lingers: 2 s leave every writer done.
		advance(2 * time.Second)
		base := bubbleGoroutines(t)

		const n = 20
		for i := range n {
			c := e.connect(t, fmt.Sprintf("u%d:U", i), fmt.Sprintf("rep-%d", i))
			c.join("wf", "")
		}
		// Counted in this bubble only: runtime.NumGoroutine counts the whole
		// process, where a goroutine of an earlier test finishing late (in
		// real time, which the bubble's fake time does not advance) was once
		// counted as a leak here.
		advance(2 * time.Second)
		got := bubbleGoroutines(t) - base
		t.Logf("base %d, %d more for %d idle sessions", base, got, n)
		if got > n {
			t.Fatalf("%d idle sessions run %d goroutines, want at most one each", n, got)
		}
		if got < n { // each session's reader waits for the next frame
			t.Fatalf("%d idle sessions run %d goroutines in the bubble: the count does not see them", n, got)
		}
	})
}

// bubbleGoroutines counts the goroutines of the caller's synctest bubble,
// from the headers of a full stack dump ("goroutine 7 [select, synctest
// bubble 3]:").
func bubbleGoroutines(t *testing.T) int {
	t.Helper()
	self := make([]byte, 256)
	self = self[:runtime.Stack(self, false)]
	header, _, _ := bytes.Cut(self, []byte("\n"))
	i := bytes.Index(header, []byte(", synctest bubble "))
	if i < 0 {
		t.Fatalf("not in a synctest bubble: %q", header)
	}
	tag := header[i:]
	tag = tag[:bytes.IndexByte(tag, ']')+1] // ", synctest bubble N]"
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for line := range bytes.Lines(buf) {
		if bytes.HasPrefix(line, []byte("goroutine ")) && bytes.Contains(line, tag) {
			count++
		}
	}
	return count
}

// An idle session still pings, from a writer started by the ping timer,
// so a client that answers stays connected past PongTimeout.
func TestIdleSessionKeptAliveByPings(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, func(s *session.Config, _ *rooms.Config) {
			s.PongTimeout = 300 * time.Millisecond
			s.PingInterval = 100 * time.Millisecond
		})
		c := e.connect(t, "ua:A", "rep-a")
		pings := make(chan struct{}, 100)
		c.conn.SetPingHandler(func(data string) error {
			pings <- struct{}{}
			return c.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		})
		// Reading is what answers pings: read until the server answers a Join
		// sent after more than three PongTimeouts of silence.
		join, err := protocol.Encode(&protocol.Join{WorkflowID: "wf"})
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(time.Second, func() { // fake time
			_ = c.conn.WriteMessage(websocket.BinaryMessage, join) // a failure shows as no Joined
		})
		if j := c.expect(protocol.FrameJoined).(*protocol.Joined); j.WorkflowID != "wf" {
			t.Fatalf("Joined %q", j.WorkflowID)
		}
		if len(pings) < 3 {
			t.Fatalf("%d pings in a second at a 100 ms interval", len(pings))
		}
	})
}

// The reader answers a client's ping at once, on an idle connection: the
// pong goes straight to the socket, not into a batch waiting for a flush.
func TestPongAnsweredOnIdleSession(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) {
		s.FlushInterval = time.Second // a pong waiting for a flush would miss the deadline below
	})
	c := e.connect(t, "ua:A", "rep-a")
	errPong := fmt.Errorf("pong")
	c.conn.SetPongHandler(func(data string) error {
		if data != "are you there" {
			return fmt.Errorf("pong %q", data)
		}
		return errPong
	})
	if err := c.conn.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, _, err := c.conn.ReadMessage(); err != errPong {
		t.Fatalf("read: %v, want the pong", err)
	}
}

// When Close gives up waiting, it cuts the connections still open: a
// client that neither reads nor answers the close frame does not hold the
// shutdown for the whole CloseGrace.
func TestCloseCutsWhenItGivesUp(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) {
		s.CloseGrace = 30 * time.Second
	})
	c := e.connect(t, "ua:A", "rep-a")
	c.join("wf", "")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := e.h.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close returned after %v", d)
	}
	if e.h.Len() != 0 {
		t.Fatalf("%d sessions still live after Close", e.h.Len())
	}
	// The client reads the 1012 the writer sent, then the cut.
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.conn.ReadMessage(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the connection was not closed")
			}
			break
		}
	}
}

// A client that drops its connection in the middle of a catch-up larger
// than the outbound queue: the writer's failed write must also end the
// reader, which is waiting for room in the queue, not reading.
func TestConnectionLostDuringCatchUp(t *testing.T) {
	e := newEnv(t, func(s *session.Config, r *rooms.Config) {
		r.MaxCatchUpChunk = 1 << 10
		// Room for A's Joined, Applied and Durable even if its writer is
		// slow; B's catch-up is many times more.
		s.MaxQueueFrames = 4
	})
	a := e.connect(t, "ua:A", "rep-a")
	a.join("wf", "")
	blocks := make([]workflow.BlockInput, 300)
	for i := range blocks {
		blocks[i] = workflow.BlockInput{ID: fmt.Sprintf("b%d", i), Type: "agent", Name: fmt.Sprintf("Agent %d", i)}
	}
	a.sendDelta("wf", a.edit(workflow.BatchAddBlocks{Blocks: blocks}))
	a.expect(protocol.FrameApplied)

	b := e.connect(t, "ub:B", "rep-b")
	b.send(&protocol.Join{WorkflowID: "wf"})
	if j := b.expect(protocol.FrameJoined).(*protocol.Joined); j.CatchUpChunks < 10 {
		t.Fatalf("catch-up in %d chunks, want many more than the queue holds", j.CatchUpChunks)
	}
	// Reset, not a clean close: the server's next write fails at once.
	if tc, ok := b.conn.UnderlyingConn().(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	b.conn.Close()
	testutil.WaitFor(t, "the dropped session to end", func() bool { return e.h.Len() == 1 })
}

// A quiet connection writes a frame at once, even right after a flush:
// the flush interval only gathers frames that came while a flush was
// under way. The bubble's fake time shows any wait exactly.
func TestQuietConnectionWritesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 500 * time.Millisecond
		e := newBubbleEnv(t, func(s *session.Config, _ *rooms.Config) { s.FlushInterval = interval })
		a := e.connect(t, "ua:A", "rep-a")
		a.join("wf", "")
		a.send(&protocol.Delta{WorkflowID: "wf", OpID: "op-0", Delta: a.edit(addBlock("b", "B"))})
		a.expect(protocol.FrameDurable)
		advance(50 * time.Millisecond) // quiet, but flushed less than interval ago
		for i := 1; i <= 3; i++ {
			start := time.Now()
			op := a.sendDelta("wf", a.edit(workflow.UpdatePosition{ID: "b", Position: workflow.Position{X: float64(i), Y: 1}}))
			if f := a.expect(protocol.FrameApplied).(*protocol.Applied); f.OpID != op {
				t.Fatalf("Applied %q, want %q", f.OpID, op)
			}
			if waited := time.Since(start); waited != 0 {
				t.Fatalf("edit %d: the Applied of a quiet connection waited %v", i, waited)
			}
			a.expect(protocol.FrameDurable)
			advance(50 * time.Millisecond)
		}
	})
}

// A Stable frame waits for the next frames of the connection and goes out
// with them; on a connection where nothing else comes it goes out after
// stableDelay (a second). Either way it follows the relays it covers. The
// store holds each write until the test lets it through, so that the
// commits come after the relays.
func TestStableRidesWithNextFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, nil)
		e.store.appends = make(chan struct{})
		defer close(e.store.appends) // later writes pass
		a := e.connect(t, "ua:A", "rep-a")
		b := e.connect(t, "ub:B", "rep-b")
		a.join("wf", "")
		b.join("wf", "")

		// Nothing else for B: the Stable of the first edit comes alone, a
		// second after the commit.
		a.sendDelta("wf", a.edit(addBlock("b1", "One")))
		b.expect(protocol.FrameRemoteDelta)
		e.store.appends <- struct{}{}
		committed := time.Now()
		f, err := b.next()
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := f.(*protocol.Stable); !ok || st.Seq != 1 {
			t.Fatalf("after the relay: %T %+v, want Stable seq 1", f, f)
		}
		if waited := time.Since(committed); waited != time.Second {
			t.Fatalf("the lone Stable came %v after the commit, want 1s", waited)
		}

		// The next edit's Stable is held until the edit after it is
		// relayed, and goes out with that relay.
		a.sendDelta("wf", a.edit(addBlock("b2", "Two")))
		if rd := b.expect(protocol.FrameRemoteDelta).(*protocol.RemoteDelta); rd.Seq != 2 {
			t.Fatalf("relay seq %d, want 2", rd.Seq)
		}
		e.store.appends <- struct{}{}
		advance(100 * time.Millisecond) // committed; its Stable is held
		sent := time.Now()
		a.sendDelta("wf", a.edit(addBlock("b3", "Three")))
		if rd := b.expect(protocol.FrameRemoteDelta).(*protocol.RemoteDelta); rd.Seq != 3 {
			t.Fatalf("relay seq %d, want 3", rd.Seq)
		}
		f, err = b.next()
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := f.(*protocol.Stable); !ok || st.Seq != 2 {
			t.Fatalf("after the third relay: %T %+v, want the held Stable seq 2", f, f)
		}
		if waited := time.Since(sent); waited != 0 {
			t.Fatalf("the held Stable came %v after the next relay, want with it", waited)
		}
	})
}
