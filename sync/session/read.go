package session

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// readLoop reads and handles frames until the connection ends. It returns
// the close code the writer should send (0: the connection is already
// gone, or gorilla already sent the close, as for 1009).
//
// It only waits: for the next byte from the peer, then for a pooled worker
// to read and handle the frames that arrived (readBurst), so that
// the goroutine that waits while the connection is idle keeps a small
// stack and no read buffer (see idleread.go).
func (s *session) readLoop(ctx context.Context) (code protocol.CloseCode, reason string) {
	// Set up by begin: nothing here may call deep (see run).
	for {
		s.nc.detachReadBuffer()
		if err := s.nc.awaitRead(); err != nil {
			return s.readError(err)
		}
		var r burstResult
		var wg sync.WaitGroup
		wg.Add(1)
		s.h.workers.Go(func() {
			defer wg.Done()
			r = s.readBurst(ctx)
		})
		wg.Wait()
		if r.end {
			return r.code, r.reason
		}
	}
}

// burstResult is how a burst of reads ended: end, with the close code for
// the writer, or with nothing more buffered (the reader waits again).
type burstResult struct {
	code   protocol.CloseCode
	reason string
	end    bool
}

// readBurst reads and handles frames while gorilla holds buffered input,
// on a pooled worker goroutine (see readLoop).
func (s *session) readBurst(ctx context.Context) (r burstResult) {
	var current []byte // the frame being handled, for the panic log
	defer func() {
		if p := recover(); p != nil {
			h := fnv.New64a()
			h.Write(current)
			s.h.metrics.panicked()
			s.logger().Error("session reader panicked; closing the connection", "panic", p,
				"frame_fnv64a", h.Sum64(), "frame_bytes", len(current))
			r = burstResult{code: protocol.CloseInternalError, reason: "internal error", end: true}
		}
	}()
	s.nc.attachReadBuffer()
	for {
		if err := s.readControlFrames(); err != nil {
			code, reason := s.readError(err)
			return burstResult{code: code, reason: reason, end: true}
		}
		if s.nc.buffered() == 0 {
			return burstResult{}
		}
		if s.authed {
			// Backpressure: the answers to what the client sent must fit
			// the queue before it may send more (flow.go).
			s.awaitRoom()
		}
		mt, data, err := s.conn.ReadMessage()
		if err != nil {
			code, reason := s.readError(err)
			return burstResult{code: code, reason: reason, end: true}
		}
		current = data
		if hook := s.h.frameHook; hook != nil {
			hook(data)
		}
		if code, reason := s.readFrame(ctx, mt, data); code != 0 {
			return burstResult{code: code, reason: reason, end: true}
		}
		// Not kept while the next frame is read.
		current = nil
	}
}

// readFrame handles one message. It returns the close code when the
// session must end (0: read on).
func (s *session) readFrame(ctx context.Context, mt int, data []byte) (protocol.CloseCode, string) {
	cfg := &s.h.cfg
	s.h.metrics.received(len(data))
	if s.closing() {
		return 0, "" // closing: wait for the client's close reply, ignore the rest
	}
	limited := ""
	if s.authed {
		now := time.Now()
		_ = s.conn.SetReadDeadline(now.Add(cfg.PongTimeout))
		limited = s.limits.allow(cfg, now, len(data))
	}
	if mt != websocket.BinaryMessage {
		s.h.metrics.invalid(protocol.CodeInvalidFrame)
		s.send(protocol.NewError(protocol.CodeInvalidFrame, "text messages are not part of the protocol; send binary frames"))
		return protocol.CloseInvalidFrames, "text message"
	}
	if s.authed && limited == "" && len(data) > protocol.MaxDragBytes {
		if wf, ok := protocol.DragWorkflow(data); ok {
			s.h.metrics.frameIn(protocol.FrameDrag)
			s.refuseLargeDrag(wf, len(data))
			return 0, ""
		}
	}
	f, err := protocol.Decode(data, protocol.Limits{MaxFrameBytes: cfg.MaxFrameBytes})
	if err == nil && !f.Type().FromClient() {
		err = protocol.NewError(protocol.CodeInvalidFrame, "%s is a server-to-client frame", f.Type())
	}
	if err != nil {
		c := protocol.CodeFor(err)
		if c == protocol.CodeInternal {
			c = protocol.CodeInvalidFrame
		}
		if c == protocol.CodeAuthenticationFailed && !s.authed {
			// A Hello whose token is over protocol.MaxTokenBytes: a
			// refused token, as any other (PROTOCOL §4.1).
			s.h.metrics.authFailed()
			s.logger().Info("authentication failed", "code", c, "reason", "token too long")
			s.send(protocol.NewError(c, "token refused: longer than %d bytes", protocol.MaxTokenBytes))
			return protocol.CloseAuthenticationFailed, "authentication failed"
		}
		s.h.metrics.invalid(c)
		s.send(&protocol.Error{Code: c, Message: err.Error(), Retryable: false})
		if s.invalid++; s.invalid >= cfg.MaxInvalidFrames || !s.authed {
			return protocol.CloseInvalidFrames, "invalid frames"
		}
		return 0, ""
	}
	s.h.metrics.frameIn(f.Type())
	if !s.authed {
		return s.hello(ctx, f)
	}
	if limited != "" {
		if code := s.throttle(f, limited); code != 0 {
			return code, code.String()
		}
		return 0, ""
	}
	s.handle(ctx, f, len(data))
	return 0, ""
}

