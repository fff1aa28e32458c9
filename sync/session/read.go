package session

import (
	"context"
	"errors"
	"hash/fnv"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
)

// readLoop reads and handles frames until the connection ends. It returns
// the close code the writer should send (0: the connection is already
// gone, or gorilla already sent the close, as for 1009).
func (s *session) readLoop(ctx context.Context) (code protocol.CloseCode, reason string) {
	var current []byte // the frame being handled, for the panic log
	defer func() {
		if p := recover(); p != nil {
			h := fnv.New64a()
			h.Write(current)
			s.h.metrics.panicked()
			s.logger.Error("session reader panicked; closing the connection", "panic", p,
				"frame_fnv64a", h.Sum64(), "frame_bytes", len(current))
			code, reason = protocol.CloseInternalError, "internal error"
		}
	}()
	cfg := &s.h.cfg
	s.conn.SetReadLimit(int64(cfg.MaxFrameBytes))
	_ = s.conn.SetReadDeadline(time.Now().Add(cfg.AuthTimeout))
	s.conn.SetPongHandler(func(string) error {
		if s.authed && !s.closing() {
			_ = s.conn.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
		}
		return nil
	})
	for {
		mt, data, err := s.conn.ReadMessage()
		if err != nil {
			return s.readError(err)
		}
		s.h.metrics.received(len(data))
		if s.closing() {
			continue // closing: wait for the client's close reply, ignore the rest
		}
		if s.authed {
			_ = s.conn.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
		}
		if mt != websocket.BinaryMessage {
			s.h.metrics.invalid(protocol.CodeInvalidFrame)
			s.send(protocol.NewError(protocol.CodeInvalidFrame, "text messages are not part of the protocol; send binary frames"))
			return protocol.CloseInvalidFrames, "text message"
		}
		current = data
		f, err := protocol.Decode(data, protocol.Limits{MaxFrameBytes: cfg.MaxFrameBytes})
		if err == nil && !f.Type().FromClient() {
			err = protocol.NewError(protocol.CodeInvalidFrame, "%s is a server-to-client frame", f.Type())
		}
		if err != nil {
			c := protocol.CodeFor(err)
			if c == protocol.CodeInternal {
				c = protocol.CodeInvalidFrame
			}
			s.h.metrics.invalid(c)
			s.send(&protocol.Error{Code: c, Message: err.Error(), Retryable: false})
			if s.invalid++; s.invalid >= cfg.MaxInvalidFrames || !s.authed {
				return protocol.CloseInvalidFrames, "invalid frames"
			}
			continue
		}
		s.h.metrics.frameIn(f.Type())
		if !s.authed {
			if code, reason := s.hello(ctx, f); code != 0 {
				return code, reason
			}
			continue
		}
		s.handle(ctx, f)
	}
}

// readError turns a read error into the close code to send.
func (s *session) readError(err error) (protocol.CloseCode, string) {
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has already sent 1009 (message too big).
		s.h.metrics.closed(protocol.CloseMessageTooBig)
		s.logger.Info("closing session: message too big")
		return 0, ""
	case errors.As(err, &ne) && ne.Timeout() && !s.closing():
		if !s.authed {
			s.logger.Info("closing session: no Hello before the auth deadline")
			return protocol.CloseAuthTimeout, "auth deadline exceeded"
		}
		s.logger.Info("closing session: pong timeout")
		return protocol.ClosePongTimeout, "pong timeout"
	}
	return 0, "" // the peer closed or the connection broke
}

// hello authenticates the session with its first frame.
func (s *session) hello(ctx context.Context, f protocol.Frame) (protocol.CloseCode, string) {
	cfg := &s.h.cfg
	hello, ok := f.(*protocol.Hello)
	if !ok {
		s.h.metrics.invalid(protocol.CodeAuthenticationRequired)
		s.send(protocol.NewError(protocol.CodeAuthenticationRequired, "the first frame must be Hello, not %s", f.Type()))
		return protocol.CloseInvalidFrames, "expected Hello"
	}
	if hello.ProtocolVersion != protocol.ProtocolVersion {
		s.send(protocol.NewError(protocol.CodeUnsupportedProtocolVersion, "this server speaks protocol version %d, not %d",
			protocol.ProtocolVersion, hello.ProtocolVersion))
		return protocol.CloseUnsupportedProtocol, "unsupported protocol version"
	}
	actx, cancel := context.WithTimeout(ctx, cfg.AuthTimeout)
	id, err := s.h.auth.Authenticate(actx, hello, s.req)
	cancel()
	if err == nil && !id.Role.Valid() {
		err = protocol.NewError(protocol.CodeAuthenticationFailed, "authenticator returned no valid role")
	}
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			pe = protocol.NewError(protocol.CodeAuthenticationFailed, "token refused")
		}
		s.logger.Info("authentication failed", "code", pe.Code, "err", err)
		s.send(pe)
		return protocol.CloseAuthenticationFailed, "authentication failed"
	}
	s.ident = id
	s.authed = true
	_ = s.conn.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
	s.send(&protocol.Welcome{
		ProtocolVersion: protocol.ProtocolVersion,
		SessionID:       s.id,
		User:            protocol.User{ID: id.UserID, Name: id.Name, Avatar: id.Avatar},
		ServerVersion:   cfg.ServerVersion,
		Limits: protocol.ServerLimits{
			MaxFrameBytes:  uint64(cfg.MaxFrameBytes),
			MaxDeltaBytes:  uint64(workflow.DeltaLimits.MaxBytes),
			MaxClockSkewMs: uint64(cfg.MaxClockSkew.Milliseconds()),
		},
		ServerTimeMs: cfg.Now().UnixMilli(),
	})
	s.logger.Debug("session authenticated", "user", id.UserID, "replica", id.ReplicaID)
	return 0, ""
}

