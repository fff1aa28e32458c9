package session

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The idle reader.
//
// Most connections are idle most of the time, and an idle connection's
// cost is what its reader holds while it waits. A reader that waits inside
// gorilla's ReadMessage holds a deep stack (the handling of Hello and Join
// grew it to 8 KiB, and the runtime only halves a stack while less than a
// quarter of it is in use, which a goroutine blocked that deep never
// reaches) and gorilla's read buffer. So the session's reader goroutine
// only ever waits, shallowly, for the next byte (batchConn.awaitRead); the
// frames that byte starts are read and handled by a burst (session.readBurst)
// on one of the handler's pooled workers (internal/workers), which reads
// while gorilla has bytes buffered and then returns the worker to the pool.
// The waiting goroutine keeps the smallest stack (2 KiB), the worker keeps
// the grown stack that decoding needs for the next burst of any session,
// and the read buffer is pooled between bursts.
//
// A burst must not end inside gorilla, which blocks for the next data
// frame after handling a control frame: an idle client's only traffic is
// its pongs. So the burst handles the ping and pong frames at the head of
// the buffered input itself (readControlFrames) and calls ReadMessage only
// for a data frame (or a close frame, or anything gorilla must refuse).

// readBufferSize is the size of the pooled read buffers: net/http's, so
// that the hijacked Readers join the pool.
const readBufferSize = 4096

// minReusedReader: gorilla reads through the hijacked bufio.Reader only if
// it is larger than this (gorilla/websocket Upgrader.Upgrade).
const minReusedReader = 256

// readerPool holds bufio.Readers of readBufferSize between bursts.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// awaitRead blocks until the peer sends something (or the connection
// fails, or its read deadline passes): it reads one byte, which Read hands
// out first. The call chain is shallow, so that the goroutine waiting here
// keeps a small stack.
func (c *batchConn) awaitRead() error {
	for {
		n, err := c.Conn.Read(c.peek[:])
		if n > 0 {
			c.peeked = true
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// attachReadBuffer gives gorilla's Reader a pooled buffer for a burst and
// moves the byte awaitRead took into it (without blocking).
//
// gorilla keeps a pointer to its bufio.Reader and only calls its methods,
// so the Reader's value can be swapped: between bursts it is the zero
// Reader (no buffer; nothing reads through it then), during a burst a
// copy of a pooled Reader, sharing its buffer. shell keeps the pooled
// Reader (not read through while lent), which goes back to the pool at
// detachReadBuffer.
func (c *batchConn) attachReadBuffer() {
	if c.br.Size() == 0 {
		p := readerPool.Get().(*bufio.Reader)
		p.Reset(c)
		c.shell = p
		*c.br = *p // p keeps its buffer too: detachReadBuffer pools it again
	}
	if c.peeked {
		_, _ = c.br.Peek(1) // takes just the peeked byte: no read from the socket
	}
}

// detachReadBuffer returns the read buffer to the pool if gorilla holds no
// bytes in it (otherwise it stays: the next burst reads them).
func (c *batchConn) detachReadBuffer() {
	if c.br.Size() == 0 || c.br.Buffered() > 0 {
		return
	}
	p := c.shell
	c.shell = nil
	*c.br = bufio.Reader{}
	if p == nil {
		// The hijacked Reader's buffer (the first burst's) is dropped,
		// not pooled: the pool holds as many buffers as bursts run at
		// once, not one per connection that ever connected.
		return
	}
	p.Reset(nil)
	readerPool.Put(p)
}

// buffered reports the bytes gorilla has read from the socket but not yet
// consumed.
func (c *batchConn) buffered() int { return c.br.Buffered() }

// WebSocket frame header bits (RFC 6455 section 5.2).
const (
	wsFin         = 0x80
	wsRSVMask     = 0x70
	wsOpcodeMask  = 0x0f
	wsOpPing      = 0x9
	wsOpPong      = 0xa
	wsMaskBit     = 0x80
	wsLen7Mask    = 0x7f
	wsMaxCtrlLen  = 125
	wsMaskKeySize = 4
	wsPongWait    = time.Second // gorilla's default ping handler's write deadline
)

// readControlFrames handles the ping and pong frames at the head of the
// buffered input, as gorilla would: a pong counts as the client's sign of
// life (pong), a ping is answered with a pong of the same payload (errors
// ignored as gorilla's default ping handler ignores them). It returns at
// the first byte of anything else, or when nothing more is buffered; a
// frame that breaks the rules (unmasked, fragmented, reserved bits, too
// long) is left for gorilla, which refuses it. A control frame whose
// header is buffered but not its payload is waited for: it is in flight.
func (s *session) readControlFrames() error {
	br := s.nc.br
	for br.Buffered() > 0 {
		h, err := br.Peek(2)
		if err != nil {
			return err
		}
		op := h[0] & wsOpcodeMask
		n := int(h[1] & wsLen7Mask)
		if h[0]&(wsFin|wsRSVMask) != wsFin || (op != wsOpPing && op != wsOpPong) ||
			h[1]&wsMaskBit == 0 || n > wsMaxCtrlLen {
			return nil
		}
		size := 2 + wsMaskKeySize + n
		frame, err := br.Peek(size)
		if err != nil {
			return err
		}
		if op == wsOpPong {
			s.pong()
		} else {
			mask := frame[2 : 2+wsMaskKeySize]
			payload := make([]byte, n)
			for i := range payload {
				payload[i] = frame[2+wsMaskKeySize+i] ^ mask[i&3]
			}
			err := s.conn.WriteControl(websocket.PongMessage, payload, time.Now().Add(wsPongWait))
			var ne net.Error
			if err != nil && !errors.Is(err, websocket.ErrCloseSent) && !(errors.As(err, &ne) && ne.Timeout()) {
				return err
			}
		}
		_, _ = br.Discard(size)
	}
	return nil
}

// pong extends the read deadline on the client's pong (or any frame).
func (s *session) pong() {
	if s.authed && !s.closing() {
		_ = s.conn.SetReadDeadline(time.Now().Add(s.h.cfg.PongTimeout))
	}
}
