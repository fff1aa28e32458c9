package session

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/sync/protocol"
)

// writeLoop is the only code that writes to the connection. It waits for
// frames, a ping tick, or the end; then it takes everything queued at once
// and writes it all before waiting again (one message per frame, each under
// the write deadline).
func (s *session) writeLoop(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			s.h.metrics.panicked()
			s.logger.Error("session writer panicked", "panic", p)
			s.closeConn(false)
		}
	}()
	ping := time.NewTicker(s.h.cfg.PingInterval)
	defer ping.Stop()
	var batch [][]byte
	for {
		select {
		case <-s.wake:
		case <-ping.C:
			if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.h.cfg.WriteTimeout)); err != nil {
				s.writeFailed(err)
				return
			}
			continue
		case <-s.stop:
			return
		case <-ctx.Done():
			s.closeConn(false)
			return
		}

		s.mu.Lock()
		batch, s.queue = s.queue, batch[:0]
		queued := s.queueBytes
		s.queueBytes = 0
		code, reason := s.closeCode, s.closeReason
		s.mu.Unlock()
		signal(s.space)
		s.h.metrics.queued(-queued)

		if len(batch) > 0 {
			s.h.metrics.wrote(len(batch), queued)
		}
		for i, f := range batch {
			if s.cut.Load() {
				clear(batch[i:])
				break
			}
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.h.cfg.WriteTimeout))
			if err := s.conn.WriteMessage(websocket.BinaryMessage, f); err != nil {
				s.writeFailed(err)
				return
			}
			batch[i] = nil
		}
		if code == 0 && s.cut.Load() {
			s.mu.Lock()
			code, reason = s.closeCode, s.closeReason
			s.mu.Unlock()
		}
		if code != 0 {
			s.writeClose(code, reason)
			return
		}
	}
}

// writeClose sends the close frame, gives the client CloseGrace to answer
// (the reader sees its close and returns), then cuts the connection if
// the reader is still blocked.
func (s *session) writeClose(code protocol.CloseCode, reason string) {
	msg := websocket.FormatCloseMessage(int(code), reason)
	if err := s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.h.cfg.WriteTimeout)); err != nil &&
		!errors.Is(err, websocket.ErrCloseSent) {
		s.logger.Debug("writing close frame failed", "err", err)
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
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.Close(protocol.CloseWriteTimeout, "write timeout")
		s.logger.Info("closing session: write timeout")
	}
	s.closeConn(false)
}
