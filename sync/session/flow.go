package session

import (
	"time"

	"github.com/flowsync/flowsync/sync/protocol"
)

// Flow control of a session's own submissions.
//
// Every Delta, Operation and Vouch a client sends is answered on the same
// connection: an Applied or a Nack each, and later a Durable per store
// write. Those replies go through the outbound queue like everything else,
// and a full queue closes the session as a slow consumer. A client sending
// a backlog larger than the queue's bounds would then be closed by the
// answers to its own frames, reconnect, resend and be closed again,
// however fast it reads. So the reader applies backpressure instead: it
// reads the client's next frame only while the queue is under half its
// bounds and fewer than submissionWindow of its submissions wait for an
// answer. While it waits the client's frames stay in the socket buffers
// and TCP flow control slows the client down. The queue's bounds stay for
// what the client does not cause itself (the relays of others' edits): a
// client that does not read is still cut as a slow consumer, or by the
// write timeout.

// submissionWindow is how many of a session's submissions may wait for the
// room's answer before its reader stops reading: with the queue at its
// high-water mark (half its frames), the answers those cause (an Applied
// or Nack each, plus the relay of an Operation to its author) still fit.
func (s *session) submissionWindow() int { return max(1, s.h.cfg.MaxQueueFrames/8) }

// submitting counts a submission about to be handed to a room; the room's
// Applied or Nack for it releases it (answered).
func (s *session) submitting() {
	s.mu.Lock()
	s.unanswered++
	s.mu.Unlock()
}

// answered releases a submission if frame, queued for one of the
// session's rooms, answers one. Called with mu held, before frame may be
// dropped (a revoked membership or a closing session still answered it).
// It returns the channel of a reader waiting for room (nil: none).
func (s *session) answeredLocked(frame []byte) chan struct{} {
	if s.unanswered == 0 {
		return nil
	}
	if t, ok := protocol.PeekType(frame); !ok || (t != protocol.FrameApplied && t != protocol.FrameNack) {
		return nil
	}
	s.unanswered--
	return s.space
}

// pastHighWaterLocked reports whether the reader must wait before reading
// the client's next frame. Called with mu held.
func (s *session) pastHighWaterLocked() bool {
	cfg := &s.h.cfg
	return len(s.queue) >= max(1, cfg.MaxQueueFrames/2) || s.queueBytes >= max(1, cfg.MaxQueueBytes/2) ||
		s.unanswered >= s.submissionWindow()
}

// awaitRoom waits until the session may read the client's next frame (see
// pastHighWaterLocked): the writer took frames from the queue or a room
// answered, and the session is under its high-water mark again. It also
// returns when the session closes or its writer stopped for good (the
// reader then reads on, for the client's close reply or the connection's
// end), and after the write timeout: a queue that does not drain in that
// time ends the session through the writer, and answers that did not come
// by then (a room that shut down) are not waited for again.
func (s *session) awaitRoom() {
	var timeout *time.Timer
	for {
		s.mu.Lock()
		if !s.pastHighWaterLocked() || s.closeCode != 0 || s.writerDone {
			s.mu.Unlock()
			if timeout != nil {
				timeout.Stop()
			}
			return
		}
		if s.space == nil {
			s.space = make(chan struct{}, 1)
		}
		space := s.space
		s.mu.Unlock()
		if timeout == nil {
			timeout = time.NewTimer(s.h.cfg.WriteTimeout)
		}
		select {
		case <-space:
		case <-s.h.ctx.Done():
			timeout.Stop()
			return
		case <-timeout.C:
			s.mu.Lock()
			lost := s.unanswered
			s.unanswered = 0
			s.mu.Unlock()
			s.logger().Info("reading on: the outbound queue did not drain or answers did not come within the write timeout",
				"unanswered", lost)
			return
		}
	}
}
