package session

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Batch buffer bounds. A held batchConn flushes early once its buffer
// would pass maxBatchBytes, so one batch never pins more than that; a
// buffer that grew past maxPooledBatch is dropped rather than pooled, so a
// burst of large catch-up chunks does not leave big buffers behind.
const (
	initialBatchBytes = 4 << 10
	maxBatchBytes     = 64 << 10
	maxPooledBatch    = 128 << 10
)

// batchPool holds the buffers of batchConns between batches: an idle
// connection holds none.
var batchPool = sync.Pool{New: func() any {
	b := make([]byte, 0, initialBatchBytes)
	return &b
}}

// batchConn is the net.Conn gorilla/websocket writes to. gorilla writes
// every message straight to its net.Conn, one write(2) per frame; on
// loopback and on real networks alike that syscall (and the TCP work the
// kernel does inside it) is most of what relaying a frame costs. While the
// session's writer holds the conn (hold … release) the frames gorilla
// writes are appended to a buffer instead, and release sends them all with
// one write. The wire is unchanged: the same websocket frames, in the same
// order, only fewer TCP writes.
//
// Writes made while nobody holds the conn — the pong and close replies
// gorilla's reader sends from the reader goroutine, the writer's pings and
// close frame — go straight to the socket (after anything still buffered),
// so control frames are never delayed behind a batch. A control frame
// written by another goroutine while the writer holds the conn joins the
// batch; the writer releases within the time it takes to copy its queued
// frames, without blocking on anything in between.
//
// Deadlines: SetWriteDeadline while held is remembered and applied to the
// socket once, just before the flush, so the flush (the only write that
// can block) runs under the deadline the writer set for the batch.
//
// gorilla serializes its own writes with its own mutex; mu serializes
// those with the writer's flush, which runs outside gorilla.
type batchConn struct {
	net.Conn

	// Read side, owned by the session's reader: its waiting goroutine
	// (awaitRead) and the goroutine that reads a burst of frames take
	// turns, never overlapping (see session.readLoop).
	peek   [1]byte       // the byte awaitRead read, which Read hands out first
	peeked bool          // peek holds a byte not yet read
	br     *bufio.Reader // the bufio.Reader gorilla reads frames through (see hijacker)
	shell  *bufio.Reader // the pooled Reader whose buffer br borrowed (attachReadBuffer)

	mu       sync.Mutex
	held     bool
	buf      *[]byte   // guarded by mu; from batchPool while held or non-empty
	deadline time.Time // guarded by mu; the last write deadline asked for while held
	err      error     // guarded by mu; the first write error: every later write fails with it
}

func newBatchConn(nc net.Conn) *batchConn { return &batchConn{Conn: nc} }

// Read implements net.Conn: the byte awaitRead took comes first.
func (c *batchConn) Read(p []byte) (int, error) {
	if c.peeked && len(p) > 0 {
		p[0] = c.peek[0]
		c.peeked = false
		return 1, nil
	}
	return c.Conn.Read(p)
}

// hold starts a batch: writes are buffered until release.
func (c *batchConn) hold() {
	c.mu.Lock()
	c.held = true
	c.mu.Unlock()
}

// release ends the batch and writes what it buffered with one write,
// under the last deadline set during the batch. The buffer goes back to
// the pool.
func (c *batchConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = false
	err := c.flushLocked()
	c.putBufLocked()
	return err
}

// Write implements net.Conn: it buffers while held, else writes through.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.held && len(p) <= maxBatchBytes {
		if c.buf != nil && len(*c.buf)+len(p) > maxBatchBytes {
			if err := c.flushLocked(); err != nil {
				return 0, err
			}
		}
		if c.buf == nil {
			c.buf = batchPool.Get().(*[]byte)
		}
		*c.buf = append(*c.buf, p...)
		return len(p), nil
	}
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	if c.held {
		// Too large to buffer: goes out now, under the batch's deadline.
		if err := c.Conn.SetWriteDeadline(c.deadline); err != nil {
			return 0, c.fail(err)
		}
	}
	n, err := c.Conn.Write(p)
	if err != nil {
		return n, c.fail(err)
	}
	return n, nil
}

// SetWriteDeadline implements net.Conn: while held the deadline is kept
// for the flush; otherwise it is set on the socket at once.
func (c *batchConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held {
		c.deadline = t
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

// flushLocked writes the buffered bytes, if any.
func (c *batchConn) flushLocked() error {
	if c.err != nil {
		return c.err
	}
	if c.buf == nil || len(*c.buf) == 0 {
		return nil
	}
	b := *c.buf
	*c.buf = b[:0]
	if err := c.Conn.SetWriteDeadline(c.deadline); err != nil {
		return c.fail(err)
	}
	if _, err := c.Conn.Write(b); err != nil {
		return c.fail(err)
	}
	return nil
}

func (c *batchConn) putBufLocked() {
	if c.buf == nil {
		return
	}
	if cap(*c.buf) <= maxPooledBatch {
		*c.buf = (*c.buf)[:0]
		batchPool.Put(c.buf)
	}
	c.buf = nil
}

// fail records the first write error; with part of a batch possibly
// written, the stream is no longer well framed, so nothing more may be
// written.
func (c *batchConn) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	if c.buf != nil {
		*c.buf = (*c.buf)[:0]
	}
	return err
}

// errNotHijacker is returned by Hijack when the ResponseWriter cannot hand
// over its connection (gorilla answers 500).
var errNotHijacker = errors.New("session: the ResponseWriter does not implement http.Hijacker")

// hijacker is the ResponseWriter given to gorilla's Upgrade: its Hijack
// wraps the connection in a batchConn, so that every byte gorilla writes
// goes through it (gorilla writes the handshake response through it too,
// while nothing is held, which goes straight out).
type hijacker struct {
	http.ResponseWriter
	conn *batchConn // set by a successful Hijack
}

// Hijack implements http.Hijacker.
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errNotHijacker
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.conn = newBatchConn(nc)
	// gorilla reads frames through the hijacked bufio.Reader when
	// Upgrader.ReadBufferSize is 0 and the Reader is larger than 256
	// bytes; the reader then lends and borrows that Reader's buffer (see
	// attachReadBuffer), so it must be the one gorilla uses. net/http's is
	// 4 KiB; another server's smaller one is swapped for a pooled one
	// (gorilla Resets it onto the batchConn). One holding bytes already
	// is left alone: gorilla refuses the upgrade.
	if brw.Reader.Buffered() == 0 && brw.Reader.Size() <= minReusedReader {
		rw := *brw
		rw.Reader = readerPool.Get().(*bufio.Reader)
		brw = &rw
	}
	h.conn.br = brw.Reader
	return h.conn, brw, nil
}