// readError turns a read error into the close code to send.
func (s *session) readError(err error) (protocol.CloseCode, string) {
	var ne net.Error
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		// gorilla has already sent 1009 (message too big).
		s.h.metrics.closed(protocol.CloseMessageTooBig)
		s.logger().Info("closing session: message too big")
		return 0, ""
	case errors.As(err, &ne) && ne.Timeout() && !s.closing():
		if !s.authed {
			s.logger().Info("closing session: no Hello before the auth deadline")
			return protocol.CloseAuthTimeout, "auth deadline exceeded"
		}
		s.logger().Info("closing session: pong timeout")
		return protocol.ClosePongTimeout, "pong timeout"
	case isWebsocketProtocolError(err):
		// gorilla has already sent 1002 (protocol error): a reserved
		// opcode, bad framing, an unmasked frame.
		s.h.metrics.invalid(protocol.CodeInvalidFrame)
		s.logger().Info("closing session: websocket protocol error", "err", err)
		return 0, ""
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
	p, err := s.h.auth.Authenticate(actx, hello, s.req)
	cancel()
	// Only the authenticator reads the request: let it go, with its
	// headers, for the rest of the connection's life.
	s.req = nil
	if err == nil {
		err = p.validate()
	}
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			pe = protocol.NewError(protocol.CodeAuthenticationFailed, "token refused")
		}
		s.h.metrics.authFailed()
		// pe's message is the authenticator's: it never quotes the token.
		s.logger().Info("authentication failed", "code", pe.Code, "reason", pe.Message)
		s.send(pe)
		return protocol.CloseAuthenticationFailed, "authentication failed"
	}
	s.principal = p
	if !s.h.register(s) {
		s.logger().Info("session refused: too many sessions for the user", "user", p.UserID)
		s.send(protocol.NewError(protocol.CodeOverloaded, "too many open sessions for this user (at most %d)", cfg.MaxConnectionsPerUser))
		return protocol.CloseOverloaded, "too many sessions for the user"
	}
	s.authed = true
	if !p.ExpiresAt.IsZero() {
		s.expiry = time.AfterFunc(p.ExpiresAt.Sub(cfg.Now()), s.expire)
	}
	_ = s.conn.SetReadDeadline(time.Now().Add(cfg.PongTimeout))
	lim := protocol.ServerLimits{
		MaxFrameBytes:  uint64(cfg.MaxFrameBytes),
		MaxDeltaBytes:  uint64(workflow.DeltaLimits.MaxBytes),
		MaxClockSkewMs: uint64(cfg.MaxClockSkew.Milliseconds()),
	}
	if cfg.FramesPerSecond > 0 {
		lim.MaxOpsPerSecond, lim.OpsBurst = uint64(cfg.FramesPerSecond), uint64(cfg.FrameBurst)
	}
	if cfg.MaxClockLag > 0 {
		lim.MaxClockLagMs = uint64(cfg.MaxClockLag.Milliseconds())
	}
	if cfg.MaxRoomsPerSession > 0 {
		lim.MaxRooms = uint64(cfg.MaxRoomsPerSession)
	}
	var caps []string
	if protocol.HasCap(hello.Caps, protocol.CapabilityAcks) {
		// Before Welcome is queued and before any room knows the session:
		// every acknowledgement it is sent is folded.
		s.mu.Lock()
		s.acks = true
		s.mu.Unlock()
		caps = []string{protocol.CapabilityAcks}
	}
	s.send(&protocol.Welcome{
		Caps:            caps,
		ProtocolVersion: protocol.ProtocolVersion,
		SessionID:       s.id,
		User:            protocol.User{ID: p.UserID, Name: p.Name, Avatar: p.Avatar},
		ServerVersion:   cfg.ServerVersion,
		Limits:          lim,
		ServerTimeMs:    cfg.Now().UnixMilli(),
	})
	s.logger().Debug("session authenticated", "user", p.UserID, "replica", p.ReplicaID)
	return 0, ""
}

