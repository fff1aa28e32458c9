package rooms

import (
	"cmp"
	"slices"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// splitCatchUp encodes delta (what a joining client lacks) as one or more
// chunks, each a valid delta of at most about max encoded bytes, whose join,
// in any order, is delta:
//
//   - a delta that encodes within max is one chunk, as is;
//   - otherwise its entries are taken in key order and cut into runs of at
//     most max bytes (a run never splits one key's concurrent values).
//     Chunks 0..n-2 carry their entries and a context of exactly those
//     entries' dots; the last chunk carries its entries and the rest of the
//     delta's context: every dot of the delta except the entries of the
//     earlier chunks (which includes the dots of removals).
//
// Because no chunk's context holds the dot of an entry in another chunk, a
// chunk never removes what another chunk adds, so the chunks commute with
// each other and with any other delta, and their join equals the delta.
// A single key whose values exceed max, or a last chunk with a very
// fragmented context, can make a chunk larger than max; the frame limit of
// the client is the real bound (workflow.DeltaLimits, 1 MiB).
//
// It returns nil for an empty delta (nothing to catch up).
func splitCatchUp(delta *workflow.Doc, max int) [][]byte {
	if delta.IsEmpty() {
		return nil
	}
	whole := delta.Encode()
	if len(whole) <= max {
		return [][]byte{whole}
	}

	type group struct {
		key     workflow.Key
		entries []crdt.Dotted[workflow.Cell]
		size    int
	}
	var groups []group
	delta.Store().Range(func(k workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		size := 0
		for _, e := range es {
			// sub, replica index, counter, wall, logical, array header,
			// plus this entry's share of the context: generous on purpose.
			size += 40 + len(k.Sub) + len(e.Value.Value)
		}
		groups = append(groups, group{key: k, entries: es, size: size + 16 + len(k.ID)})
		return true
	})
	slices.SortFunc(groups, func(a, b group) int {
		return cmp.Or(cmp.Compare(a.key.Kind, b.key.Kind), cmp.Compare(a.key.ID, b.key.ID), cmp.Compare(a.key.Sub, b.key.Sub))
	})

	// The replica table is written in full in the worst case.
	overhead := 32
	for _, r := range delta.Context().Replicas() {
		overhead += len(r) + 8
	}
	budget := max - overhead
	if budget < max/2 {
		budget = max / 2
	}

	var chunks []*workflow.Doc
	cur, curSize := workflow.New(), 0
	for _, g := range groups {
		if curSize > 0 && curSize+g.size > budget {
			chunks = append(chunks, cur)
			cur, curSize = workflow.New(), 0
		}
		for _, e := range g.entries {
			cur.Store().Put(g.key, e.Dot, e.Value)
			cur.Context().Add(e.Dot)
		}
		curSize += g.size
	}
	// The last chunk: its entries plus every dot of the delta that is not
	// an entry of an earlier chunk.
	earlier := crdt.NewContext()
	for _, c := range chunks {
		earlier.Merge(c.Context())
	}
	cur.Context().Merge(delta.Context().Missing(earlier))
	chunks = append(chunks, cur)

	out := make([][]byte, len(chunks))
	for i, c := range chunks {
		out[i] = c.Encode()
	}
	return out
}
