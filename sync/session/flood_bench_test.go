package session_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// BenchmarkPresenceFlood measures what a Presence flood costs the server:
// one session joins a room with a bystander and writes floodFrames Presence
// frames as fast as the socket takes them, with the default limits (50
// frames/s, burst 200, 100 refusals in 10 s). Before dropped Presence
// frames counted toward the refusal limit the server read, decoded and
// dropped the whole flood and never closed the connection; now it closes
// it with 4006 after about 300 frames and the rest never reach it.
//
//	nice go test -run '^$' -bench BenchmarkPresenceFlood -benchtime 5x -count 3 ./sync/session
//
// Metrics, per flood: cpu-ms (user+system CPU of the whole process, the
// in-process client's writes included: the client stops writing once the
// server closed, so the client's share falls too), frames-written (what
// the client got onto the socket before the close) and closed (1 when the
// server closed the flood with 4006 within the flood, else 0).
func BenchmarkPresenceFlood(b *testing.B) {
	const floodFrames = 200_000
	reg, err := rooms.NewRegistry(rooms.Config{}, memory.New(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	h, err := session.NewHandler(session.Config{}, reg, session.DevAuthenticator{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = reg.Close(ctx)
		_ = h.Close(ctx)
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	bystander := floodJoin(b, url, "by:B")
	defer bystander.Close()
	go func() { // the bystander reads, so that its queue never fills
		for {
			if _, _, err := bystander.ReadMessage(); err != nil {
				return
			}
		}
	}()
	frame, err := protocol.Encode(&protocol.Presence{WorkflowID: "wf", Cursor: &protocol.Point{X: 1, Y: 2}})
	if err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	var written, closed int
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c := floodJoin(b, url, "flood:F")
		done := make(chan int, 1)
		go func() { // read until the close
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					if ce, ok := err.(*websocket.CloseError); ok {
						done <- ce.Code
					} else {
						done <- 0
					}
					return
				}
			}
		}()
		before := processCPU()
		b.StartTimer()
		n := 0
		for ; n < floodFrames; n++ {
			if c.WriteMessage(websocket.BinaryMessage, frame) != nil {
				break
			}
		}
		c.Close()
		code := <-done
		b.StopTimer()
		cpu += processCPU() - before
		written += n
		if code == int(protocol.CloseRateLimited) && n < floodFrames {
			closed++
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms")
	b.ReportMetric(float64(written)/float64(b.N), "frames-written")
	b.ReportMetric(float64(closed)/float64(b.N), "closed")
}

// processCPU returns the user plus system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// floodJoin connects as token, joins "wf" and reads up to its Joined.
func floodJoin(b *testing.B, url, token string) *websocket.Conn {
	b.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []protocol.Frame{
		&protocol.Hello{ProtocolVersion: protocol.ProtocolVersion, Token: token},
		&protocol.Join{WorkflowID: "wf"},
	} {
		raw, err := protocol.Encode(f)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.WriteMessage(websocket.BinaryMessage, raw); err != nil {
			b.Fatal(err)
		}
	}
	for {
		_, raw, err := c.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		f, err := protocol.Decode(raw, protocol.Limits{MaxFrameBytes: 64 << 20})
		if err != nil {
			b.Fatal(err)
		}
		if f.Type() == protocol.FrameJoined {
			return c
		}
	}
}
