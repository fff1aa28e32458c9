package hostile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// peer is a raw-protocol client: it speaks frames and keeps a replica of
// the document, nothing more. An honest peer merges every delta it is sent
// and moves its clock past it, as the SDKs do; the attacker uses the same
// type to send what it likes.
type peer struct {
	name    string
	conn    *websocket.Conn
	sid     string
	replica crdt.ReplicaID
	doc     *workflow.Doc
	clock   *crdt.Clock
	ops     int
	// stale peers keep what they are sent apart from their document, so
	// their edits are concurrent with everything since they joined.
	stale bool

	closeCode int // the server's close code once the connection ended; -1 without one
	// kept are the deltas the server sent with a receipt, which a client
	// may hand back in a Vouch.
	kept []kept
	// dragsFrom counts the DragUpdate frames received, by sender session.
	dragsFrom map[string]int
	// faults are the server's misbehaviours this peer saw in what it was
	// sent (an undecodable or non-canonical delta, an unknown code).
	faults []string
}

type kept struct {
	delta   []byte
	receipt protocol.Receipt
}

// errClosed is returned by next once the connection has ended.
var errClosed = errors.New("hostile: connection closed")

// connect dials e and says Hello as token with replica rid.
func (e *env) connect(name, token, rid string) (*peer, error) {
	d := websocket.Dialer{NetDialContext: e.ln.Dial, HandshakeTimeout: answerWithin}
	conn, _, err := d.Dial("ws://pipe/v1/sync", nil)
	if err != nil {
		return nil, fmt.Errorf("%s: dial: %w", name, err)
	}
	p := &peer{name: name, conn: conn, replica: crdt.ReplicaID(rid), doc: workflow.New(),
		clock: crdt.NewClock(crdt.ReplicaID(rid)), dragsFrom: map[string]int{}}
	p.send(&protocol.Hello{ProtocolVersion: protocol.ProtocolVersion, Token: token, ReplicaID: rid, ClientName: "hostile"})
	f, err := p.expect(protocol.FrameWelcome, answerWithin)
	if err != nil {
		conn.Close()
		return nil, err
	}
	p.sid = f.(*protocol.Welcome).SessionID
	return p, nil
}

// send writes f without validating it, so that hostile values (NaN points,
// oversized maps) reach the server as they are.
func (p *peer) send(f protocol.Frame) { p.sendRaw(protocol.AppendFrame(nil, f)) }

// sendRaw writes one binary message. A write to a connection the server
// closed fails; the close code is read by next.
func (p *peer) sendRaw(b []byte) {
	_ = p.conn.SetWriteDeadline(time.Now().Add(answerWithin))
	_ = p.conn.WriteMessage(websocket.BinaryMessage, b)
}

// next reads one frame within d and absorbs it.
func (p *peer) next(d time.Duration) (protocol.Frame, error) {
	if p.closeCode != 0 {
		return nil, errClosed
	}
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	mt, b, err := p.conn.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		var ne interface{ Timeout() bool }
		switch {
		case errors.As(err, &ce):
			p.closeCode = ce.Code
		case errors.As(err, &ne) && ne.Timeout():
			return nil, fmt.Errorf("%s: nothing from the server within %v: %w", p.name, d, context.DeadlineExceeded)
		default:
			p.closeCode = -1
		}
		return nil, errClosed
	}
	if mt != websocket.BinaryMessage {
		p.fault("server sent websocket message type %d", mt)
		return nil, errors.New("not binary")
	}
	f, err := protocol.Decode(b, protocol.Limits{MaxFrameBytes: 64 << 20})
	if err != nil {
		p.fault("server sent an undecodable frame: %v", err)
		return nil, err
	}
	p.absorb(f)
	return f, nil
}

func (p *peer) fault(format string, args ...any) {
	p.faults = append(p.faults, p.name+": "+fmt.Sprintf(format, args...))
}

// expect reads until a frame of type t arrives, within d overall.
func (p *peer) expect(t protocol.FrameType, d time.Duration) (protocol.Frame, error) {
	return p.until(d, func(f protocol.Frame) bool { return f.Type() == t })
}

// until reads until done accepts a frame, within d overall.
func (p *peer) until(d time.Duration, done func(protocol.Frame) bool) (protocol.Frame, error) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("%s: no awaited frame within %v: %w", p.name, d, context.DeadlineExceeded)
		}
		f, err := p.next(left)
		if errors.Is(err, errClosed) {
			return nil, fmt.Errorf("%s: connection closed with %d while waiting", p.name, p.closeCode)
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, err
			}
			continue
		}
		if done(f) {
			return f, nil
		}
	}
}

