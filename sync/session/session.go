package session

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/sync/protocol"
)

// session is one websocket connection. It joins rooms through a
// roomMember per workflow.
//
// Lock order: memberMu, then accessMu or mu; the Handler's mu, then
// accessMu.
type session struct {
	// Static after construction.
	h          *Handler
	conn       *websocket.Conn
	req        *http.Request
	id         string
	logger     *slog.Logger
	wake       chan struct{} // capacity 1: the queue has frames, or a close was asked
	space      chan struct{} // capacity 1: the writer took frames from the queue
	readerDone chan struct{}
	stop       chan struct{} // closed when the peer is gone: the writer returns without writing
	connOnce   sync.Once
	cut        atomic.Bool // closed as a slow consumer: the writer drops what it holds

	// Set by the reader before the session joins any room or is
	// registered with the Handler (which orders it before every other
	// goroutine's read); read-only after.
	principal Principal // its Grants are the token's; see grants
	authed    bool
	ctx       context.Context // cancelled when run returns

	// Owned by the reader.
	invalid int
	limits  rateLimits
	expiry  *time.Timer // fires at principal.ExpiresAt

	accessMu sync.Mutex
	grants   Grants // guarded by accessMu: the current roles (token + changes)

	memberMu sync.Mutex
	members  map[string]*roomMember // guarded by memberMu; by workflow id
	ended    bool                   // guarded by memberMu: no more memberships

	mu          sync.Mutex
	queue       [][]byte           // guarded by mu
	queueBytes  int                // guarded by mu
	closeCode   protocol.CloseCode // guarded by mu; 0 until Close
	closeReason string             // guarded by mu
}

func newSession(h *Handler, conn *websocket.Conn, r *http.Request) *session {
	id := uuid.NewString()
	return &session{
		h: h, conn: conn, req: r, id: id,
		logger:     h.logger.With("session", id),
		wake:       make(chan struct{}, 1),
		space:      make(chan struct{}, 1),
		readerDone: make(chan struct{}),
		stop:       make(chan struct{}),
		members:    make(map[string]*roomMember),
		limits:     newRateLimits(&h.cfg),
	}
}

// Enqueue queues frame without blocking (the rooms.Member contract). It
// returns false when the frame would take the queue past MaxQueueFrames or
// MaxQueueBytes; a closing session drops the frame and returns true.
func (s *session) Enqueue(frame []byte) bool { return s.enqueue(nil, frame) }

// enqueue is Enqueue for a frame of m's room (nil: the session's own),
// which is dropped once m was revoked.
func (s *session) enqueue(m *roomMember, frame []byte) bool {
	s.mu.Lock()
	if s.closeCode != 0 || (m != nil && m.revoked) {
		s.mu.Unlock()
		return true
	}
	if len(s.queue) >= s.h.cfg.MaxQueueFrames || s.queueBytes+len(frame) > s.h.cfg.MaxQueueBytes {
		s.mu.Unlock()
		return false
	}
	s.queue = append(s.queue, frame)
	s.queueBytes += len(frame)
	s.mu.Unlock()
	s.h.metrics.queued(len(frame))
	signal(s.wake)
	return true
}

// enqueueWait queues frame, waiting while the queue is too full for it (a
// frame larger than the whole bound goes once the queue is empty). It is
// for the reader's own bulk frames (catch-up chunks); false if the session
// closed first.
func (s *session) enqueueWait(ctx context.Context, frame []byte) bool {
	for {
		s.mu.Lock()
		if s.closeCode != 0 {
			s.mu.Unlock()
			return false
		}
		fits := len(s.queue) < s.h.cfg.MaxQueueFrames && s.queueBytes+len(frame) <= s.h.cfg.MaxQueueBytes
		if fits || len(s.queue) == 0 {
			s.queue = append(s.queue, frame)
			s.queueBytes += len(frame)
			s.mu.Unlock()
			s.h.metrics.queued(len(frame))
			signal(s.wake)
			return true
		}
		s.mu.Unlock()
		select {
		case <-s.space:
		case <-ctx.Done():
			return false
		}
	}
}

// send queues a frame the session itself answers with (Welcome, Error,
// Nack); a full queue closes the session as a slow consumer.
func (s *session) send(f protocol.Frame) {
	if !s.Enqueue(protocol.AppendFrame(nil, f)) {
		s.Close(protocol.CloseSlowConsumer, "outbound queue full")
	}
}

// Close closes the session (the rooms.Member contract): the writer sends the queued frames (not
// for a slow consumer, whose queue is dropped), then the close frame. The
// first call wins.
func (s *session) Close(code protocol.CloseCode, reason string) {
	s.mu.Lock()
	if s.closeCode != 0 {
		s.mu.Unlock()
		return
	}
	s.closeCode, s.closeReason = code, reason
	dropped := 0
	if code == protocol.CloseSlowConsumer {
		s.cut.Store(true)
		dropped = s.queueBytes
		clear(s.queue)
		s.queue, s.queueBytes = s.queue[:0], 0
	}
	s.mu.Unlock()
	s.h.metrics.queued(-dropped)
	s.h.metrics.closed(code)
	signal(s.wake)
}

func (s *session) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeCode != 0
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// run serves the connection: the reader on this goroutine, the writer on
// another. It returns when both are done and the connection is closed.
func (s *session) run(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	s.ctx = ctx
	var wg sync.WaitGroup
	wg.Go(func() { s.writeLoop(ctx) })

	code, reason := s.readLoop(ctx)
	close(s.readerDone)
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if s.authed {
		s.h.unregister(s)
	}
	s.leaveAll()
	if code != 0 {
		s.Close(code, reason) // the writer sends it, then returns
	} else {
		close(s.stop) // the peer is gone (or gorilla already sent 1009): nothing to send
	}
	wg.Wait()
	s.closeConn(true)
	s.mu.Lock()
	left := s.queueBytes
	s.queue, s.queueBytes = nil, 0
	s.mu.Unlock()
	s.h.metrics.queued(-left)
}

// closeConn closes the TCP connection once. With linger it first shuts
// down the sending side and discards input for CloseGrace, so that the
// client reads the close frame instead of a reset (a socket closed with
// unread input sends RST, which can destroy data in flight).
func (s *session) closeConn(linger bool) {
	s.connOnce.Do(func() {
		nc := s.conn.NetConn()
		if tc, ok := nc.(*net.TCPConn); ok && linger {
			_ = tc.CloseWrite()
			_ = tc.SetReadDeadline(time.Now().Add(s.h.cfg.CloseGrace))
			_, _ = io.Copy(io.Discard, io.LimitReader(tc, int64(s.h.cfg.MaxFrameBytes)*4))
		}
		_ = s.conn.Close()
	})
}
