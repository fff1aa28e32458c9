package rooms

import (
	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/sync/protocol"
)

// replicaBehind refuses a join whose context lacks dots of the session's own
// replica that the room has seen (REPLICA_BEHIND). A replica always holds
// every dot it minted, so the room knowing more of them means the client lost
// its state and reused its id: its next dots would repeat ones the room holds
// with other content, and Merge would silently keep one of the two. The
// client takes a new replica id, re-mints its unsent edits under it and
// joins again.
func (rm *Room) replicaBehind(own crdt.ReplicaID, have *crdt.Context) error {
	if own == "" || own == rm.cfg.ServerReplicaID {
		return nil
	}
	held := rm.doc.Context().Ranges(own)
	if len(held) == 0 {
		return nil
	}
	var mine []crdt.Range
	if have != nil {
		mine = have.Ranges(own)
	}
	if covers(mine, held) {
		return nil
	}
	var last uint64
	if len(mine) > 0 {
		last = mine[len(mine)-1].Hi
	}
	return protocol.NewError(protocol.CodeReplicaBehind,
		"the server holds dots of replica %q up to %d that this client does not have (its last is %d): take a new replica id",
		own, held[len(held)-1].Hi, last)
}

// covers reports whether the sorted, disjoint ranges a cover every counter
// in b.
func covers(a, b []crdt.Range) bool {
	i := 0
	for _, r := range b {
		for i < len(a) && a[i].Hi < r.Lo {
			i++
		}
		if i == len(a) || a[i].Lo > r.Lo || a[i].Hi < r.Hi {
			return false
		}
	}
	return true
}
