package workflow

import (
	"cmp"
	"slices"

	"github.com/flowsync/flowsync/crdt"
)

// EncodeChunks encodes d as one or more chunks, each a valid delta of at
// most about limit encoded bytes, whose join, in any order, is d. It is how a
// large catch-up or anti-entropy answer travels in frames of bounded size.
// It returns nil for an empty d.
//
// A d that encodes within limit is one chunk, as is. Otherwise its entries
// are taken in key order and cut into runs (a run never splits one key's
// concurrent values); every chunk but the last carries its entries and a
// context of exactly their dots, and the last carries its entries and every
// other dot of d's context (which includes the dots of removals). No
// chunk's context holds the dot of another chunk's entry, so no chunk
// removes what another adds: the chunks commute with each other and with
// any other delta. A single key whose values exceed limit, or a very
// fragmented context, can make a chunk larger than limit; callers bound
// frames separately (DeltaLimits).
func (d *Doc) EncodeChunks(limit int) [][]byte {
	chunks, _ := d.EncodeChunksSize(limit)
	return chunks
}

// EncodeChunksSize is EncodeChunks that also returns the length of d's
// whole encoding (Encode), which it computes anyway to decide whether d
// fits one chunk: a caller that needs both pays one encoding.
func (d *Doc) EncodeChunksSize(limit int) (chunks [][]byte, size int) {
	if d.IsEmpty() {
		return nil, len(d.Encode())
	}
	whole := d.Encode()
	if len(whole) <= limit {
		return [][]byte{whole}, len(whole)
	}
	type group struct {
		key     Key
		entries []crdt.Dotted[Cell]
		size    int
	}
	var groups []group
	d.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		size := 16 + len(k.ID)
		for _, e := range es {
			// sub, replica index, counter, wall, logical, headers and this
			// entry's share of the context: generous on purpose.
			size += 40 + len(k.Sub) + len(e.Value.Value)
		}
		groups = append(groups, group{key: k, entries: es, size: size})
		return true
	})
	slices.SortFunc(groups, func(a, b group) int {
		return cmp.Or(cmp.Compare(a.key.Kind, b.key.Kind), cmp.Compare(a.key.ID, b.key.ID), cmp.Compare(a.key.Sub, b.key.Sub))
	})
	overhead := 32 // the replica table, written in full in the worst case
	for _, r := range d.ctx.Replicas() {
		overhead += len(r) + 8
	}
	budget := max(limit-overhead, limit/2)

	var parts []*Doc
	cur, curSize := New(), 0
	// A chunk's dots, added to its context in order once it is complete: in
	// key order they are scattered, and adding each into the middle of the
	// ranges would cost a copy of the tail per dot.
	var dots []crdt.Dot
	seal := func() {
		slices.SortFunc(dots, func(a, b crdt.Dot) int {
			return cmp.Or(cmp.Compare(a.Replica, b.Replica), cmp.Compare(a.Counter, b.Counter))
		})
		for _, d := range dots {
			cur.ctx.Add(d)
		}
		dots = dots[:0]
	}
	for _, g := range groups {
		if curSize > 0 && curSize+g.size > budget {
			seal()
			parts = append(parts, cur)
			cur, curSize = New(), 0
		}
		for _, e := range g.entries {
			cur.store.Put(g.key, e.Dot, e.Value)
			dots = append(dots, e.Dot)
		}
		curSize += g.size
	}
	seal()
	earlier := crdt.NewContext()
	for _, c := range parts {
		earlier.Merge(&c.ctx)
	}
	cur.ctx.Merge(d.ctx.Missing(earlier))
	parts = append(parts, cur)

	out := make([][]byte, len(parts))
	for i, c := range parts {
		out[i] = c.Encode()
	}
	return out, len(whole)
}
