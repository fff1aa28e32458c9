package workflow

import "github.com/flowsync/flowsync/crdt"

// Latest returns the greatest hybrid timestamp among d's values, the zero
// Timestamp when it holds none. A replica's clock observes it after merging
// d, so that its next edits order after everything it has seen (which the
// atomic-record rule relies on: an edit stamped before the add of what it
// edits would read as part of an earlier record).
func (d *Doc) Latest() crdt.Timestamp {
	var latest crdt.Timestamp
	d.store.Range(func(_ Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			if ts := e.Value.Stamp(e.Dot); ts.Compare(latest) > 0 {
				latest = ts
			}
		}
		return true
	})
	return latest
}
