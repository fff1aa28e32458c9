package rooms

import (
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
)

// One log row per write. A room writes what it merged since its last write
// as one batch; storing each delta as its own row made the log, its index
// and the database's write-ahead log grow per operation, and the snapshot
// that trims them pay a decode per operation. So the writer joins the
// batch's deltas into one delta and appends that: a field written fifty
// times in a batch is stored once, and the row's context covers every dot
// of the batch (a join never drops one), so every operation of the batch
// is durable when the row is, and each still gets its Durable.
//
// The join runs on the writer goroutine, not in the loop: merged deltas are
// immutable (shadow.go), so reading them there is safe, and the loop's cost
// per delta stays an append. Retrying a write joins the same deltas again;
// the encoding is canonical, so the retry makes the same row with the same
// key, and a row whose first commit's outcome was lost is not stored twice.

// maxRowInput bounds the encoded bytes of the deltas joined into one row.
// A row must decode under workflow.DeltaLimits when the workflow is
// loaded: its bytes, and its context ranges, which that limit caps at one
// per 4 bytes. A join has at most the ranges of its parts together, and
// each part's range takes 2 bytes of it at least, so parts of at most half
// the byte limit keep the join's ranges within the cap; the join's bytes
// are checked after encoding.
var maxRowInput = workflow.DeltaLimits.MaxBytes / 2

// batchRows returns the log rows of one write: the join of deltas (the
// decoded form of raws, in order), cut where the parts would pass
// maxRowInput. A join that still encodes past the byte limit (a join
// carries each part's values at most once, so only a pathological batch
// can) is written as its parts, one row each.
func batchRows(deltas []*workflow.Doc, raws [][]byte) []storage.Delta {
	if len(raws) == 1 {
		return []storage.Delta{storage.NewDelta(raws[0])}
	}
	var rows []storage.Delta
	for start := 0; start < len(raws); {
		end, size := start+1, len(raws[start])
		for end < len(raws) && size+len(raws[end]) <= maxRowInput {
			size += len(raws[end])
			end++
		}
		rows = append(rows, joinRow(deltas[start:end], raws[start:end])...)
		start = end
	}
	return rows
}

// joinRow joins deltas into one row, or returns one row per delta when
// the join is too large to be a row. A delta whose decoded form the room
// did not keep (see keepDecodedBytes) is decoded from its bytes here.
func joinRow(deltas []*workflow.Doc, raws [][]byte) []storage.Delta {
	if len(raws) == 1 {
		return []storage.Delta{storage.NewDelta(raws[0])}
	}
	if joined, ok := join(deltas, raws); ok {
		if enc := joined.Encode(); len(enc) <= workflow.DeltaLimits.MaxBytes {
			return []storage.Delta{storage.Merged(enc, len(raws))}
		}
	}
	rows := make([]storage.Delta, len(raws))
	for i, raw := range raws {
		rows[i] = storage.NewDelta(raw)
	}
	return rows
}

func join(deltas []*workflow.Doc, raws [][]byte) (*workflow.Doc, bool) {
	joined := workflow.New()
	for i, d := range deltas {
		if d == nil {
			var err error
			// The room admitted these bytes: they decode. Should they
			// not, the parts are written as they are, as before joins.
			if d, err = workflow.Decode(raws[i], workflow.DeltaLimits); err != nil {
				return nil, false
			}
		}
		joined.Merge(d)
	}
	return joined, true
}

// keepDecodedBytes bounds the pending bytes a room keeps the decoded form
// of for the writer's join. A decoded delta takes about eleven times its
// encoding, and pending deltas pile up to MaxPendingBytes while the store
// is down; past this bound the room keeps only the bytes and the writer
// decodes them (off the loop) when the store is back. Below it, which is
// every write while the store keeps up, nothing is decoded twice.
const keepDecodedBytes = 1 << 20
