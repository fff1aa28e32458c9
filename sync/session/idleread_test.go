package session_test

import (
	"bytes"
	"encoding/binary"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// clientFrame encodes a masked client-to-server websocket frame (RFC 6455
// 5.2), so that tests can put several frames, or part of one, in a single
// TCP write.
func clientFrame(op byte, payload []byte) []byte {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	mask := [4]byte{0x1b, 0x2c, 0x3d, 0x4e}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i&3])
	}
	return b
}

func encodeFrame(t *testing.T, f protocol.Frame) []byte {
	t.Helper()
	b, err := protocol.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c *client) writeRaw(b []byte) {
	c.t.Helper()
	if _, err := c.conn.NetConn().Write(b); err != nil {
		c.t.Fatalf("raw write: %v", err)
	}
}

// Frames that arrive together are all handled, without waiting for more
// input: the reader reads on while its buffer holds bytes.
func TestFramesInOneWrite(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(t, nil)
	var raw []byte
	raw = append(raw, clientFrame(websocket.BinaryMessage, encodeFrame(t, &protocol.Hello{
		ProtocolVersion: protocol.ProtocolVersion, Token: "ann", ReplicaID: "r1", ClientName: "test"}))...)
	raw = append(raw, clientFrame(websocket.BinaryMessage, encodeFrame(t, &protocol.Join{WorkflowID: "wf-1"}))...)
	raw = append(raw, clientFrame(websocket.BinaryMessage, encodeFrame(t, &protocol.Join{WorkflowID: "wf-2"}))...)
	c.writeRaw(raw)
	c.expect(protocol.FrameWelcome)
	for _, wf := range []string{"wf-1", "wf-2"} {
		j := c.expect(protocol.FrameJoined).(*protocol.Joined)
		if j.WorkflowID != wf {
			t.Fatalf("joined %q, want %q", j.WorkflowID, wf)
		}
	}
}

// A client's pings are answered with their payload, whether the ping
// arrives alone, before a data frame in the same write, or split across
// writes; pongs are taken in passing.
func TestClientPingsAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, nil)
		c := e.connect(t, "ann", "r1")
		pongs := make(chan string, 8)
		c.conn.SetPongHandler(func(s string) error { pongs <- s; return nil })
		expectPong := func(want string) {
			t.Helper()
			select {
			case got := <-pongs:
				if got != want {
					t.Fatalf("pong %q, want %q", got, want)
				}
			default:
				t.Fatalf("no pong %q before the next frame", want)
			}
		}

		// A ping alone, then a Join: the pong comes before Joined.
		c.writeRaw(clientFrame(websocket.PingMessage, []byte("alone")))
		c.join("wf-1", "")
		expectPong("alone")

		// A pong, a ping and a Join in one write.
		var raw []byte
		raw = append(raw, clientFrame(websocket.PongMessage, []byte("ignored"))...)
		raw = append(raw, clientFrame(websocket.PingMessage, []byte("together"))...)
		raw = append(raw, clientFrame(websocket.BinaryMessage, encodeFrame(t, &protocol.Join{WorkflowID: "wf-2"}))...)
		c.writeRaw(raw)
		c.expect(protocol.FrameJoined)
		expectPong("together")

		// A ping split inside its header, then inside its payload.
		ping := clientFrame(websocket.PingMessage, bytes.Repeat([]byte("p"), 125))
		// Each piece is read, and the reader waits for the next, before
		// the next is written.
		c.writeRaw(ping[:1])
		synctest.Wait()
		c.writeRaw(ping[1:40])
		synctest.Wait()
		c.writeRaw(append(ping[40:], clientFrame(websocket.BinaryMessage, encodeFrame(t, &protocol.Join{WorkflowID: "wf-3"}))...))
		c.expect(protocol.FrameJoined)
		expectPong(string(bytes.Repeat([]byte("p"), 125)))
	})
}

// A control frame that breaks the rules is left to gorilla, which closes
// the connection with 1002 (protocol error).
func TestMalformedControlFrameRefused(t *testing.T) {
	e := newEnv(t, nil)
	c := e.connect(t, "ann", "r1")
	bad := clientFrame(websocket.PingMessage, []byte("x"))
	bad[0] &^= 0x80 // a fragmented ping
	c.writeRaw(bad)
	if code := c.expectClose(); code != websocket.CloseProtocolError {
		t.Fatalf("close %d, want %d", code, websocket.CloseProtocolError)
	}
}

// A message larger than the read buffer, arriving in pieces, is read whole.
func TestLargeMessageInPieces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, nil)
		c := e.connect(t, "ann", "r1")
		// Not a protocol frame: answered with an INVALID_FRAME Error, which
		// shows that all of it was read; the session goes on.
		msg := clientFrame(websocket.BinaryMessage, bytes.Repeat([]byte{0xc1}, 20_000))
		for i := 0; i < len(msg); i += 7_000 {
			c.writeRaw(msg[i:min(i+7_000, len(msg))])
			synctest.Wait() // read, and waiting for the rest
		}
		if f := c.expect(protocol.FrameError).(*protocol.Error); f.Code != protocol.CodeInvalidFrame {
			t.Fatalf("error %s, want %s", f.Code, protocol.CodeInvalidFrame)
		}
		c.join("wf-1", "")
	})
}

// An idle client that answers the server's pings stays connected past
// several pong timeouts: its pongs, read by the idle reader, extend the
// read deadline.
func TestIdleClientAnsweringPingsStays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, func(c *session.Config, _ *rooms.Config) {
			c.PongTimeout = 400 * time.Millisecond
			c.PingInterval = 100 * time.Millisecond
		})
		c := e.connect(t, "ann", "r1")
		c.join("wf-1", "")
		var pings atomic.Int64
		def := c.conn.PingHandler()
		c.conn.SetPingHandler(func(s string) error { pings.Add(1); return def(s) })
		done := make(chan error, 1)
		go func() {
			_, _, err := c.conn.ReadMessage() // answers pings; returns when the connection ends
			done <- err
		}()
		select {
		case err := <-done:
			t.Fatalf("connection ended while answering pings: %v", err)
		case <-time.After(1500 * time.Millisecond):
		}
		if n := pings.Load(); n < 3 {
			t.Fatalf("%d pings in 1.5 s, want several", n)
		}
		if e.h.Len() != 1 {
			t.Fatalf("%d sessions, want 1", e.h.Len())
		}
		c.conn.Close()
		<-done
	})
}
