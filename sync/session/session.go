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
	nc         *batchConn    // conn's net.Conn: the writer batches its frames here
	id         string        // the connection id: Welcome's sid, and "conn" on every log line
	started    time.Time     // when the upgrade completed, for the session's last log line
	key        string        // the admission key (clientKey), for releaseConn
	readerDone chan struct{} // closed when the reader is done (end)
	peerGone   atomic.Bool   // set before readerDone closes when the peer is gone: the writer returns without writing
	connOnce   sync.Once
	cut        atomic.Bool    // closed as a slow consumer: the writer drops what it holds
	writers    sync.WaitGroup // the writer goroutine, while one runs (see startWriterLocked)
	ping       *time.Timer    // asks the writer for a ping every PingInterval
	writeTask  func()         // s.writeLoop, made once: a method value per writer start would allocate

	// Owned by the running writer goroutine (one at a time; the next one
	// starts under mu after the last one stopped under mu).
	lastFlush time.Time
	frameRate float64       // frames per second over the last full window (noteFlush)
	winStart  time.Time     // the current rate window's start
	winFrames int           // frames flushed in it
	linger    *time.Timer   // created at a writer's first linger, dropped when it ends
	wake      chan struct{} // likewise; what lingering points at while the writer lingers

	// Set by the reader before the session joins any room or is
	// registered with the Handler (which orders it before every other
	// goroutine's read); read-only after.
	principal Principal // its Grants are the token's; see grants
	authed    bool

	// Owned by the reader.
	req     *http.Request // the upgrade request, for the authenticator; nil after Hello
	invalid int
	limits  rateLimits
	expiry  *time.Timer // fires at principal.ExpiresAt

	accessMu sync.Mutex
	grants   Grants // guarded by accessMu: the current roles (token + changes)

	memberMu sync.Mutex
	members  memberSet // guarded by memberMu
	ended    bool      // guarded by memberMu: no more memberships

	mu           sync.Mutex
	space        chan struct{}      // guarded by mu: nil until awaitBacklog or awaitRoom waits; capacity 1: the writer took frames or a room answered
	queue        [][]byte           // guarded by mu
	backlog      []backlogFrame     // guarded by mu: CatchUp frames of Join replies, outside the queue's bounds (enqueueReply)
	spare        [][]byte           // guarded by mu: the last batch's slice, reused as the next queue
	queueBytes   int                // guarded by mu
	unanswered   int                // guarded by mu: submissions handed to a room, not yet answered (flow.go)
	closeCode    protocol.CloseCode // guarded by mu; 0 until Close
	closeReason  string             // guarded by mu
	writing      bool               // guarded by mu: a writer goroutine runs
	writerDone   bool               // guarded by mu: no writer may start again (closed, failed or ended)
	pingDue      bool               // guarded by mu: the ping timer fired; the writer pings
	lingering    chan struct{}      // guarded by mu: non-nil while the writer lingers; enqueue signals it once a write's worth is queued
	lingerAny    bool               // guarded by mu: the linger holds Stable frames only and ends at any other frame (stable.go)
	stable       []heldStable       // guarded by mu: Stable frames held for the next flush (stable.go)
	acks         bool               // guarded by mu: the client asked for Acks frames (acks.go); set at Hello
	ackApplied   []string           // guarded by mu: op ids of Applied frames gathered for the next Acks
	ackDurable   []string           // guarded by mu: op ids of Durable frames gathered for the next Acks
	ackIDs       int                // guarded by mu: len(ackApplied) + len(ackDurable)
	appliedSince int64              // guarded by mu: monoNow when the first of ackApplied was gathered
}

// logger is the session's logger. It is built per call rather than kept:
// every connection would hold its handler's pre-formatted attributes for
// its whole life, for the few lines a session logs.
func (s *session) logger() *slog.Logger { return s.h.logger.With("conn", s.id) }

