package workflow

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

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
		var wait []text.Run
		if r := d.texts[m]; r != nil {
			wait = r.wait
		}
		for i := range td.Runs {
			for _, piece := range base.Unknown(td.Runs[i]) {
				if dot, ok := d.forgedItem(wait, piece); ok {
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

// forgedItem returns an item of piece, a run the record's text does not
// know, whose dot d has seen and that is not one of the record's waiting
// items as piece has it: content under a dot d has seen spent otherwise.
func (d *Doc) forgedItem(wait []text.Run, piece text.Run) (crdt.Dot, bool) {
	lo, hi := piece.ID.Counter, piece.Last().Counter
	rs := d.ctx.Ranges(piece.ID.Replica)
	for _, rg := range rs[sortSearchRanges(rs, lo):] {
		if rg.Lo > hi {
			break
		}
		if a, b := max(lo, rg.Lo), min(hi, rg.Hi); !waitHolds(wait, text.CutRun(piece, a, b)) {
			return crdt.Dot{Replica: piece.ID.Replica, Counter: a}, true
		}
	}
	return crdt.Dot{}, false
}

// waitHolds reports whether the waiting runs of a record (sorted by dot,
// disjoint) hold every item of piece with piece's origins and text: the
// document has seen those items, but their origins have not arrived, so
// its text does not know them yet. A re-send of them is honest (the author
// re-sends what it never saw acknowledged); other content under their dots
// is not.
func waitHolds(wait []text.Run, piece text.Run) bool {
	lo, hi := piece.ID.Counter, piece.Last().Counter
	i, _ := slices.BinarySearchFunc(wait, piece.ID, func(w text.Run, d crdt.Dot) int {
		if w.ID.Replica != d.Replica {
			return cmp.Compare(w.ID.Replica, d.Replica)
		}
		if w.Last().Counter < d.Counter {
			return -1
		}
		if w.ID.Counter > d.Counter {
			return 1
		}
		return 0
	})
	for c := lo; c <= hi; i++ {
		if i >= len(wait) {
			return false
		}
		w := wait[i]
		if w.ID.Replica != piece.ID.Replica || w.ID.Counter > c || w.Last().Counter < c {
			return false
		}
		end := min(hi, w.Last().Counter)
		a, b := text.CutRun(w, c, end), text.CutRun(piece, c, end)
		if a.Left != b.Left || a.Right != b.Right || (a.Text != "" && b.Text != "" && a.Text != b.Text) {
			return false
		}
		c = end + 1
	}
	return true
}
