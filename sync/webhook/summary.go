package webhook

import (
	"encoding/json"
	"hash/fnv"

	"github.com/flowsync/flowsync/crdt/workflow"
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

// fingerprint is a view reduced to one hash per block, edge and variable:
// enough to tell added, removed and changed apart at a few words per item,
// instead of keeping whole views between events.
type fingerprint struct {
	blocks, edges, variables map[string]uint64
}

func hashJSON(v any) uint64 {
	h := fnv.New64a()
	// Every view type marshals (the admin API serves them); an error would
	// only make two different items hash alike, counting a change as none.
	_ = json.NewEncoder(h).Encode(v)
	return h.Sum64()
}

func fingerprintOf(v *workflow.View) *fingerprint {
	f := &fingerprint{
		blocks:    make(map[string]uint64, len(v.Blocks)),
		edges:     make(map[string]uint64, len(v.Edges)),
		variables: make(map[string]uint64, len(v.Variables)),
	}
	for id, b := range v.Blocks {
		f.blocks[id] = hashJSON(b)
	}
	for _, e := range v.Edges {
		f.edges[e.ID] = hashJSON(e)
	}
	for id, x := range v.Variables {
		f.variables[id] = hashJSON(x)
	}
	return f
}

func diffCounts(before, after map[string]uint64) Counts {
	var c Counts
	for id, h := range after {
		old, ok := before[id]
		switch {
		case !ok:
			c.Added++
		case old != h:
			c.Changed++
		}
	}
	for id := range before {
		if _, ok := after[id]; !ok {
			c.Removed++
		}
	}
	return c
}

// summarize compares after with before (nil: no baseline).
func summarize(before, after *fingerprint) Summary {
	s := Summary{Totals: Totals{Blocks: len(after.blocks), Edges: len(after.edges), Variables: len(after.variables)}}
	if before == nil {
		return s
	}
	s.Baseline = true
	s.Blocks = diffCounts(before.blocks, after.blocks)
	s.Edges = diffCounts(before.edges, after.edges)
	s.Variables = diffCounts(before.variables, after.variables)
	return s
}
