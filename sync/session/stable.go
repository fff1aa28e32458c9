package session

import (
	"slices"
	"time"

	"github.com/flowsync/flowsync/sync/protocol"
)

// Held Stable frames.
//
// A room sends every member that was sent edits not yet durable a Stable
// frame after each store commit: at low edit rates as many frames as the
// relays themselves, each its own socket write when the connection is
// quiet. A Stable is only a hint (the client may drop the receipts it
// keeps up to that mark, and keeps them a little longer meanwhile), and a
// later one supersedes an earlier one of the same room. So the session
// holds it, the latest per membership, and the writer sends it with the
// next frames it writes, or after stableDelay when nothing else comes. It
// never goes before frames queued ahead of it; going later is always true,
// since the mark only grows.

// stableDelay bounds how long a held Stable waits for other frames.
const stableDelay = time.Second

// heldStable is the latest Stable frame of one membership, not yet queued.
type heldStable struct {
	m     *roomMember
	frame []byte
}

// holdStableLocked keeps frame if it is a Stable of m's room, in place of
// the one held for m, and reports whether it did (the caller then queues
// nothing). Called with mu held.
func (s *session) holdStableLocked(m *roomMember, frame []byte) bool {
	if m == nil {
		return false
	}
	if t, ok := protocol.PeekType(frame); !ok || t != protocol.FrameStable {
		return false
	}
	for i := range s.stable {
		if s.stable[i].m == m {
			s.stable[i].frame = frame
			return true
		}
	}
	s.stable = append(s.stable, heldStable{m: m, frame: frame})
	return true
}

// appendStableLocked appends the held Stable frames to batch and forgets
// them. Called with mu held.
func (s *session) appendStableLocked(batch [][]byte) [][]byte {
	for _, h := range s.stable {
		batch = append(batch, h.frame)
	}
	clear(s.stable)
	s.stable = s.stable[:0]
	return batch
}

// dropStableLocked forgets the Stable held for m (a revoked membership:
// nothing of its room goes out after the Event), or every one when m is
// nil. Called with mu held.
func (s *session) dropStableLocked(m *roomMember) {
	if m == nil {
		s.stable = nil
		return
	}
	s.stable = slices.DeleteFunc(s.stable, func(h heldStable) bool { return h.m == m })
}

// onlyHeldLocked reports whether all there is to write may wait for other
// frames: held Stable frames, and gathered Applied ids within their hold
// (acks.go). Called with mu held.
func (s *session) onlyHeldLocked() bool {
	return (len(s.stable) > 0 || len(s.ackApplied) > 0) && len(s.ackDurable) == 0 &&
		(len(s.ackApplied) == 0 || s.appliedHoldLocked() > 0) &&
		len(s.queue) == 0 && len(s.backlog) == 0 && s.closeCode == 0 && !s.pingDue
}

// wakeLocked ends a linger that waits for any frame (one holding Stable
// frames or Applied ids): something else is to be written (an Applied id
// ends it too; the writer then holds what it has for what is left of the
// ids' hold). Called with mu held.
func (s *session) wakeLocked() {
	if s.lingering != nil && s.lingerAny {
		signal(s.lingering)
		s.lingering = nil
	}
}