// expire ends the session when its credentials expire (on the timer's
// goroutine): Error TOKEN_EXPIRED, then close 4004.
func (s *session) expire() {
	select {
	case <-s.readerDone:
		return // the session is over
	default:
	}
	s.logger().Info("closing session: token expired")
	s.send(protocol.NewError(protocol.CodeTokenExpired, "the token expired; reconnect with a fresh token"))
	s.Close(protocol.CloseTokenExpired, "token expired")
}

// validate checks what every Authenticator must return.
func (p Principal) validate() error {
	if p.UserID == "" || len(p.UserID) > protocol.MaxIDBytes || len(p.Name) > protocol.MaxTextBytes ||
		len(p.Avatar) > protocol.MaxTextBytes || len(p.ReplicaID) > protocol.MaxIDBytes {
		return protocol.NewError(protocol.CodeAuthenticationFailed, "authenticator returned an invalid identity")
	}
	if err := p.Grants.validate(); err != nil {
		return protocol.NewError(protocol.CodeAuthenticationFailed, "authenticator returned invalid grants")
	}
	return nil
}

// isWebsocketProtocolError reports whether err is gorilla's answer to a
// frame that breaks RFC 6455 (it has sent close 1002 already).
func isWebsocketProtocolError(err error) bool {
	var ce *websocket.CloseError
	if errors.As(err, &ce) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return false
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &ne) || errors.As(err, &oe) {
		return false
	}
	return strings.HasPrefix(err.Error(), "websocket: ")
}

// handle routes one decoded client frame of an authenticated session; n is
// its size on the wire.
func (s *session) handle(ctx context.Context, f protocol.Frame, n int) {
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
		s.leave(f.WorkflowID)
	case *protocol.Delta:
		m := s.writer(f.WorkflowID, f.OpID)
		if m == nil {
			return
		}
		// The client's own delta: held to the per-delta work caps here, in
		// the session's goroutine, before the room loop sees it.
		d, err := workflow.DecodeDelta(f.Delta)
		if err != nil {
			s.nack(f.OpID, err)
			return
		}
		s.submitting()
		m.rm.SubmitDelta(m, f.OpID, f.Delta, d)
	case *protocol.Vouch:
		// Any role may hand back what a server sent it: nothing of it is
		// the client's own.
		m := s.member(f.WorkflowID)
		if m == nil {
			s.nack(f.OpID, protocol.NewError(protocol.CodeNotJoined, "join %q first", f.WorkflowID))
			return
		}
		// Not held to the work caps: a vouched delta is bytes a server
		// sent (an operation's relay may pass them), and the room merges
		// it only once its receipt proves that.
		d, err := workflow.Decode(f.Delta, workflow.DeltaLimits)
		if err != nil {
			s.nack(f.OpID, err)
			return
		}
		s.submitting()
		m.rm.SubmitVouch(m, f.OpID, f.Delta, d, f.Receipt)
	case *protocol.Operation:
		m := s.writer(f.WorkflowID, f.OpID)
		if m == nil {
			return
		}
		if f.Target == protocol.UndoTarget && (f.Name == protocol.UndoOperation || f.Name == protocol.RedoOperation) {
			s.submitting()
			m.rm.SubmitUndo(m, f.OpID, f.Name == protocol.RedoOperation)
			return
		}
		op, err := workflow.ParseOp(f.Name, f.Target, f.Payload)
		if err != nil {
			s.nack(f.OpID, err)
			return
		}
		// Held here, before the room loop runs it: a batch's cost there is
		// per item.
		if n := workflow.OpItems(op); n > workflow.MaxOpItems {
			s.nack(f.OpID, protocol.NewError(protocol.CodeTooLarge, "%s names %d items (at most %d); send it as several", op.Name(), n, workflow.MaxOpItems))
			return
		}
		s.submitting()
		m.rm.SubmitOperation(m, f.OpID, op)
	case *protocol.Presence:
		if m := s.joinedMember(f.WorkflowID); m != nil {
			m.rm.Presence(m, f.Cursor, f.Selection, f.Caret)
		}
	case *protocol.Drag:
		if m := s.dragger(f, n); m != nil {
			m.rm.Drag(m, f.Positions)
		}
	}
}

