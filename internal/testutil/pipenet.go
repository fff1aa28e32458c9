package testutil

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// PipeListener is a net.Listener whose connections live in memory, made by
// its Dial. A server and its clients talking through one can run inside a
// testing/synctest bubble: a goroutine waiting on such a connection waits
// on a channel, which the bubble can tell apart from work in progress,
// where a goroutine waiting on a socket is invisible to it (so fake time
// would never move).
//
// Unlike net.Pipe, a write never waits for the reader: like a socket with
// a large buffer, which is what a server and client that both write before
// reading (a pong answered while the client sends its next frame) rely on.
// There is no backpressure, so tests of slow consumers need real sockets.
type PipeListener struct {
	conns     chan net.Conn
	closeOnce sync.Once
	done      chan struct{}
}

// NewPipeListener returns a listener ready to Accept and Dial.
func NewPipeListener() *PipeListener {
	return &PipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

// ErrListenerClosed is returned by Accept and Dial once Close was called.
var ErrListenerClosed = errors.New("testutil: pipe listener closed")

// Accept waits for the next Dial.
func (l *PipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, ErrListenerClosed
	}
}

// Dial connects to the listener; network and address are ignored, so it
// fits as a websocket.Dialer's or http.Transport's DialContext.
func (l *PipeListener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	toServer, toClient := newStream(), newStream()
	client := newPipeConn(toClient, toServer)
	server := newPipeConn(toServer, toClient)
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, ErrListenerClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops Accept and Dial; connections already made stay open.
func (l *PipeListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

// Addr returns a placeholder address.
func (l *PipeListener) Addr() net.Addr { return pipeAddr{} }

// stream is one direction of a connection: an unbounded buffer, and a
// channel that holds a token while there is something to read or the
// writer has closed.
type stream struct {
	mu     sync.Mutex
	buf    []byte
	closed bool
	ready  chan struct{} // capacity 1
}

func newStream() *stream { return &stream{ready: make(chan struct{}, 1)} }

func (s *stream) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

func (s *stream) write(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return io.ErrClosedPipe
	}
	s.buf = append(s.buf, p...)
	s.signal()
	return nil
}

func (s *stream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.signal()
}

// take copies what is buffered into p; ok is false when there is nothing
// to read yet.
func (s *stream) take(p []byte) (n int, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) == 0 {
		if s.closed {
			return 0, true, io.EOF
		}
		return 0, false, nil
	}
	n = copy(p, s.buf)
	s.buf = s.buf[n:]
	if len(s.buf) > 0 || s.closed {
		s.signal() // more for the next read
	}
	return n, true, nil
}

type pipeConn struct {
	in, out   *stream
	closeOnce sync.Once
	done      chan struct{}
	rd, wd    deadline
}

func newPipeConn(in, out *stream) *pipeConn {
	return &pipeConn{in: in, out: out, done: make(chan struct{}), rd: newDeadline(), wd: newDeadline()}
}

func (c *pipeConn) Read(p []byte) (int, error) {
	for {
		select {
		case <-c.done:
			return 0, net.ErrClosed
		case <-c.rd.wait():
			return 0, os.ErrDeadlineExceeded
		default:
		}
		if n, ok, err := c.in.take(p); ok {
			return n, err
		}
		select {
		case <-c.in.ready:
		case <-c.done:
			return 0, net.ErrClosed
		case <-c.rd.wait():
			return 0, os.ErrDeadlineExceeded
		}
	}
}

func (c *pipeConn) Write(p []byte) (int, error) {
	select {
	case <-c.done:
		return 0, net.ErrClosed
	case <-c.wd.wait():
		return 0, os.ErrDeadlineExceeded
	default:
	}
	if err := c.out.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *pipeConn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		c.out.close()
		c.in.close()
	})
	return nil
}

func (c *pipeConn) LocalAddr() net.Addr  { return pipeAddr{} }
func (c *pipeConn) RemoteAddr() net.Addr { return pipeAddr{} }

func (c *pipeConn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}
func (c *pipeConn) SetReadDeadline(t time.Time) error  { c.rd.set(t); return nil }
func (c *pipeConn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

// deadline is a channel closed when the deadline passes, as net.Pipe keeps
// its deadlines.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{}
}

func newDeadline() deadline { return deadline{cancel: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait for it to close cancel
	}
	d.timer = nil
	select {
	case <-d.cancel:
		d.cancel = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return
	}
	if dur := time.Until(t); dur > 0 {
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	close(d.cancel)
}

func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "127.0.0.1:0" }
