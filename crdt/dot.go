package crdt

import "strconv"

// ReplicaID names a replica that authors writes: a device (a browser profile,
// an offline editor install) or a server node. It must not name a connection
// or a tab: every id ever used stays in the causal context of the documents it
// wrote to, so ids should be few and long-lived.
type ReplicaID string

// MaxCounter is the largest counter a dot may have: 2^53-1, the largest
// integer every language's number type holds exactly. Decoders refuse larger
// counters, so a hostile context cannot push a replica's next counter past
// the end of the range.
const MaxCounter = 1<<53 - 1

// Dot identifies one write: the replica that made it and that replica's
// counter, starting at 1 and growing by one per write.
type Dot struct {
	Replica ReplicaID
	Counter uint64
}

func (d Dot) String() string {
	return string(d.Replica) + ":" + strconv.FormatUint(d.Counter, 10)
}

// compareDots orders dots by replica id, then counter.
func compareDots(a, b Dot) int {
	switch {
	case a.Replica < b.Replica:
		return -1
	case a.Replica > b.Replica:
		return 1
	case a.Counter < b.Counter:
		return -1
	case a.Counter > b.Counter:
		return 1
	}
	return 0
}