// handle routes one decoded client frame of an authenticated session.
func (s *session) handle(ctx context.Context, f protocol.Frame) {
	switch f := f.(type) {
	case *protocol.Hello:
		s.h.metrics.invalid(protocol.CodeInvalidFrame)
		s.send(&protocol.Error{Code: protocol.CodeInvalidFrame, Message: "already authenticated"})
		if s.invalid++; s.invalid >= s.h.cfg.MaxInvalidFrames {
			s.Close(protocol.CloseInvalidFrames, "invalid frames")
		}
	case *protocol.Join:
		s.join(ctx, f)
	case *protocol.Leave:
		if rm := s.joined[f.WorkflowID]; rm != nil {
			rm.Leave(s)
			delete(s.joined, f.WorkflowID)
		}
	case *protocol.Delta:
		rm := s.joined[f.WorkflowID]
		if rm == nil {
			s.nack(f.OpID, protocol.NewError(protocol.CodeNotJoined, "join %q first", f.WorkflowID))
			return
		}
		d, err := workflow.Decode(f.Delta, workflow.DeltaLimits)
		if err != nil {
			s.nack(f.OpID, err)
			return
		}
		rm.SubmitDelta(s, f.OpID, f.Delta, d)
	case *protocol.Operation:
		rm := s.joined[f.WorkflowID]
		if rm == nil {
			s.nack(f.OpID, protocol.NewError(protocol.CodeNotJoined, "join %q first", f.WorkflowID))
			return
		}
		op, err := workflow.ParseOp(f.Name, f.Target, f.Payload)
		if err != nil {
			s.nack(f.OpID, err)
			return
		}
		rm.SubmitOperation(s, f.OpID, op)
	case *protocol.Presence:
		if rm := s.room(f.WorkflowID); rm != nil {
			rm.Presence(s, f.Cursor, f.Selection)
		}
	case *protocol.Drag:
		if rm := s.room(f.WorkflowID); rm != nil {
			rm.Drag(s, f.Positions)
		}
	}
}

// room returns the joined room of wf, or answers NOT_JOINED.
func (s *session) room(wf string) *rooms.Room {
	rm := s.joined[wf]
	if rm == nil {
		e := protocol.NewError(protocol.CodeNotJoined, "join %q first", wf)
		e.WorkflowID = wf
		s.send(e)
	}
	return rm
}

func (s *session) join(ctx context.Context, f *protocol.Join) {
	have := crdt.NewContext()
	if len(f.Context) > 0 {
		d, err := workflow.Decode(f.Context, workflow.DeltaLimits)
		if err != nil {
			e := protocol.NewError(protocol.CodeFor(err), "ctx: %v", err)
			e.WorkflowID = f.WorkflowID
			s.send(e)
			return
		}
		have = d.Context()
	}
	rm, catchUp, err := s.h.rooms.Join(ctx, f.WorkflowID, s, rooms.JoinOptions{Have: have, TabSessionID: f.TabSessionID})
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		code := rooms.ErrorCode(err)
		s.logger.Info("join refused", "workflow", f.WorkflowID, "code", code, "err", err)
		e := protocol.NewError(code, "%v", err)
		e.WorkflowID = f.WorkflowID
		s.send(e)
		return
	}
	s.joined[f.WorkflowID] = rm
	for _, frame := range catchUp {
		if !s.enqueueWait(ctx, frame) {
			return
		}
	}
}

func (s *session) nack(opID string, err error) {
	code := protocol.CodeFor(err)
	msg := err.Error()
	var pe *protocol.Error
	if errors.As(err, &pe) {
		msg = pe.Message
	}
	if len(msg) > protocol.MaxTextBytes {
		msg = msg[:protocol.MaxTextBytes]
	}
	s.send(&protocol.Nack{OpID: opID, Code: code, Message: msg, Retryable: code.Retryable()})
}
