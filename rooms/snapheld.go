package rooms

import (
	"slices"

	"github.com/flowsync/flowsync/storage"
)

// Snapshots trim the room's own rows unread. Every log row a room writes
// is the join of deltas it merged first, and the shadow replica a snapshot
// writes holds every delta merged before the capture (shadow.go). So the
// keys of the rows the room wrote before a capture name rows the snapshot's
// document holds: Store.Snapshot's held, which the store trims without
// reading or decoding them. Rows the room loaded, and other nodes' rows,
// are not named and are joined as before. A vouched delta the document
// already covered is written without a merge (receipts.go): a batch with
// one is not named.

// maxHeldRows bounds the keys a room keeps for its next snapshot (32 bytes
// each). Past it, rows are not named: the snapshot reads them, as it
// would without keys.
const maxHeldRows = 8192

// writeResult is a store write's outcome, for the loop.
type writeResult struct {
	err  error
	rows []storage.RowKey // the rows' keys, when the shadow holds all their deltas
}

// writeDone handles a store write's outcome (turn).
func (rm *Room) writeDone(res *writeResult) {
	rm.handleWritten(res.err)
	if res.err == nil {
		rm.snap.noteRows(res.rows)
	}
}

// rowKeys returns the keys of batch's rows.
func rowKeys(batch []storage.Delta) []storage.RowKey {
	keys := make([]storage.RowKey, len(batch))
	for i, d := range batch {
		keys[i] = d.Hash()
	}
	return keys
}

// noteRows keeps the keys of rows the room wrote, for the next snapshot.
func (s *snapState) noteRows(rows []storage.RowKey) {
	if len(s.held)+len(rows) <= maxHeldRows {
		s.held = append(s.held, rows...)
	}
}

// takeHeld returns the keys a snapshot starting now names, and remembers
// how many, so that heldTrimmed drops them once it succeeded.
func (s *snapState) takeHeld() []storage.RowKey {
	s.heldSent = len(s.held)
	return slices.Clone(s.held)
}

// heldTrimmed forgets the keys of the snapshot that just succeeded (their
// rows are gone); rows written while it ran stay named for the next one.
func (s *snapState) heldTrimmed() {
	n := copy(s.held, s.held[s.heldSent:])
	s.held = s.held[:n]
	if n == 0 && cap(s.held) > 64 {
		s.held = nil
	}
	s.heldSent = 0
}
