package workflow

import (
	"errors"
	"fmt"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
)

// ErrInvalidText: a delta's text edit breaks the admission rules: it names a
// record the document does not know and does not create, or its runs are
// refused by text.Admit (another replica's dots, unknown origins, origins
// typing cannot produce, a known item changed, a delete of unknown items),
// which the error wraps.
var ErrInvalidText = errors.New("workflow: text edit refused")

// vetTexts holds the text records of delta, written by replica own, to the
// admission rules (Vet). A record whose marker d has seen removed is taken
// as is: merging drops its content, as every replica does.
func (d *Doc) vetTexts(delta *Doc, own crdt.ReplicaID) error {
	for _, m := range delta.textIDs() {
		if d.textRemoved(m) {
			continue
		}
		base, err := d.recordFor(delta, m)
		if err != nil {
			return err
		}
		td := delta.texts[m].since(nil)
		if err := base.Admit(&td, own); err != nil {
			return fmt.Errorf("%w: record %s:%d: %w", ErrInvalidText, m.Replica, m.Counter, err)
		}
		for i := range td.Runs {
			for _, piece := range base.Unknown(td.Runs[i]) {
				if dot, ok := seenIn(&d.ctx, piece.ID.Replica, piece.ID.Counter, piece.Last().Counter); ok {
					return fmt.Errorf("%w: dot %s:%d", ErrForgedContent, dot.Replica, dot.Counter)
				}
			}
		}
	}
	return nil
}

// recordFor returns the text that record m of delta edits: the one d holds,
// or an empty one when the delta itself writes m's marker.
func (d *Doc) recordFor(delta *Doc, m crdt.Dot) (*text.Text, error) {
	if k, ok := d.store.KeyOf(m); ok {
		if c, _ := d.cellAt(k, m); !c.Value.isTextMarker() {
			return nil, fmt.Errorf("%w: record %s:%d names a value that is not a text", ErrInvalidText, m.Replica, m.Counter)
		}
		if r := d.texts[m]; r != nil {
			return r.t, nil
		}
		return text.New(), nil
	}
	if k, ok := delta.store.KeyOf(m); ok && !d.ctx.Contains(m) {
		if c, _ := delta.cellAt(k, m); c.Value.isTextMarker() {
			return text.New(), nil
		}
	}
	return nil, fmt.Errorf("%w: record %s:%d is unknown", ErrInvalidText, m.Replica, m.Counter)
}

// seenIn returns a dot of replica's counters lo..hi that c holds.
func seenIn(c *crdt.Context, replica crdt.ReplicaID, lo, hi uint64) (crdt.Dot, bool) {
	for _, rg := range c.Ranges(replica) {
		if rg.Hi < lo {
			continue
		}
		if rg.Lo > hi {
			break
		}
		return crdt.Dot{Replica: replica, Counter: max(lo, rg.Lo)}, true
	}
	return crdt.Dot{}, false
}
