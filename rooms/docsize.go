package rooms

import (
	"fmt"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Document size bound. A stored snapshot is decoded against
// workflow.DocLimits when the room loads, so a document that grew past it
// could never be loaded again: the room refuses an edit that would take
// its document past Config.MaxDocumentBytes (below DocLimits, with margin)
// with the final TOO_LARGE, the document unchanged.
//
// Encoding the document per edit would cost as much as the edit's merge
// many times over, so the room keeps an estimate: the exact encoded size
// measured at load, plus the encoded size of every delta merged since.
// A delta that overwrites a value adds its full size although the document
// grows by less, so the estimate only errs high; before refusing on a
// stale estimate the room measures again (one encode), at most once per
// docSizeRemeasure, so an edit is refused on an exact size unless the
// document changed within that time.

// The load does not measure: most rooms load for a joiner with an empty
// context, whose catch-up encodes the whole document anyway and measures it
// on the way (catchup.go). A first joiner with a context measures before
// its Joined (as the load used to), and a room edited before any join (an
// application's Apply) before its first edit's check.

// docSizeRemeasure spaces the exact measures an edit near the bound
// triggers.
const docSizeRemeasure = 10 * time.Second

// docSizeState is the room loop's size estimate. Owned by run.
type docSizeState struct {
	measured   int // exact encoded size at the last measure
	since      int // encoded bytes of the deltas merged since
	measuredAt time.Time
	known      bool // measured at least once since the load
}

// measureDocSize encodes the document once and restarts the estimate.
func (rm *Room) measureDocSize() { rm.measuredDocSize(len(rm.doc.Encode())) }

// measuredDocSize restarts the estimate from size, the exact encoded size
// of the document as it is now (measured, or known from an encoding made
// for another reason).
func (rm *Room) measuredDocSize(size int) {
	rm.docSize = docSizeState{measured: size, measuredAt: rm.cfg.now(), known: true}
}

// grewBy adds a merged delta's encoded size to the estimate.
func (rm *Room) grewBy(n int) { rm.docSize.since += n }

// checkOperationDelta returns the TOO_LARGE refusal when an operation's
// delta encodes to n bytes, more than a delta may be: a client's delta that
// size is refused by the session, and the store refuses it as a log row,
// so merging it would leave the room holding an edit it can never make
// durable. Such an operation (a replace-state or batch add of thousands of
// blocks) must be split by its sender.
func checkOperationDelta(n int) error {
	if n > workflow.DeltaLimits.MaxBytes {
		return protocol.NewError(protocol.CodeTooLarge,
			"the operation's delta is %d bytes, over the %d a delta may be; split it", n, workflow.DeltaLimits.MaxBytes)
	}
	return nil
}

// opDelta is one delta an operation is written and relayed as, encoded and
// decoded.
type opDelta struct {
	raw   []byte
	delta *workflow.Doc
}

// operationChunks returns the deltas an operation's delta (encoded raw)
// is written and relayed as: itself when it fits in a delta; for an
// application's operation (split true: a restore, an import) too large for
// one, its chunks (Doc.EncodeChunks: each fits, they commute, their join is
// the delta). The room merges the whole delta at once, so its members see
// one edit; the chunks are separate log rows, so a crash between their
// writes can leave a part of it durable (docs/ADMIN_API.md, "Restore").
// A member's operation too large for one delta, or a chunk still too large
// (one value past the limit), is refused with TOO_LARGE.
func operationChunks(delta *workflow.Doc, raw []byte, split bool) ([]opDelta, error) {
	if len(raw) <= workflow.DeltaLimits.MaxBytes {
		return []opDelta{{raw, delta}}, nil
	}
	if !split {
		return nil, checkOperationDelta(len(raw))
	}
	var out []opDelta
	for _, c := range delta.EncodeChunks(workflow.DeltaLimits.MaxBytes) {
		if err := checkOperationDelta(len(c)); err != nil {
			return nil, err
		}
		d, err := workflow.DecodeDelta(c)
		if err != nil {
			return nil, fmt.Errorf("rooms: a chunk of an operation's delta does not decode: %w", err)
		}
		out = append(out, opDelta{c, d})
	}
	return out, nil
}

// checkDocSize returns the TOO_LARGE refusal when a delta of n encoded
// bytes would take the document past Config.MaxDocumentBytes.
func (rm *Room) checkDocSize(n int) error {
	limit := rm.cfg.MaxDocumentBytes
	if limit < 0 {
		return nil
	}
	s := &rm.docSize
	if !s.known {
		// Never measured since the load: measure now, before the first
		// edit it would let through.
		rm.measureDocSize()
	}
	if s.measured+s.since+n <= limit {
		return nil
	}
	if s.since > 0 && rm.cfg.since(s.measuredAt) >= docSizeRemeasure {
		rm.measureDocSize()
		if s.measured+n <= limit {
			return nil
		}
	}
	return protocol.NewError(protocol.CodeTooLarge,
		"the edit would make the document larger than %d bytes (about %d now)", limit, s.measured+s.since)
}