// absorb merges the deltas the server sends and checks what every client
// relies on: deltas decode and are canonical, codes are known.
func (p *peer) absorb(f protocol.Frame) {
	var raw []byte
	var rc protocol.Receipt
	switch f := f.(type) {
	case *protocol.RemoteDelta:
		raw, rc = f.Delta, f.Receipt
	case *protocol.CatchUp:
		raw, rc = f.Delta, f.Receipt
	case *protocol.DragUpdate:
		p.dragsFrom[f.SessionID]++
		return
	case *protocol.Nack:
		if !f.Code.Known() || f.Code == protocol.CodeInternal {
			p.fault("Nack of %q with code %s (%s)", f.OpID, f.Code, f.Message)
		}
		return
	case *protocol.Error:
		if !f.Code.Known() || f.Code == protocol.CodeInternal {
			p.fault("Error with code %s (%s)", f.Code, f.Message)
		}
		return
	default:
		return
	}
	d, err := workflow.Decode(raw, workflow.DocLimits)
	if err != nil {
		p.fault("server sent a delta that does not decode: %v", err)
		return
	}
	if enc := d.Encode(); !bytes.Equal(enc, raw) {
		p.fault("server sent a delta in a non-canonical encoding (%d bytes, canonical %d)", len(raw), len(enc))
	}
	if !rc.IsZero() {
		p.kept = append(p.kept, kept{delta: raw, receipt: rc})
	}
	if p.stale {
		return
	}
	p.doc.Merge(d)
	if ts := latestStamp(d); !ts.IsZero() {
		p.clock.Observe(ts, time.Now().UnixMilli())
	}
}

// latestStamp is the greatest hybrid timestamp among d's entries.
func latestStamp(d *workflow.Doc) crdt.Timestamp {
	var latest crdt.Timestamp
	d.Store().Range(func(_ workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		for _, e := range es {
			if ts := e.Value.Stamp(e.Dot); ts.Compare(latest) > 0 {
				latest = ts
			}
		}
		return true
	})
	return latest
}

// join joins wf with the peer's context and reads Joined and the catch-up.
func (p *peer) join(wf string) (*protocol.Joined, error) {
	ctx := workflow.New()
	ctx.Context().Merge(p.doc.Context())
	p.send(&protocol.Join{WorkflowID: wf, Context: ctx.Encode(), TabSessionID: "tab-" + p.name})
	f, err := p.until(answerWithin, func(f protocol.Frame) bool {
		if e, ok := f.(*protocol.Error); ok && e.WorkflowID == wf {
			return true
		}
		return f.Type() == protocol.FrameJoined
	})
	if err != nil {
		return nil, err
	}
	if e, ok := f.(*protocol.Error); ok {
		return nil, fmt.Errorf("%s: join refused: %w", p.name, e)
	}
	j := f.(*protocol.Joined)
	for range j.CatchUpChunks {
		if _, err := p.expect(protocol.FrameCatchUp, answerWithin); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// edit applies op to the peer's replica with its clock and returns the
// encoded delta.
func (p *peer) edit(op workflow.Op) ([]byte, error) {
	d, err := p.doc.Apply(p.clock.Now(time.Now().UnixMilli()), op)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", p.name, op.Name(), err)
	}
	return d.Encode(), nil
}

// submit sends raw as a Delta and waits for the room's answer; it returns
// the Nack if it was refused, and how long the answer took.
func (p *peer) submit(wf string, raw []byte) (*protocol.Nack, time.Duration, error) {
	p.ops++
	op := fmt.Sprintf("%s-op-%d", p.name, p.ops)
	start := time.Now()
	p.send(&protocol.Delta{WorkflowID: wf, OpID: op, Delta: raw})
	f, err := p.until(answerWithin, func(f protocol.Frame) bool {
		switch f := f.(type) {
		case *protocol.Applied:
			return f.OpID == op
		case *protocol.Nack:
			return f.OpID == op
		}
		return false
	})
	took := time.Since(start)
	if err != nil {
		return nil, took, err
	}
	if n, ok := f.(*protocol.Nack); ok {
		return n, took, nil
	}
	return nil, took, nil
}

func (p *peer) close() { _ = p.conn.Close() }
