package faults

import (
	"context"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/sync/protocol"
)

// RawSession is a websocket session driven frame by frame, for the cases
// that need a client the Go client would never be: one that sends crafted
// deltas or thin-client operations.
type RawSession struct {
	ws *websocket.Conn
}

// DialRaw connects to url, says Hello with replica rid and joins wf,
// reading until the whole catch-up has arrived.
func DialRaw(url, user, rid, wf string) (*RawSession, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, resp, err := (&websocket.Dialer{}).DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	s := &RawSession{ws: ws}
	if err := s.Send(&protocol.Hello{ProtocolVersion: protocol.ProtocolVersion, Token: user + ":" + user, ReplicaID: rid}); err != nil {
		return nil, err
	}
	if _, err := s.Await(5*time.Second, func(f protocol.Frame) bool { _, ok := f.(*protocol.Welcome); return ok }); err != nil {
		return nil, err
	}
	if err := s.Send(&protocol.Join{WorkflowID: wf}); err != nil {
		return nil, err
	}
	f, err := s.Await(5*time.Second, func(f protocol.Frame) bool { _, ok := f.(*protocol.Joined); return ok })
	if err != nil {
		return nil, err
	}
	if f.(*protocol.Joined).CatchUpChunks > 0 {
		if _, err := s.Await(5*time.Second, func(f protocol.Frame) bool { c, ok := f.(*protocol.CatchUp); return ok && c.Last }); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Send writes one frame.
func (s *RawSession) Send(f protocol.Frame) error {
	b, err := protocol.Encode(f)
	if err != nil {
		return err
	}
	_ = s.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return s.ws.WriteMessage(websocket.BinaryMessage, b)
}

// Await reads frames until match accepts one (returned) or the timeout
// passes; an Error frame before that is returned as the error.
func (s *RawSession) Await(timeout time.Duration, match func(protocol.Frame) bool) (protocol.Frame, error) {
	_ = s.ws.SetReadDeadline(time.Now().Add(timeout))
	for {
		_, b, err := s.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		f, err := protocol.Decode(b, protocol.Limits{MaxFrameBytes: 64 << 20})
		if err != nil {
			return nil, err
		}
		if match(f) {
			return f, nil
		}
		if e, ok := f.(*protocol.Error); ok {
			return nil, fmt.Errorf("server error: %w", e)
		}
	}
}

// Answer waits for the Applied or Nack of op.
func (s *RawSession) Answer(op string, timeout time.Duration) (protocol.Frame, error) {
	return s.Await(timeout, func(f protocol.Frame) bool {
		switch f := f.(type) {
		case *protocol.Applied:
			return f.OpID == op
		case *protocol.Nack:
			return f.OpID == op
		}
		return false
	})
}

// Close closes the connection.
func (s *RawSession) Close() { _ = s.ws.Close() }
