package faults

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Direction is which way a frame travelled.
type Direction uint8

const (
	// ToServer: client → server.
	ToServer Direction = 1 + iota
	// ToClient: server → client.
	ToClient
)

func (d Direction) String() string {
	if d == ToServer {
		return "client→server"
	}
	return "server→client"
}

// Refusal is a Nack or Error frame the server sent a client.
type Refusal struct {
	Conn      uint64
	Frame     protocol.FrameType
	OpID      string // Nack only
	Workflow  string // Error only (may be empty)
	Code      protocol.Code
	Retryable bool
	Message   string
}

func (r Refusal) String() string {
	s := fmt.Sprintf("%s %s", r.Frame, r.Code)
	if r.OpID != "" {
		s += " op " + r.OpID
	}
	if r.Message != "" {
		s += ": " + r.Message
	}
	return s
}

// Tap decodes the websocket frames crossing a proxy (the HTTP upgrade is
// skipped, client frames unmasked, fragments joined; permessage-deflate is
// off on both sides) and records what the checker needs: the delta each op
// id carried, the op ids the server acknowledged as durable, and every
// refusal. OnFrame, when set before traffic starts, sees every frame.
type Tap struct {
	OnFrame func(conn uint64, dir Direction, f protocol.Frame)

	mu       sync.Mutex
	sent     map[opKey]*crdt.Context // delta context per (connection, op id)
	replicas map[uint64]crdt.ReplicaID
	durable  []Ack // the deltas acknowledged durable
	refusals []Refusal
	frames   map[protocol.FrameType]int
	broken   int // streams the parser gave up on
}

// Ack is a delta the server acknowledged as durable.
type Ack struct {
	Conn    uint64 // the proxy connection it was sent and acknowledged on
	OpID    string
	Replica crdt.ReplicaID // the session's replica (Hello.rid): whose edits the delta carries
	Context *crdt.Context  // the delta's causal context
	At      time.Time      // when the Durable frame crossed the proxy
}

type opKey struct {
	conn uint64
	op   string
}

// NewTap returns an empty tap; give it to Proxy.SetTap.
func NewTap() *Tap {
	return &Tap{sent: make(map[opKey]*crdt.Context), replicas: make(map[uint64]crdt.ReplicaID), frames: make(map[protocol.FrameType]int)}
}

// open returns the byte observers of one connection's two directions.
func (tp *Tap) open(_ string, conn uint64) (toServer, toClient func([]byte)) {
	up := &wsStream{onMessage: func(b []byte) { tp.frame(conn, ToServer, b) }, onBroken: tp.brokenStream}
	down := &wsStream{onMessage: func(b []byte) { tp.frame(conn, ToClient, b) }, onBroken: tp.brokenStream}
	return up.feed, down.feed
}

func (tp *Tap) brokenStream() {
	tp.mu.Lock()
	tp.broken++
	tp.mu.Unlock()
}

func (tp *Tap) frame(conn uint64, dir Direction, b []byte) {
	f, err := protocol.Decode(b, protocol.Limits{MaxFrameBytes: 64 << 20})
	if err != nil {
		tp.brokenStream()
		return
	}
	tp.mu.Lock()
	tp.frames[f.Type()]++
	switch f := f.(type) {
	case *protocol.Hello:
		tp.replicas[conn] = crdt.ReplicaID(f.ReplicaID)
	case *protocol.Delta:
		if d, err := workflow.Decode(f.Delta, workflow.DeltaLimits); err == nil {
			tp.sent[opKey{conn, f.OpID}] = d.Context().Clone()
		}
	case *protocol.Durable:
		for _, id := range f.OpIDs {
			if c := tp.sent[opKey{conn, id}]; c != nil {
				tp.durable = append(tp.durable, Ack{Conn: conn, OpID: id, Replica: tp.replicas[conn], Context: c, At: time.Now()})
			}
		}
	case *protocol.Nack:
		tp.refusals = append(tp.refusals, Refusal{Conn: conn, Frame: protocol.FrameNack, OpID: f.OpID, Code: f.Code, Retryable: f.Retryable, Message: f.Message})
	case *protocol.Error:
		tp.refusals = append(tp.refusals, Refusal{Conn: conn, Frame: protocol.FrameError, Workflow: f.WorkflowID, Code: f.Code, Retryable: f.Retryable, Message: f.Message})
	}
	hook := tp.OnFrame
	tp.mu.Unlock()
	if hook != nil {
		hook(conn, dir, f)
	}
}

// Durable returns every delta the server acknowledged as durable so far.
func (tp *Tap) Durable() []Ack {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]Ack(nil), tp.durable...)
}

// Refusals returns every Nack and Error frame seen so far.
func (tp *Tap) Refusals() []Refusal {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return append([]Refusal(nil), tp.refusals...)
}

// Frames returns how many frames of type ft were seen.
func (tp *Tap) Frames(ft protocol.FrameType) int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.frames[ft]
}

// Broken counts frames or streams the tap could not decode (a healthy run
// has none; a cut in the middle of a frame leaves a partial one, which is
// not counted).
func (tp *Tap) Broken() int {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	return tp.broken
}

// wsStream parses one direction of a websocket connection.
type wsStream struct {
	onMessage func([]byte)
	onBroken  func()

	buf    []byte
	upgr   bool // the HTTP upgrade has been skipped
	msg    []byte
	opcode byte
	broken bool
}

var headerEnd = []byte("\r\n\r\n")

func (s *wsStream) feed(p []byte) {
	if s.broken {
		return
	}
	s.buf = append(s.buf, p...)
	if !s.upgr {
		i := bytes.Index(s.buf, headerEnd)
		if i < 0 {
			if len(s.buf) > 64<<10 {
				s.fail()
			}
			return
		}
		s.buf = s.buf[i+len(headerEnd):]
		s.upgr = true
	}
	for s.next() {
	}
	if len(s.buf) == 0 {
		s.buf = nil // let a large buffer go
	}
}

func (s *wsStream) fail() {
	s.broken = true
	s.buf = nil
	if s.onBroken != nil {
		s.onBroken()
	}
}

// next consumes one complete websocket frame from buf, if there is one.
func (s *wsStream) next() bool {
	b := s.buf
	if len(b) < 2 {
		return false
	}
	fin, op := b[0]&0x80 != 0, b[0]&0x0f
	masked := b[1]&0x80 != 0
	n, off := uint64(b[1]&0x7f), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return false
		}
		n, off = uint64(binary.BigEndian.Uint16(b[2:4])), 4
	case 127:
		if len(b) < 10 {
			return false
		}
		n, off = binary.BigEndian.Uint64(b[2:10]), 10
	}
	var mask []byte
	if masked {
		if len(b) < off+4 {
			return false
		}
		mask, off = b[off:off+4], off+4
	}
	if n > 256<<20 {
		s.fail()
		return false
	}
	if uint64(len(b)-off) < n {
		return false
	}
	payload := b[off : off+int(n)]
	if masked {
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	s.buf = b[off+int(n):]
	if op >= 8 { // close, ping, pong
		return true
	}
	if op != 0 {
		s.opcode = op
		s.msg = s.msg[:0]
	}
	s.msg = append(s.msg, payload...)
	if fin {
		if s.opcode == 2 {
			s.onMessage(bytes.Clone(s.msg))
		}
		s.msg = s.msg[:0]
	}
	return true
}
