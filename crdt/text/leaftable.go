package text

// leafTable maps every local version to the number of the leaf holding its
// item. It is a list of chunks of up to leafChunk entries rather than one
// slice: a long history appends hundreds of thousands of entries, and one
// slice would be copied on every growth (a quarter more each time past a
// few hundred entries, several times the final size in all); a chunk is
// copied only while it is the last one and not full. A small text (a
// prompt field) holds one small chunk. The entries hold no pointers, so the
// garbage collector does not scan them.
type leafTable struct {
	chunks [][]int32 // every chunk but the last holds leafChunk entries
	n      int       // entries in all
}

const (
	leafChunkBits = 14
	leafChunk     = 1 << leafChunkBits
)

// at returns the leaf number of item lv.
func (t *leafTable) at(lv int32) int32 {
	return t.chunks[lv>>leafChunkBits][lv&(leafChunk-1)]
}

// set records that items lo..hi-1 live in leaf id.
func (t *leafTable) set(lo, hi, id int32) {
	for lo < hi {
		c := t.chunks[lo>>leafChunkBits]
		end := min(hi, lo|(leafChunk-1)+1)
		f := c[lo&(leafChunk-1) : lo&(leafChunk-1)+end-lo]
		for i := range f {
			f[i] = id
		}
		lo = end
	}
}

// push appends n entries for the next local versions, all leaf id.
func (t *leafTable) push(n, id int32) {
	for n > 0 {
		k := len(t.chunks) - 1
		if k < 0 || len(t.chunks[k]) == leafChunk {
			t.chunks = append(t.chunks, nil)
			k++
		}
		c := t.chunks[k]
		m := min(int(n), leafChunk-len(c))
		start := len(c)
		if cap(c)-start < m {
			// Double, as append would, but never past a chunk.
			nc := make([]int32, start, min(leafChunk, max(2*cap(c), start+m, 16)))
			copy(nc, c)
			c = nc
		}
		c = c[:start+m]
		f := c[start:]
		for i := range f {
			f[i] = id
		}
		t.chunks[k] = c
		t.n += m
		n -= int32(m)
	}
}

// reset makes the table n entries long, every entry to be set.
func (t *leafTable) reset(n int) {
	t.chunks = t.chunks[:0]
	t.n = n
	for n > 0 {
		m := min(n, leafChunk)
		t.chunks = append(t.chunks, make([]int32, m))
		n -= m
	}
}
