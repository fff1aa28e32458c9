package session

import (
	"errors"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/sync/protocol"
)

// writeLoop is the session's writer: the only code that writes data
// frames to the connection. It runs while there is something to write (see
// startWriterLocked): it takes everything queued at once (and Join reply
// frames waiting in the backlog, up to the queue's bounds, and the gathered
// acknowledgements as Acks frames), writes it with one write to the socket
// (writeBatch), and repeats until it finds nothing more, then ends.
//
// The flush is adaptive. A writer that finds frames on a connection that
// was quiet writes them at once: at low rates a frame goes out as soon as
// it is queued, as from a bare relay. Only when the connection is busy —
// frames were queued while a flush was under way, or they have been coming
// at busyFrames or more per FlushInterval — does the writer linger for the
// rest of Config.FlushInterval since the last flush, so that what follows
// gathers into one write. After the close frame, a failed write,
// or the peer's departure no writer starts again.
func (s *session) writeLoop() {
	defer s.writers.Done()
	defer func() {
		if p := recover(); p != nil {
			s.h.metrics.panicked()
			s.logger().Error("session writer panicked", "panic", p)
			s.endWriter()
			s.closeConn(false)
		}
	}()
	busy := false // frames came in while the last flush was under way
	for {
		// Busy, and flushed less than FlushInterval ago: let more frames
		// gather, until a write's worth is queued.
		if wait := s.h.cfg.FlushInterval - time.Since(s.lastFlush); (busy || s.busyRate()) && wait > 0 && s.lingerFor(wait, false) {
			return
		}
		// Only held Stable frames or Applied ids to write: wait for
		// something to send them with, for stableDelay at most (what is
		// left of the Applied ids' hold, if any).
		if s.lingerFor(stableDelay, true) {
			return
		}
		if s.peerGone.Load() {
			return
		}

		s.mu.Lock()
		batch := s.queue
		s.queue, s.spare = s.spare[:0], nil
		batch, queued := s.takeBacklogLocked(batch, s.queueBytes)
		s.queueBytes = 0
		batch = s.appendAcksLocked(batch)
		batch = s.appendStableLocked(batch)
		code, reason := s.closeCode, s.closeReason
		ping := s.pingDue
		s.pingDue = false
		if len(batch) == 0 && code == 0 && !ping {
			// Nothing to write: the writer ends, and the connection may
			// now stay idle for long, so it keeps no queue slice and no
			// linger timer (a busy connection's writer lingers rather
			// than ending: it reuses them while the connection is busy).
			if s.linger != nil { // before the next writer may start
				s.linger.Stop()
				s.linger = nil
			}
			s.wake = nil
			s.writing = false
			s.queue = nil
			s.dropAcksLocked()
			s.mu.Unlock()
			return
		}
		space := s.space
		s.mu.Unlock()
		signal(space) // (nil: nobody waits)
		s.h.metrics.queued(-queued)

		if ping {
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.h.cfg.WriteTimeout)); err != nil {
				s.writeFailed(err)
				return
			}
		}
		if len(batch) > 0 {
			s.h.metrics.wrote(len(batch), queued)
			if err := s.writeBatch(batch); err != nil {
				s.writeFailed(err)
				return
			}
			s.noteFlush(len(batch), time.Now())
		}
		s.mu.Lock()
		if s.spare == nil {
			s.spare = batch[:0]
		}
		if code == 0 && s.cut.Load() {
			code, reason = s.closeCode, s.closeReason
		}
		// Acks gathered meanwhile do not make the connection busy: they
		// answer the client's own submissions, which a client draining a
		// backlog waits on, and lingering for them slowed such a drain.
		busy = len(batch) > 0 && len(s.queue) > 0
		s.mu.Unlock()
		if code != 0 {
			s.endWriter()
			s.writeClose(code, reason)
			return
		}
	}
}

// busyFrames is the frame rate, in frames per FlushInterval, from which a
// connection counts as busy even when each frame finds the writer idle:
// then at least this many frames gather in one write by waiting, where
// writing each at once would cost a write(2) per frame.
const busyFrames = 4

// rateWindow is how many FlushIntervals one measurement of a connection's
// frame rate spans.
const rateWindow = 8

// noteFlush records a flush of n frames at now. The connection's frame
// rate is measured over windows of rateWindow flush intervals: frameRate
// is the last full window's, and a connection that did not flush for a
// window's length has none (it is quiet again).
func (s *session) noteFlush(n int, now time.Time) {
	window := rateWindow * s.h.cfg.FlushInterval
	switch {
	case s.winStart.IsZero() || now.Sub(s.lastFlush) >= window:
		s.frameRate, s.winStart, s.winFrames = 0, now, n
	case now.Sub(s.winStart) >= window:
		s.frameRate = float64(s.winFrames+n) / now.Sub(s.winStart).Seconds()
		s.winStart, s.winFrames = now, 0
	default:
		s.winFrames += n
	}
	s.lastFlush = now
}

