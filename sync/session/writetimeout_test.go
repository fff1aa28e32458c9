package session_test

import (
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// stallListener hands out server-side connections whose writes block, once
// stalled, until the write deadline passes or the connection closes: a
// client whose socket stopped accepting bytes (a full TCP window).
type stallListener struct {
	net.Listener
	stalled atomic.Bool
}

func (l *stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stallConn{Conn: c, l: l, closed: make(chan struct{})}, nil
}

type stallConn struct {
	net.Conn
	l         *stallListener
	closeOnce sync.Once
	closed    chan struct{}

	mu            sync.Mutex
	writeDeadline time.Time // guarded by mu
}

func (c *stallConn) Write(p []byte) (int, error) {
	if !c.l.stalled.Load() {
		return c.Conn.Write(p)
	}
	c.mu.Lock()
	d := c.writeDeadline
	c.mu.Unlock()
	var expired <-chan time.Time
	if !d.IsZero() {
		t := time.NewTimer(time.Until(d))
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-expired:
		return 0, os.ErrDeadlineExceeded
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeDeadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeDeadline = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *stallConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestWriteTimeout: a client whose socket stops accepting bytes, while its
// queue is far below the bound, is dropped when the write deadline
// (WriteTimeout, 10 s) passes, counted under 4002 and logged.
func TestWriteTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := &stallListener{}
		e := newEnvListening(t, session.DevAuthenticator{}, nil, func(inner net.Listener) net.Listener {
			ln.Listener = inner
			return ln
		})
		c := e.connect(t, "ann", "r1")
		ln.stalled.Store(true)
		start := time.Now()
		c.send(&protocol.Join{WorkflowID: "wf"}) // its Joined cannot be written
		advance(session.DefaultWriteTimeout - time.Second)
		if got := counterValue(e.metrics.Closes.WithLabelValues(protocol.CloseWriteTimeout.String())); got != 0 {
			t.Fatalf("closed with 4002 before the write deadline (after %v)", time.Since(start))
		}
		advance(2 * time.Second)
		if got := counterValue(e.metrics.Closes.WithLabelValues(protocol.CloseWriteTimeout.String())); got != 1 {
			t.Fatalf("4002 closes = %v after %v, want 1", got, time.Since(start))
		}
		if !strings.Contains(e.logs.String(), "closing session: write timeout") {
			t.Fatalf("the write timeout was not logged:\n%s", e.logs.String())
		}
		_, _, err := c.conn.ReadMessage() // the connection is dropped: no Joined, no close frame
		var ce *websocket.CloseError
		if err == nil || errors.As(err, &ce) {
			t.Fatalf("client read after the timeout: %v, want the connection dropped", err)
		}
	})
}
