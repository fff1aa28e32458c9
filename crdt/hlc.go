package crdt

import "math"

// MaxWall bounds the wall time of every timestamp: walls lie in
// [-MaxWall, MaxWall], 2^53-1 milliseconds (285,000 years) either side of the
// epoch, the integers every client's number type holds exactly. Decoders
// refuse a timestamp outside, and a Clock never leaves the range.
const MaxWall = 1<<53 - 1

// ValidWall reports whether wall lies in [-MaxWall, MaxWall].
func ValidWall(wall int64) bool { return wall >= -MaxWall && wall <= MaxWall }

func clampWall(wall int64) int64 { return min(max(wall, -MaxWall), MaxWall) }

// Timestamp is a hybrid logical clock reading: wall milliseconds, a logical
// counter for events within one millisecond (or while the wall clock lags), and
// the replica that took it. Timestamps are totally ordered; last-writer-wins
// registers keep the write with the greatest one.
type Timestamp struct {
	Wall    int64
	Logical uint32
	Replica ReplicaID
}

// Compare returns -1, 0 or +1 as t is before, equal to or after u. Ties on
// wall and logical time are broken by replica id.
func (t Timestamp) Compare(u Timestamp) int {
	switch {
	case t.Wall < u.Wall:
		return -1
	case t.Wall > u.Wall:
		return 1
	case t.Logical < u.Logical:
		return -1
	case t.Logical > u.Logical:
		return 1
	case t.Replica < u.Replica:
		return -1
	case t.Replica > u.Replica:
		return 1
	}
	return 0
}

// IsZero reports whether t is the zero timestamp.
func (t Timestamp) IsZero() bool { return t.Wall == 0 && t.Logical == 0 && t.Replica == "" }

// Clock is one replica's hybrid logical clock. Its readings never run
// backwards, whatever the wall time passed in, and after Observe they are
// greater than every timestamp observed. The zero Clock is not usable: create
// one with NewClock.
//
// The clock saturates rather than wraps: wall times passed in or observed
// outside [-MaxWall, MaxWall] count as the nearest bound, and once the clock
// reads (MaxWall, MaxUint32) it keeps returning that reading, no longer
// strictly greater than the last. Only a timestamp from 285,000 years ahead
// gets it there, which admission refuses long before; a wrapped clock would
// instead order every later write before every earlier one.
type Clock struct {
	replica ReplicaID
	wall    int64
	logical uint32
}

// NewClock returns a clock for replica.
func NewClock(replica ReplicaID) *Clock { return &Clock{replica: replica} }

// Replica returns the replica the clock stamps.
func (c *Clock) Replica() ReplicaID { return c.replica }

// Last returns the latest timestamp the clock issued or observed (with this
// clock's replica id); the zero Timestamp before the first reading.
func (c *Clock) Last() Timestamp {
	if c.wall == 0 && c.logical == 0 {
		return Timestamp{}
	}
	return Timestamp{Wall: c.wall, Logical: c.logical, Replica: c.replica}
}

// Now returns a timestamp greater than every earlier reading and every
// observed timestamp. wallMillis is the caller's wall clock.
func (c *Clock) Now(wallMillis int64) Timestamp {
	c.advance(wallMillis, 0, 0)
	return Timestamp{Wall: c.wall, Logical: c.logical, Replica: c.replica}
}

// Observe moves the clock past a timestamp received from another replica, so
// that the next reading orders after it.
func (c *Clock) Observe(t Timestamp, wallMillis int64) {
	c.advance(wallMillis, t.Wall, t.Logical)
	// advance ticked the logical counter for a local event; an observation is
	// not one, but ordering strictly after t is all that matters.
}

func (c *Clock) advance(wall, seenWall int64, seenLogical uint32) {
	wall, seenWall = clampWall(wall), clampWall(seenWall)
	next, logical := c.wall, c.logical
	switch {
	case wall > next && wall > seenWall:
		next, logical = wall, 0
	case seenWall > next:
		next, logical = seenWall, seenLogical
		c.tick(&next, &logical)
	case seenWall == next && seenLogical > logical:
		logical = seenLogical
		c.tick(&next, &logical)
	default:
		c.tick(&next, &logical)
	}
	c.wall, c.logical = next, logical
}

// tick increments the logical counter; on overflow it borrows a millisecond,
// which keeps readings monotonic at the price of a 1 ms lead. At the top of
// the domain it stays put (see Clock).
func (c *Clock) tick(wall *int64, logical *uint32) {
	if *logical == math.MaxUint32 {
		if *wall >= MaxWall {
			return
		}
		*wall++
		*logical = 0
		return
	}
	*logical++
}