// busyRate reports whether frames have been coming fast enough for the
// writer to wait for more even though none came during the last flush.
func (s *session) busyRate() bool {
	return s.frameRate*s.h.cfg.FlushInterval.Seconds() >= busyFrames
}

// lingerFor waits up to wait for more frames to gather, and reports
// whether the writer must return at once (the Handler is closing, or the
// peer is gone). It ends early when a write's worth is queued
// (fullBatchLocked) or the reader is done. With anyFrame it waits only
// while held Stable frames and Applied ids are all there is to write (the
// ids for what is left of their hold at most), and any other frame ends it
// (wakeLocked).
func (s *session) lingerFor(wait time.Duration, anyFrame bool) (stop bool) {
	s.mu.Lock()
	if anyFrame && !s.onlyHeldLocked() || !anyFrame && s.fullBatchLocked() {
		s.mu.Unlock()
		return false
	}
	if anyFrame && len(s.ackApplied) > 0 {
		wait = min(wait, s.appliedHoldLocked())
	}
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
	}
	select {
	case <-s.wake: // a signal meant for an earlier linger
	default:
	}
	s.lingering, s.lingerAny = s.wake, anyFrame
	s.mu.Unlock()
	if s.linger == nil {
		s.linger = time.NewTimer(wait)
	} else {
		s.linger.Reset(wait)
	}
	defer func() {
		s.mu.Lock()
		s.lingering, s.lingerAny = nil, false
		s.mu.Unlock()
	}()
	select {
	case <-s.linger.C:
	case <-s.wake:
		s.linger.Stop()
	case <-s.readerDone:
		// The reader is done: the session ends, the peer gone or a close
		// frame due; no more lingering.
		s.linger.Stop()
		return s.peerGone.Load()
	case <-s.h.ctx.Done():
		s.linger.Stop()
		s.endWriter()
		return true // Handler.Close cuts the connection
	}
	return false
}

// fullBatchLocked reports whether the queue holds enough for a write of
// its own, so that a lingering writer should not wait for more: gathering
// past that saves little, and a fast producer could fill the queue to its
// bounds meanwhile (hence a quarter of each bound). Catch-up frames waiting
// in the backlog are always worth a write. Called with mu held.
func (s *session) fullBatchLocked() bool {
	cfg := &s.h.cfg
	return s.queueBytes >= min(maxBatchBytes, max(1, cfg.MaxQueueBytes/4)) ||
		len(s.queue) >= max(1, cfg.MaxQueueFrames/4) || len(s.backlog) > 0
}

// endWriter marks the writer done for good: nothing more is written. A
// goroutine waiting in awaitBacklog is woken to see it.
func (s *session) endWriter() {
	s.mu.Lock()
	s.writerDone, s.writing = true, false
	space := s.space
	s.mu.Unlock()
	signal(space)
}

// writeBatch writes batch as one websocket message per frame, gathered by
// s.nc into a single write to the socket, under one write deadline. A
// session cut as a slow consumer stops at the next frame (what was already
// gathered still goes out, whole frames only). The slots are cleared so the
// reused slice does not pin the frames.
func (s *session) writeBatch(batch [][]byte) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.h.cfg.WriteTimeout))
	s.nc.hold()
	for i, f := range batch {
		if s.cut.Load() {
			clear(batch[i:])
			break
		}
		if err := s.conn.WriteMessage(websocket.BinaryMessage, f); err != nil {
			clear(batch[i:])
			_ = s.nc.release()
			return err
		}
		batch[i] = nil
	}
	return s.nc.release()
}

// writeClose sends the close frame, gives the client CloseGrace to answer
// (the reader sees its close and returns), then cuts the connection if
// the reader is still blocked.
func (s *session) writeClose(code protocol.CloseCode, reason string) {
	msg := websocket.FormatCloseMessage(int(code), reason)
	if err := s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.h.cfg.WriteTimeout)); err != nil &&
		!errors.Is(err, websocket.ErrCloseSent) {
		s.logger().Debug("writing close frame failed", "err", err)
	}
	grace := time.NewTimer(s.h.cfg.CloseGrace)
	defer grace.Stop()
	select {
	case <-s.readerDone:
	case <-grace.C:
		_ = s.conn.NetConn().SetReadDeadline(time.Now()) // unblocks the reader
	}
}

// writeFailed ends the connection after a failed write: a timeout means the
// client stopped reading (4002, counted; the close frame cannot be
// delivered), anything else that the connection is gone.
func (s *session) writeFailed(err error) {
	s.endWriter()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.Close(protocol.CloseWriteTimeout, "write timeout")
		s.logger().Info("closing session: write timeout")
	}
	s.closeConn(false)
}