func newSession(h *Handler, conn *websocket.Conn, nc *batchConn, r *http.Request, key string) *session {
	id := uuid.NewString()
	s := &session{
		h: h, conn: conn, nc: nc, req: r, key: key, id: id, started: time.Now(),
		readerDone: make(chan struct{}),
	}
	s.writeTask = s.writeLoop
	return s
}

// Enqueue queues frame without blocking (the rooms.Member contract). It
// returns false when the frame would take the queue past MaxQueueFrames or
// MaxQueueBytes; a closing session drops the frame and returns true.
func (s *session) Enqueue(frame []byte) bool { return s.enqueue(nil, frame) }

// enqueue is Enqueue for a frame of m's room (nil: the session's own),
// which is dropped once m was revoked.
func (s *session) enqueue(m *roomMember, frame []byte) bool {
	s.mu.Lock()
	var space chan struct{}
	if m != nil {
		space = s.answeredLocked(frame)
	}
	if s.closeCode != 0 || (m != nil && m.revoked) {
		s.mu.Unlock()
		signal(space)
		return true
	}
	if s.holdStableLocked(m, frame) {
		start := s.startWriterLocked()
		s.mu.Unlock()
		signal(space)
		if start {
			s.h.workers.Go(s.writeTask)
		}
		return true
	}
	if s.foldAckLocked(frame) {
		s.wakeLocked()
		start := s.startWriterLocked()
		s.mu.Unlock()
		signal(space)
		if start {
			s.h.workers.Go(s.writeTask)
		}
		return true
	}
	if len(s.queue) >= s.h.cfg.MaxQueueFrames || s.queueBytes+len(frame) > s.h.cfg.MaxQueueBytes {
		s.mu.Unlock()
		return false
	}
	s.queue = append(s.queue, frame)
	s.queueBytes += len(frame)
	if s.lingering != nil && (s.lingerAny || s.fullBatchLocked()) {
		signal(s.lingering)
		s.lingering = nil
	}
	start := s.startWriterLocked()
	s.mu.Unlock()
	signal(space) // (nil: nobody waits) awaitRoom sees the answer
	s.h.metrics.queued(len(frame))
	if start {
		s.h.workers.Go(s.writeTask)
	}
	return true
}

// backlogFrame is a frame of a Join reply waiting for the writer.
type backlogFrame struct {
	m     *roomMember // the membership it is for: dropped if revoked
	frame []byte
}

// enqueueReply queues a room's reply to m's Join (the rooms.Member
// contract): Joined into the queue, under its bounds, and the CatchUp
// frames into the backlog, which the writer takes as the queue drains (see
// takeBacklogLocked). So a catch-up larger than the queue's bounds is
// delivered whole, and the room's later frames are never refused for the
// room it takes. While an earlier reply's frames still wait, the whole
// reply, Joined included, waits behind them: a Joined is never followed
// by CatchUp frames of an earlier reply.
func (s *session) enqueueReply(m *roomMember, reply [][]byte) bool {
	s.mu.Lock()
	if s.closeCode != 0 || m.revoked {
		s.mu.Unlock()
		return true
	}
	rest := reply
	if len(s.backlog) == 0 {
		joined := reply[0]
		if len(s.queue) >= s.h.cfg.MaxQueueFrames || s.queueBytes+len(joined) > s.h.cfg.MaxQueueBytes {
			s.mu.Unlock()
			return false
		}
		s.queue = append(s.queue, joined)
		s.queueBytes += len(joined)
		rest = reply[1:]
	}
	bytes := 0
	for _, f := range reply {
		bytes += len(f)
	}
	for _, f := range rest {
		s.backlog = append(s.backlog, backlogFrame{m: m, frame: f})
	}
	s.wakeLocked()
	start := s.startWriterLocked()
	s.mu.Unlock()
	s.h.metrics.queued(bytes)
	if start {
		s.h.workers.Go(s.writeTask)
	}
	return true
}

