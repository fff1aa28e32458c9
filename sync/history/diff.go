package history

import (
	"encoding/json"
	"hash/fnv"
	"maps"
	"slices"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
)

// Fingerprint is a view reduced to one hash per block, edge and variable:
// enough to tell added, removed and changed apart at a few words per item,
// so the manager keeps one per workflow between checkpoints instead of a
// whole view.
type Fingerprint struct {
	Blocks, Edges, Variables map[string]uint64
}

func hashJSON(v any) uint64 {
	h := fnv.New64a()
	// Every view type marshals (the admin API serves them); an error would
	// only make two different items hash alike, counting a change as none.
	_ = json.NewEncoder(h).Encode(v)
	return h.Sum64()
}

// FingerprintOf returns v's fingerprint. A block's hash covers all of it
// (name, position, sub-blocks, data), so a moved block counts as changed.
func FingerprintOf(v *workflow.View) *Fingerprint {
	f := &Fingerprint{
		Blocks:    make(map[string]uint64, len(v.Blocks)),
		Edges:     make(map[string]uint64, len(v.Edges)),
		Variables: make(map[string]uint64, len(v.Variables)),
	}
	for id, b := range v.Blocks {
		f.Blocks[id] = hashJSON(b)
	}
	for _, e := range v.Edges {
		f.Edges[e.ID] = hashJSON(e)
	}
	for id, x := range v.Variables {
		f.Variables[id] = hashJSON(x)
	}
	return f
}

// IDs are the ids of one kind of thing that a change added, removed and
// changed, each sorted.
type IDs struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
	Changed []string `json:"changed"`
}

// Counts returns how many ids each list holds.
func (d IDs) Counts() storage.ChangeCounts {
	return storage.ChangeCounts{Added: len(d.Added), Removed: len(d.Removed), Changed: len(d.Changed)}
}

// Diff is what changed between two states of a workflow.
type Diff struct {
	Blocks    IDs `json:"blocks"`
	Edges     IDs `json:"edges"`
	Variables IDs `json:"variables"`
}

// Empty reports whether nothing changed.
func (d Diff) Empty() bool {
	for _, x := range []IDs{d.Blocks, d.Edges, d.Variables} {
		if len(x.Added)+len(x.Removed)+len(x.Changed) > 0 {
			return false
		}
	}
	return true
}

func diffIDs(before, after map[string]uint64) IDs {
	d := IDs{Added: []string{}, Removed: []string{}, Changed: []string{}}
	for _, id := range slices.Sorted(maps.Keys(after)) {
		old, ok := before[id]
		switch {
		case !ok:
			d.Added = append(d.Added, id)
		case old != after[id]:
			d.Changed = append(d.Changed, id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(before)) {
		if _, ok := after[id]; !ok {
			d.Removed = append(d.Removed, id)
		}
	}
	return d
}

// Compare returns what changed from before to after.
func Compare(before, after *Fingerprint) Diff {
	return Diff{
		Blocks:    diffIDs(before.Blocks, after.Blocks),
		Edges:     diffIDs(before.Edges, after.Edges),
		Variables: diffIDs(before.Variables, after.Variables),
	}
}

// Summarize returns the checkpoint summary of after against before (nil:
// no earlier checkpoint, only totals).
func Summarize(before, after *Fingerprint) storage.CheckpointSummary {
	s := storage.CheckpointSummary{Totals: storage.ChangeTotals{Blocks: len(after.Blocks), Edges: len(after.Edges), Variables: len(after.Variables)}}
	if before == nil {
		return s
	}
	d := Compare(before, after)
	s.Baseline = true
	s.Blocks, s.Edges, s.Variables = d.Blocks.Counts(), d.Edges.Counts(), d.Variables.Counts()
	return s
}
