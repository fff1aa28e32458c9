package cluster

import (
	"cmp"
	"slices"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// split encodes delta as one or more chunks of about limit encoded bytes at
// most, whose join, in any order, is delta. It returns nil for an empty
// delta.
//
// A delta that fits is one chunk. Otherwise its entries are taken in key
// order and cut into runs (a run never splits one key's concurrent
// values); every chunk but the last carries its entries and a context of
// exactly their dots, the last carries its entries and every other dot of
// the delta's context (the removals). No chunk's context holds the dot of
// another chunk's entry, so no chunk removes what another adds: the chunks
// commute with each other and with any other delta. A single key whose
// values exceed limit, or a very fragmented context, can make a chunk larger
// than max; the sender then counts an oversize bus error.
//
// This is the rule the rooms use to split a join's catch-up (splitCatchUp);
// it belongs in crdt/workflow once both callers settle.
func split(delta *workflow.Doc, limit int) [][]byte {
	if delta.IsEmpty() {
		return nil
	}
	whole := delta.Encode()
	if len(whole) <= limit {
		return [][]byte{whole}
	}
	type group struct {
		key     workflow.Key
		entries []crdt.Dotted[workflow.Cell]
		size    int
	}
	var groups []group
	delta.Store().Range(func(k workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		size := 16 + len(k.ID)
		for _, e := range es {
			// sub, replica index, counter, wall, logical, headers and
			// this entry's share of the context: generous on purpose.
			size += 40 + len(k.Sub) + len(e.Value.Value)
		}
		groups = append(groups, group{key: k, entries: es, size: size})
		return true
	})
	slices.SortFunc(groups, func(a, b group) int {
		return cmp.Or(cmp.Compare(a.key.Kind, b.key.Kind), cmp.Compare(a.key.ID, b.key.ID), cmp.Compare(a.key.Sub, b.key.Sub))
	})
	overhead := 32 // the replica table, written in full in the worst case
	for _, r := range delta.Context().Replicas() {
		overhead += len(r) + 8
	}
	budget := max(limit-overhead, limit/2)

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

// contextMessage encodes ctx as a digest or request payload: a workflow
// document with an empty store.
func contextMessage(ctx *crdt.Context) []byte {
	d := workflow.New()
	if ctx != nil {
		d.Context().Merge(ctx)
	}
	return d.Encode()
}

// maxWall returns the greatest HLC wall time among delta's writes (0 for
// none).
func maxWall(delta *workflow.Doc) int64 {
	var w int64
	delta.Store().Range(func(_ workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		for _, e := range es {
			w = max(w, e.Value.Wall)
		}
		return true
	})
	return w
}
