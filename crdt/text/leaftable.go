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
	// Every chunk is as long as its capacity; all but the last hold
	// leafChunk entries. Entry lv is chunks[lv>>leafChunkBits][lv&mask].
	chunks [][]int32
	n      int // entries in use
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
		fill(c[lo&(leafChunk-1):lo&(leafChunk-1)+end-lo], id)
		lo = end
	}
}

// push appends n entries for the next local versions, all leaf id. Typing
// finds room in the last chunk: the common case writes no pointer.
func (t *leafTable) push(n, id int32) {
	for n > 0 {
		k, off := t.n>>leafChunkBits, t.n&(leafChunk-1)
		if k == len(t.chunks) {
			t.chunks = append(t.chunks, make([]int32, min(leafChunk, max(16, int(n)))))
		}
		c := t.chunks[k]
		m := min(int(n), leafChunk-off)
		if off+m > len(c) {
			// Only the last chunk is short: double it, as append would,
			// but never past a chunk.
			nc := make([]int32, min(leafChunk, max(2*len(c), off+m)))
			copy(nc, c[:off])
			t.chunks[k], c = nc, nc
		}
		fill(c[off:off+m], id)
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

// fill sets every entry of f to id: a long run of items (a pasted
// paragraph, a loaded span) doubles a filled prefix with copy, which moves
// many entries per instruction.
func fill(f []int32, id int32) {
	if len(f) < 32 {
		for i := range f {
			f[i] = id
		}
		return
	}
	f[0] = id
	for done := 1; done < len(f); done *= 2 {
		copy(f[done:], f[:done])
	}
}