// joinedMember returns the membership of wf, or answers NOT_JOINED.
func (s *session) joinedMember(wf string) *roomMember {
	m := s.member(wf)
	if m == nil {
		e := protocol.NewError(protocol.CodeNotJoined, "join %q first", wf)
		e.WorkflowID = wf
		s.send(e)
	}
	return m
}

// refuseLargeDrag answers a Drag of n > protocol.MaxDragBytes bytes, found
// by a scan instead of a decode: NOT_JOINED as any frame for a workflow the
// session has not joined, else TOO_LARGE; nothing is relayed.
func (s *session) refuseLargeDrag(wf string, n int) {
	if s.joinedMember(wf) == nil {
		return
	}
	e := protocol.NewError(protocol.CodeTooLarge, "drag frame of %d bytes (at most %d)", n, protocol.MaxDragBytes)
	e.WorkflowID = wf
	s.send(e)
}

// dragger returns the membership a Drag of n bytes is relayed to, or
// answers why it is not (nothing is relayed): NOT_JOINED; PERMISSION_DENIED
// for a read role (live positions are an edit in progress, and the drop is
// an edit a reader may not make); TOO_LARGE over protocol.MaxDragBlocks
// ids or protocol.MaxDragBytes.
func (s *session) dragger(f *protocol.Drag, n int) *roomMember {
	m := s.joinedMember(f.WorkflowID)
	if m == nil {
		return nil
	}
	var e *protocol.Error
	switch r := s.role(f.WorkflowID); {
	case r != protocol.RoleWrite && r != protocol.RoleAdmin:
		e = protocol.NewError(protocol.CodePermissionDenied, "role %q may not drag blocks", r)
	case len(f.Positions) > protocol.MaxDragBlocks:
		e = protocol.NewError(protocol.CodeTooLarge, "drag of %d blocks (at most %d)", len(f.Positions), protocol.MaxDragBlocks)
	case n > protocol.MaxDragBytes:
		e = protocol.NewError(protocol.CodeTooLarge, "drag frame of %d bytes (at most %d)", n, protocol.MaxDragBytes)
	case m.rm.Locked():
		// Nothing a drag previews could be stored: don't show it.
		e = protocol.NewError(protocol.CodeWorkflowLocked, "workflow %q is locked", f.WorkflowID)
	}
	if e != nil {
		e.WorkflowID = f.WorkflowID
		s.send(e)
		return nil
	}
	return m
}

// writer returns the membership of wf for an edit, or nacks opID:
// NOT_JOINED, or PERMISSION_DENIED when the session's current role in wf
// does not allow edits (checked here, before decoding, and again by the
// room's admission with the role of the Join).
func (s *session) writer(wf, opID string) *roomMember {
	m := s.member(wf)
	if m == nil {
		s.nack(opID, protocol.NewError(protocol.CodeNotJoined, "join %q first", wf))
		return nil
	}
	if r := s.role(wf); r != protocol.RoleWrite && r != protocol.RoleAdmin {
		s.nack(opID, protocol.NewError(protocol.CodePermissionDenied, "role %q may not edit", r))
		return nil
	}
	return m
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
