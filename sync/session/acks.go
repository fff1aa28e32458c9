package session

import (
	"time"

	"github.com/flowsync/flowsync/sync/protocol"
)

// Coalesced acknowledgements.
//
// A client that asks for protocol.CapabilityAcks in its Hello is answered
// with Acks frames: the op ids of the Applied and Durable frames its rooms
// queue are gathered here instead of queued one frame each, and the writer
// sends them as one Acks at the end of its next flush (takeAcksLocked). A
// flush then carries one acknowledgement frame however many submissions it
// answers, where a busy client would otherwise get an Applied per edit and a
// Durable per store write, each a websocket message to frame, write and
// parse.
//
// Applied ids alone do not start a write at once: the writer holds them
// for up to twice Config.FlushInterval since the first was gathered
// (appliedHoldLocked), so that they ride with the next frame that goes out
// anyway — the Durable of the same edits, typically one store write later,
// or a relay. At a low edit rate an edit then costs its author one socket
// write (an Acks with both lists) instead of two (Applied, then Durable),
// where a bare relay writes two. Durable ids, and every other frame, end
// the hold. The hold does not bound anything the client waits on: it keeps
// its edits until they are durable, and the Applied only counts them as
// received.
//
// Order: an Acks only ever goes out later than the frames it replaces would
// have, within the same flush, so nothing that one of those frames had to
// precede is overtaken (the author's RemoteDelta of its Operation comes
// first either way). Nacks are not folded, and the ids gathered before a
// Nack are queued ahead of it (foldAckLocked), so the client still sees its
// answers in the order of its submissions.

// Bounds of one Acks frame: past either, the ids go out as several frames
// (the applied ids first, as one frame would list them). An op id is at
// most protocol.MaxIDBytes, so a frame stays far under any client's
// message limit.
const (
	maxAckIDs   = 1024
	maxAckBytes = 64 << 10
)

// foldAckLocked takes frame into the gathered acknowledgements when the
// session speaks Acks and frame is an Applied or Durable, and reports
// whether it did (the caller then queues nothing). A Nack first queues the
// acknowledgements gathered so far, so that it follows them; it is not
// folded. Called with mu held.
func (s *session) foldAckLocked(frame []byte) bool {
	if !s.acks {
		return false
	}
	t, ok := protocol.PeekType(frame)
	if !ok {
		return false
	}
	switch t {
	case protocol.FrameApplied, protocol.FrameDurable:
	case protocol.FrameNack:
		if s.ackIDs > 0 {
			s.queueAcksLocked()
		}
		return false
	default:
		return false
	}
	f, err := protocol.Decode(frame, protocol.Limits{})
	if err != nil {
		return false // queued as it is: the client refuses it, as it would have
	}
	switch f := f.(type) {
	case *protocol.Applied:
		if len(s.ackApplied) == 0 {
			s.appliedSince = monoNow()
		}
		s.ackApplied = append(s.ackApplied, f.OpID)
		s.ackIDs++
	case *protocol.Durable:
		s.ackDurable = append(s.ackDurable, f.OpIDs...)
		s.ackIDs += len(f.OpIDs)
	}
	return true
}

// queueAcksLocked moves the gathered acknowledgements into the queue as
// Acks frames. They answer the client's own submissions, which the reader's
// backpressure bounds (flow.go), so they do not count against the queue's
// bounds (nor in queueBytes). Called with mu held.
func (s *session) queueAcksLocked() {
	s.queue = s.appendAcksLocked(s.queue)
}

// appendAcksLocked appends the gathered acknowledgements to batch as Acks
// frames and forgets them. Called with mu held.
func (s *session) appendAcksLocked(batch [][]byte) [][]byte {
	if s.ackIDs == 0 {
		return batch
	}
	batch = appendAcks(batch, s.ackApplied, s.ackDurable)
	clear(s.ackApplied)
	clear(s.ackDurable)
	s.ackApplied, s.ackDurable, s.ackIDs = s.ackApplied[:0], s.ackDurable[:0], 0
	return batch
}

// dropAcksLocked forgets the gathered acknowledgements and their slices (a
// slow consumer's, or an idle writer's). Called with mu held.
func (s *session) dropAcksLocked() {
	s.ackApplied, s.ackDurable, s.ackIDs = nil, nil, 0
}

// appendAcks encodes applied then durable as Acks frames within the frame
// bounds and appends them to batch.
func appendAcks(batch [][]byte, applied, durable []string) [][]byte {
	for len(applied) > 0 || len(durable) > 0 {
		var f protocol.Acks
		ids, bytes := 0, 0
		take := func(from []string) (taken, rest []string) {
			i := 0
			for ; i < len(from) && ids < maxAckIDs && (i == 0 && ids == 0 || bytes+len(from[i]) <= maxAckBytes); i++ {
				ids++
				bytes += len(from[i])
			}
			return from[:i], from[i:]
		}
		f.Applied, applied = take(applied)
		if len(applied) == 0 {
			f.Durable, durable = take(durable)
		}
		size := 16 + bytes + 3*ids
		batch = append(batch, protocol.AppendFrame(make([]byte, 0, size), &f))
	}
	return batch
}

// appliedHoldLocked returns how much longer the gathered Applied ids may
// wait for a frame to ride with (0 or less: none). Called with mu held.
func (s *session) appliedHoldLocked() time.Duration {
	if len(s.ackApplied) == 0 {
		return 0
	}
	return 2*s.h.cfg.FlushInterval - time.Duration(monoNow()-s.appliedSince)
}

// monoStart is the origin of monoNow.
var monoStart = time.Now()

// monoNow is the monotonic clock in nanoseconds since monoStart: an int64
// where a time.Time would grow every session by 16 bytes.
func monoNow() int64 { return int64(time.Since(monoStart)) }
