package webhook

import (
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/history"
)

// Counts is what changed of one kind of thing between two events.
type Counts struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Changed int `json:"changed"`
}

// Totals is how many of each the workflow holds after the change.
type Totals struct {
	Blocks    int `json:"blocks"`
	Edges     int `json:"edges"`
	Variables int `json:"variables"`
}

// Summary is what changed since the previous change event of the same
// workflow from this node. Baseline is false when that event is not known
// (the first event after a start, or one evicted from the bounded cache):
// then only Totals is meaningful.
type Summary struct {
	Baseline  bool   `json:"baseline"`
	Blocks    Counts `json:"blocks"`
	Edges     Counts `json:"edges"`
	Variables Counts `json:"variables"`
	Totals    Totals `json:"totals"`
}

// fingerprint is a view reduced to one hash per block, edge and variable
// (history's, so a change event and a checkpoint count changes alike).
type fingerprint = history.Fingerprint

func fingerprintOf(v *workflow.View) *fingerprint { return history.FingerprintOf(v) }

// summarize compares after with before (nil: no baseline).
func summarize(before, after *fingerprint) Summary {
	h := history.Summarize(before, after)
	counts := func(c storage.ChangeCounts) Counts {
		return Counts{Added: c.Added, Removed: c.Removed, Changed: c.Changed}
	}
	return Summary{
		Baseline: h.Baseline, Blocks: counts(h.Blocks), Edges: counts(h.Edges), Variables: counts(h.Variables),
		Totals: Totals{Blocks: h.Totals.Blocks, Edges: h.Totals.Edges, Variables: h.Totals.Variables},
	}
}
