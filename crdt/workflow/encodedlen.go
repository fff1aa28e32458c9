package workflow

import "github.com/flowsync/flowsync/crdt/msgpackx"

// encodedLen returns len(d.Encode()) without encoding: the same walk as
// AppendEncode, adding up the sizes of what it would write. EncodeChunks
// needs the whole encoding only when d fits one chunk; a larger document
// (every cold join's catch-up) is measured instead of encoded twice.
func (d *Doc) encodedLen() int {
	tids, tbs := d.encodedTexts()
	elems := 3
	if len(tids) > 0 {
		elems = 4
	}
	replicas := d.ctx.Replicas()
	n := 1 + msgpackx.ArrayHeaderSize(elems) + 2*msgpackx.ArrayHeaderSize(len(replicas))
	for i, r := range replicas {
		n += msgpackx.StringSize(len(r))
		rs := d.ctx.Ranges(r)
		n += msgpackx.ArrayHeaderSize(2) + msgpackx.UintSize(uint64(i)) + msgpackx.ArrayHeaderSize(2*len(rs))
		prev := uint64(0)
		for j, rg := range rs {
			if j == 0 {
				n += msgpackx.UintSize(rg.Lo)
			} else {
				n += msgpackx.UintSize(rg.Lo - prev - 2)
			}
			n += msgpackx.UintSize(rg.Hi - rg.Lo)
			prev = rg.Hi
		}
	}
	index := make(map[string]int, len(replicas))
	for i, r := range replicas {
		index[string(r)] = i
	}
	// Most entries share their replica with the previous one; skip the map.
	last, lastSize := "", 0
	ridxSize := func(r string) int {
		if r != last {
			last, lastSize = r, msgpackx.UintSize(uint64(index[r]))
		}
		return lastSize
	}
	groups := kindRuns(&d.store)
	n += msgpackx.ArrayHeaderSize(len(groups))
	for _, g := range groups {
		n += msgpackx.ArrayHeaderSize(3) + msgpackx.UintSize(uint64(g.kind)) + msgpackx.StringSize(len(g.id))
		values := 0
		for _, s := range g.slots {
			values += len(s.es)
			for _, e := range s.es {
				n += msgpackx.ArrayHeaderSize(6) + msgpackx.StringSize(len(s.sub)) +
					ridxSize(string(e.Dot.Replica)) + msgpackx.UintSize(e.Dot.Counter) +
					msgpackx.IntSize(e.Value.Wall) + msgpackx.UintSize(uint64(e.Value.Logical)) + max(len(e.Value.Value), 1)
			}
		}
		n += msgpackx.ArrayHeaderSize(values)
	}
	if len(tids) > 0 {
		n += msgpackx.ArrayHeaderSize(len(tids))
		for i, m := range tids {
			n += msgpackx.ArrayHeaderSize(3) + msgpackx.StringSize(len(m.Replica)) + msgpackx.UintSize(m.Counter) + msgpackx.BytesSize(len(tbs[i]))
		}
	}
	return n
}