// takeBacklogLocked moves the waiting reply frames that fit on top of
// batch (bytes long) within the queue's bounds into it — at least one when
// batch is empty, so a frame larger than the bounds still goes — and
// returns the batch and its length. Called by the writer with mu held.
func (s *session) takeBacklogLocked(batch [][]byte, bytes int) ([][]byte, int) {
	n := 0
	for ; n < len(s.backlog); n++ {
		f := s.backlog[n].frame
		if len(batch) > 0 && (len(batch) >= s.h.cfg.MaxQueueFrames || bytes+len(f) > s.h.cfg.MaxQueueBytes) {
			break
		}
		batch = append(batch, f)
		bytes += len(f)
	}
	if n == len(s.backlog) {
		s.backlog = nil
	} else {
		clear(s.backlog[:n])
		s.backlog = s.backlog[n:]
	}
	return batch, bytes
}

// dropBacklogLocked drops the waiting reply frames of m (every one when m
// is nil) and returns their bytes. Called with mu held.
func (s *session) dropBacklogLocked(m *roomMember) int {
	bytes := 0
	kept := s.backlog[:0]
	for _, b := range s.backlog {
		if m == nil || b.m == m {
			bytes += len(b.frame)
			continue
		}
		kept = append(kept, b)
	}
	clear(s.backlog[len(kept):])
	if s.backlog = kept; len(kept) == 0 {
		s.backlog = nil
	}
	return bytes
}

