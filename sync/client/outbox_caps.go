package client

import (
	"fmt"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// cutPastCapsLocked returns the stored outbox with every entry past the
// per-delta work caps (workflow.DeltaCaps) replaced by its chunks, in
// place and in order, each chunk a new entry with a fresh op id and
// directory sequence; or nil when no entry is past the caps. A directory
// written by a client that predates the caps can hold such an entry: the
// server refuses it with TOO_LARGE for good, so sending it as it is would
// lose the edit. The chunks commute, carry the entry's dots between them
// and are each admitted. Called while the directory opens (c.store.seq
// already at the stored maximum).
func (c *Client) cutPastCapsLocked(stored []*entry) ([]*entry, error) {
	past := false
	for _, e := range stored {
		if !withinCaps(e) {
			past = true
			break
		}
	}
	if !past {
		return nil, nil
	}
	out := make([]*entry, 0, len(stored)+1)
	for _, e := range stored {
		if withinCaps(e) {
			out = append(out, e)
			continue
		}
		for _, chunk := range e.delta.EncodeChunks(c.maxDeltaLocked()) {
			d, err := workflow.Decode(chunk, workflow.DocLimits)
			if err != nil {
				return nil, fmt.Errorf("client: a chunk of stored edit %s does not decode: %w", e.id, err)
			}
			out = append(out, &entry{id: c.nextOpIDLocked(), delta: d, enc: chunk, mine: intersect(e.mine, d.Context().Ranges(c.replica)), solo: e.solo})
		}
	}
	// The directory keeps the outbox in sequence order: renumber it all,
	// after everything stored, so the replacement keeps the edits' order.
	for _, e := range out {
		e.seq = c.nextSeqLocked()
	}
	return out, nil
}

// withinCaps reports whether the server admits e's delta as it is.
func withinCaps(e *entry) bool {
	return len(e.enc) <= workflow.DeltaCaps.SafeBytes() || e.delta.Counts().Within(workflow.DeltaCaps)
}

// intersect returns the counters in both a and b, two sorted lists of
// disjoint ranges.
func intersect(a, b []crdt.Range) []crdt.Range {
	var out []crdt.Range
	for i, j := 0, 0; i < len(a) && j < len(b); {
		lo, hi := max(a[i].Lo, b[j].Lo), min(a[i].Hi, b[j].Hi)
		if lo <= hi {
			out = append(out, crdt.Range{Lo: lo, Hi: hi})
		}
		if a[i].Hi < b[j].Hi {
			i++
		} else {
			j++
		}
	}
	return out
}
