package workflow

import (
	"cmp"
	"slices"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// EncodeChunks encodes d as one or more chunks, each a valid delta of at
// most about limit encoded bytes and within DeltaCaps, whose join, in any
// order, is d. It is how a large edit, catch-up or anti-entropy answer
// travels in frames that a receiver admits. It returns nil for an empty d.
//
// A d that encodes within limit and DeltaCaps is one chunk, as is.
// Otherwise its entries are taken in key order and cut into runs, each
// carrying its entries and a context of exactly their dots; a run never
// splits one key's concurrent values unless they alone pass a cap (which no
// honest document does: a replica holds one value per key). Every other
// dot of d's context (which includes the dots of removals) follows, replica
// by replica, in the last run and then, as the caps and limit require, in
// context-only chunks. No chunk's context holds the dot of another chunk's
// entry, so no chunk removes what another adds: the chunks commute with
// each other and with any other delta. A single value larger than limit,
// or with more nodes than DeltaCaps.MaxValueNodes, makes a chunk that
// breaks them; callers bound frames separately (DeltaLimits).
func (d *Doc) EncodeChunks(limit int) [][]byte {
	return d.EncodeChunksCapped(limit, DeltaCaps)
}

// EncodeChunksSize is EncodeChunks that also returns the length of d's
// whole encoding (Encode), which it measures anyway to decide whether d
// fits one chunk (without encoding d when it does not).
func (d *Doc) EncodeChunksSize(limit int) (chunks [][]byte, size int) {
	return d.encodeChunks(limit, DeltaCaps)
}

// EncodeChunksCapped is EncodeChunks cutting by caps instead of DeltaCaps
// (a zero field is no cap).
func (d *Doc) EncodeChunksCapped(limit int, caps Caps) [][]byte {
	chunks, _ := d.encodeChunks(limit, caps)
	return chunks
}

// encodeChunks is EncodeChunksCapped, and the length of d's whole encoding.
func (d *Doc) encodeChunks(limit int, caps Caps) ([][]byte, int) {
	if d.IsEmpty() {
		return nil, len(d.Encode())
	}
	caps = caps.resolved(DocLimits)
	size := d.encodedLen()
	if size <= limit && d.Counts().Within(caps) {
		return [][]byte{d.Encode()}, size
	}
	type group struct {
		key     Key
		entries []crdt.Dotted[Cell]
		size    int
	}
	// The keys in key order, (kind, id, sub): the encoding's order, which
	// the store walks without sorting (kindRuns). The values' slices are
	// read here only, while d does not change, so they are not handed out.
	groups := make([]group, 0, d.store.Len())
	for _, kg := range kindRuns(&d.store) {
		for _, sl := range kg.slots {
			size := 16 + len(kg.id)
			for _, e := range sl.es {
				// sub, replica index, counter, wall, logical, headers and
				// this entry's share of the context: generous on purpose.
				size += 40 + len(sl.sub) + len(e.Value.Value)
			}
			groups = append(groups, group{key: Key{kg.kind, kg.id, sl.sub}, entries: sl.es, size: size})
		}
	}
	overhead := 32 // the replica table, written in full in the worst case
	for _, r := range d.ctx.Replicas() {
		overhead += len(r) + 8
	}
	budget := max(limit-overhead, limit/2)
	// A run's context is its dots, a range each at most.
	maxEntries := min(caps.MaxValues, caps.MaxRanges)

	var chunks []*chunk
	// The chunks' keys, one list for all (a key is split across chunks
	// only when its values alone pass a cap).
	keys := make([]chunkKey, 0, len(groups)+64)
	cur, curSize, curNodes := &chunk{keys: &keys}, 0, 0
	curReplicas := map[crdt.ReplicaID]bool{}
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
	next := func() {
		seal()
		chunks = append(chunks, cur)
		cur, curSize, curNodes = &chunk{keys: &keys, from: len(keys), to: len(keys)}, 0, 0
		clear(curReplicas)
	}
	nodes := make([]int, 0, 16)
	for _, g := range groups {
		nodes = nodes[:0]
		gNodes, gReplicas := 0, 0
		var seen map[crdt.ReplicaID]bool // concurrent values only
		if len(g.entries) > 1 {
			seen = make(map[crdt.ReplicaID]bool, len(g.entries))
		}
		for _, e := range g.entries {
			n := valueNodes(e.Value.Value)
			nodes = append(nodes, n)
			gNodes += n
			if !curReplicas[e.Dot.Replica] && !seen[e.Dot.Replica] {
				gReplicas++
				if seen != nil {
					seen[e.Dot.Replica] = true
				}
			}
		}
		if n := cur.values; n > 0 && (curSize+g.size > budget || n+len(g.entries) > maxEntries ||
			curNodes+gNodes > caps.MaxValueNodes || len(curReplicas)+gReplicas > caps.MaxReplicas) {
			next()
		}
		for i, e := range g.entries {
			// Only a key whose values alone pass a cap gets here full.
			if n := cur.values; n > 0 && (n+1 > maxEntries || curNodes+nodes[i] > caps.MaxValueNodes ||
				!curReplicas[e.Dot.Replica] && len(curReplicas)+1 > caps.MaxReplicas) {
				next()
			}
			cur.add(g.key, g.entries, i)
			dots = append(dots, e.Dot)
			curNodes += nodes[i]
			curReplicas[e.Dot.Replica] = true
		}
		curSize += g.size
	}
	seal()
	// Text items travel with their records, in chunks of their own after
	// the others (so that a record's marker arrives first).
	textChunks, items := d.textChunks(limit, caps)
	// One union, not a merge per chunk: the chunks' dots follow key order,
	// not counter order, so their ranges interleave (crdt.Union).
	held := make([]*crdt.Context, 0, len(chunks)+1+len(items))
	for _, c := range chunks {
		held = append(held, &c.ctx)
	}
	held = append(append(held, &cur.ctx), items...)
	rest := d.ctx.Missing(crdt.Union(held...))

	// The rest of the context joins the last run, and context-only chunks
	// after it, as the caps and the limit allow. The replica table is in
	// the budget already; allow bounds the bytes of the ranges.
	leftRanges := caps.MaxRanges - cur.ctx.NumRanges()
	leftReplicas := caps.MaxReplicas - cur.ctx.NumReplicas()
	allow, used := max(budget-curSize, limit/4), 0
	for _, r := range rest.Replicas() {
		rs := rest.Ranges(r)
		from, prev := 0, uint64(0)
		named := len(cur.ctx.Ranges(r)) > 0
		for i, rg := range rs {
			cost := uintLen(rg.Lo-prev) + uintLen(rg.Hi-rg.Lo)
			prev = rg.Hi
			if !named && leftReplicas < 1 || leftRanges < 1 || used > 0 && used+cost > allow {
				cur.ctx.AddRanges(r, slices.Clone(rs[from:i]))
				chunks = append(chunks, cur)
				cur, from, named = &chunk{keys: &keys, from: len(keys), to: len(keys)}, i, false
				leftRanges, leftReplicas, allow, used = caps.MaxRanges, caps.MaxReplicas, budget, 0
			}
			if !named {
				named = true
				leftReplicas--
			}
			leftRanges--
			used += cost
		}
		cur.ctx.AddRanges(r, slices.Clone(rs[from:]))
	}
	chunks = append(chunks, cur)

	out := make([][]byte, len(chunks), len(chunks)+len(textChunks))
	for i, c := range chunks {
		out[i] = c.encode()
	}
	return append(out, textChunks...), size
}

// chunk is one chunk of encodeChunks: its keys' values, in key order
// ((*keys)[from:to]), and its context. It is encoded as the document
// holding exactly these would be (Encode), without building that document.
type chunk struct {
	ctx      crdt.Context
	keys     *[]chunkKey // shared by the chunks, filled one chunk after another
	from, to int
	values   int
}

// chunkKey is a run of one key's values, es[lo:hi].
type chunkKey struct {
	key    Key
	es     []crdt.Dotted[Cell]
	lo, hi int
}

// add adds es[i], a value of key k, to c: k follows every key of c, or
// es[i-1] is c's last value.
func (c *chunk) add(k Key, es []crdt.Dotted[Cell], i int) {
	if c.to > c.from && (*c.keys)[c.to-1].key == k {
		(*c.keys)[c.to-1].hi = i + 1
	} else {
		*c.keys = append(*c.keys, chunkKey{k, es, i, i + 1})
		c.to = len(*c.keys)
	}
	c.values++
}

// encode returns c's canonical encoding: that of a document holding c's
// values under c's context (see Doc.AppendEncode, whose layout this
// follows; TestChunksEncodeAsDocuments holds the two to the same bytes).
func (c *chunk) encode() []byte {
	keys := (*c.keys)[c.from:c.to]
	size := 64
	for _, k := range keys {
		for _, e := range k.es[k.lo:k.hi] {
			size += 32 + len(k.key.Sub) + len(e.Value.Value)
		}
	}
	b, replicaIndex := appendHead(make([]byte, 0, size), &c.ctx, 3)
	groups := 0
	for i, k := range keys {
		if i == 0 || k.key.Kind != keys[i-1].key.Kind || k.key.ID != keys[i-1].key.ID {
			groups++
		}
	}
	b = msgpackx.AppendArrayHeader(b, groups)
	for i := 0; i < len(keys); {
		first := keys[i].key
		j, n := i, 0
		for ; j < len(keys) && keys[j].key.Kind == first.Kind && keys[j].key.ID == first.ID; j++ {
			n += keys[j].hi - keys[j].lo
		}
		b = msgpackx.AppendArrayHeader(b, 3)
		b = msgpackx.AppendUint(b, uint64(first.Kind))
		b = msgpackx.AppendString(b, first.ID)
		b = msgpackx.AppendArrayHeader(b, n)
		for _, k := range keys[i:j] {
			for _, e := range k.es[k.lo:k.hi] {
				b = appendEntry(b, k.key.Sub, replicaIndex(e.Dot.Replica), e)
			}
		}
		i = j
	}
	return b
}

// uintLen is the length of n's shortest msgpack unsigned form.
func uintLen(n uint64) int {
	switch {
	case n < 1<<7:
		return 1
	case n < 1<<8:
		return 2
	case n < 1<<16:
		return 3
	case n < 1<<32:
		return 5
	}
	return 9
}