// awaitBacklog waits until the writer has taken every waiting reply frame.
// The reader reads the client's next frame only then, so a client that
// joins and does not read makes the session hold one catch-up beyond the
// queue's bounds, not one per Join. It returns false if the session closed,
// its writer stopped for good or ctx ended first.
func (s *session) awaitBacklog(ctx context.Context) bool {
	for {
		s.mu.Lock()
		if len(s.backlog) == 0 {
			s.mu.Unlock()
			return true
		}
		if s.closeCode != 0 || s.writerDone {
			// Closing, or nothing will be written any more (a write
			// failed): the backlog will not drain.
			s.mu.Unlock()
			return false
		}
		if s.space == nil {
			s.space = make(chan struct{}, 1)
		}
		space := s.space
		s.mu.Unlock()
		select {
		case <-space:
		case <-s.readerDone: // the session ends: the backlog will not drain for this
			return false
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
	// A catch-up not yet under way is of no use to a closing connection.
	dropped := s.dropBacklogLocked(nil)
	if code == protocol.CloseSlowConsumer {
		s.cut.Store(true)
		dropped += s.queueBytes
		clear(s.queue)
		s.queue, s.queueBytes = s.queue[:0], 0
		s.dropAcksLocked()
		s.dropStableLocked(nil)
	}
	s.wakeLocked()
	start := s.startWriterLocked()
	space := s.space
	s.mu.Unlock()
	signal(space) // (nil: nobody waits) awaitBacklog sees the close
	s.h.metrics.queued(-dropped)
	s.h.metrics.closed(code)
	if start {
		s.h.workers.Go(s.writeTask)
	}
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

// startWriterLocked reports whether the caller must start a writer
// run (s.h.workers.Go(s.writeTask)) for what it just queued or asked: there is
// none running and the session may still write. Called with mu held.
//
// A session has no writer goroutine while it has nothing to write: the
// writer's run ends when it finds the queue empty (its goroutine goes back
// to the handler's pool of workers), and the next frame starts another. An idle connection then costs one goroutine (the reader), not
// two; a busy one keeps its writer, which lingers between flushes (see
// Config.FlushInterval) rather than exiting.
func (s *session) startWriterLocked() bool {
	if s.writing || s.writerDone {
		return false
	}
	s.writing = true
	s.writers.Add(1)
	return true
}

// pingTick runs on the ping timer's goroutine every PingInterval: it asks
// the writer for a ping and re-arms, until no writer may start again.
func (s *session) pingTick() {
	s.mu.Lock()
	if s.writerDone {
		s.mu.Unlock()
		return
	}
	s.pingDue = true
	s.wakeLocked()
	start := s.startWriterLocked()
	s.ping.Reset(s.h.cfg.PingInterval)
	s.mu.Unlock()
	if start {
		s.h.workers.Go(s.writeTask)
	}
}

// begin starts the session's clocks (the ping timer, the auth deadline)
// before its goroutine starts.
func (s *session) begin() {
	cfg := &s.h.cfg
	s.mu.Lock()
	s.ping = time.AfterFunc(cfg.PingInterval, s.pingTick)
	s.mu.Unlock()
	s.conn.SetReadLimit(int64(cfg.MaxFrameBytes))
	_ = s.conn.SetReadDeadline(time.Now().Add(cfg.AuthTimeout))
	s.conn.SetPongHandler(func(string) error { s.pong(); return nil })
}

// run is the session's goroutine: the reader, then the end of the
// session. A writer runs on another whenever there is something to write.
// It returns when both are done and the connection is closed. While the
// connection is open it only waits (readLoop): keep it that way, so that
// its stack stays at its smallest.
func (s *session) run() {
	// The reader's context is the Handler's: a session has no context of
	// its own (a cancelCtx, its entry in the Handler's, the children map
	// and Done channel its users would add), only readerDone.
	code, reason := s.readLoop(s.h.ctx)
	s.end(code, reason)
	s.h.finish(s)
}

// end ends the session after its reader: memberships, the close frame,
// the writer, the connection.
func (s *session) end(code protocol.CloseCode, reason string) {
	if code == 0 {
		// The peer is gone (or gorilla already sent 1009): nothing to
		// send; a lingering writer returns at once.
		s.mu.Lock()
		s.writerDone = true
		s.mu.Unlock()
		s.peerGone.Store(true)
	}
	close(s.readerDone)
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if s.authed {
		s.h.unregister(s)
	}
	s.leaveAll()
	if code != 0 {
		s.Close(code, reason) // a writer sends it, then ends for good
	}
	s.writers.Wait()
	s.mu.Lock()
	s.writerDone = true // a late ping tick does not re-arm
	s.ping.Stop()
	s.mu.Unlock()
	s.closeConn(true)
	s.mu.Lock()
	left := s.queueBytes + s.dropBacklogLocked(nil)
	s.queue, s.queueBytes = nil, 0
	s.dropAcksLocked()
	s.dropStableLocked(nil)
	s.mu.Unlock()
	s.h.metrics.queued(-left)
	if s.h.logger.Enabled(context.Background(), slog.LevelDebug) {
		closed := "peer gone"
		if code != 0 {
			closed = code.String()
		}
		s.logger().Debug("session ended", "close", closed, "reason", reason, "lasted", time.Since(s.started).Round(time.Millisecond))
	}
}

// cutConn closes the TCP connection now, without waiting for a closeConn
// under way (which then ends early): the reader and a writer blocked on
// it return.
func (s *session) cutConn() { _ = s.nc.Conn.Close() }

// closeConn closes the TCP connection once. With linger it first shuts
// down the sending side and discards input for CloseGrace, so that the
// client reads the close frame instead of a reset (a socket closed with
// unread input sends RST, which can destroy data in flight).
func (s *session) closeConn(linger bool) {
	s.connOnce.Do(func() {
		if tc, ok := s.nc.Conn.(*net.TCPConn); ok && linger {
			_ = tc.CloseWrite()
			_ = tc.SetReadDeadline(time.Now().Add(s.h.cfg.CloseGrace))
			_, _ = io.Copy(io.Discard, io.LimitReader(tc, int64(s.h.cfg.MaxFrameBytes)*4))
		}
		_ = s.conn.Close()
	})
}
