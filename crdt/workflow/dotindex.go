package workflow

// dotIndex maps each held dot to the slot that holds its value, per
// interned replica. A replica's counters are mostly contiguous (it numbers
// its writes 1, 2, 3, ...), so where they are dense enough its dots live in
// an array indexed by counter: one memory access, no hashing. The others,
// and a replica whose held counters have thinned out, use a map keyed by
// counter (Go's fast 64-bit-key path).
type dotIndex struct {
	byReplica []replicaDots
}

// replicaDots are one replica's held dots. No counter is in both dense
// and sparse.
type replicaDots struct {
	base   uint64  // counter of dense[0]
	dense  []*slot // dense[c-base], nil where c is not held
	live   int     // non-nil entries of dense
	sparse map[uint64]*slot
}

// denseMin is the size below which a dense array is never given up, and
// sparsest the fewest live entries per array entry it keeps (1/4): past
// that a map costs less memory. A removal that leaves the array sparser
// moves thinChunk of its entries, from its front, to the map (thin): the
// array shrinks while removals go on, and no single removal pays for the
// whole array (a stepped removal of a large container would otherwise pay
// for 250,000 entries in one step). At 1/4 live and thinChunk ≥ sparsest,
// the array is gone before the removals that could empty it are done.
const (
	denseMin  = 256
	sparsest  = 4
	thinChunk = 16
)

func (x *dotIndex) replica(r uint32) *replicaDots {
	for int(r) >= len(x.byReplica) {
		x.byReplica = append(x.byReplica, replicaDots{})
	}
	return &x.byReplica[r]
}

func (x *dotIndex) get(rd rdot) *slot {
	if int(rd.r) >= len(x.byReplica) {
		return nil
	}
	rs := &x.byReplica[rd.r]
	if i := rd.c - rs.base; i < uint64(len(rs.dense)) {
		return rs.dense[i]
	}
	return rs.sparse[rd.c]
}

// set points rd at s and reports whether rd was not in the index before.
func (x *dotIndex) set(rd rdot, s *slot) bool {
	rs := x.replica(rd.r)
	c := rd.c
	if i := c - rs.base; i < uint64(len(rs.dense)) {
		old := rs.dense[i]
		rs.dense[i] = s
		if old == nil {
			rs.live++
			return true
		}
		return false
	}
	if len(rs.sparse) == 0 {
		// Grow the array to c when c lies just past its end (a replica's
		// next write), or start one.
		end := rs.base + uint64(len(rs.dense))
		switch {
		case len(rs.dense) == 0 && rs.live == 0:
			rs.base, rs.dense = c, append(rs.dense[:0], s)
			rs.live = 1
			return true
		case c >= end && c-end < uint64(max(64, len(rs.dense)/2)):
			for end < c {
				rs.dense = append(rs.dense, nil)
				end++
			}
			rs.dense = append(rs.dense, s)
			rs.live++
			return true
		}
	}
	if rs.sparse == nil {
		rs.sparse = make(map[uint64]*slot)
	}
	n := len(rs.sparse)
	rs.sparse[c] = s
	return len(rs.sparse) > n
}

func (x *dotIndex) del(rd rdot) {
	if int(rd.r) >= len(x.byReplica) {
		return
	}
	rs := &x.byReplica[rd.r]
	if i := rd.c - rs.base; i < uint64(len(rs.dense)) {
		if rs.dense[i] != nil {
			rs.dense[i] = nil
			rs.live--
			rs.thin(thinChunk)
		}
		return
	}
	if _, ok := rs.sparse[rd.c]; ok {
		delete(rs.sparse, rd.c)
		rs.thin(thinChunk)
	}
}

// thin moves up to n entries from the front of the array to the map while
// the array is mostly empty. Moving from the front keeps the array a window
// [base, base+len) with every counter outside it in the map.
func (rs *replicaDots) thin(n int) {
	if len(rs.dense) <= denseMin || rs.live*sparsest >= len(rs.dense) {
		return
	}
	n = min(n, len(rs.dense))
	for i, s := range rs.dense[:n] {
		if s != nil {
			if rs.sparse == nil {
				rs.sparse = make(map[uint64]*slot)
			}
			rs.sparse[rs.base+uint64(i)] = s
			rs.dense[i] = nil // a walk over the old window (each) must not see it there too
			rs.live--
		}
	}
	if n == len(rs.dense) {
		rs.base, rs.dense = 0, nil
		return
	}
	rs.base, rs.dense = rs.base+uint64(n), rs.dense[n:]
}

// each calls fn with every dot and its slot, in no particular order. fn
// may delete the dot it is given; it may then be called again for a dot it
// kept (thinning moved it from the array to the map).
func (x *dotIndex) each(fn func(rdot, *slot)) {
	for r := range x.byReplica {
		rs := &x.byReplica[r]
		dense, base := rs.dense, rs.base // del may give the array up
		for i, s := range dense {
			if s != nil {
				fn(rdot{uint32(r), base + uint64(i)}, s)
			}
		}
		for c, s := range rs.sparse {
			fn(rdot{uint32(r), c}, s)
		}
	}
}

// reserveDense gives replica r an empty array for counters lo..hi, for a
// decoder that knows the replica's range and that most of it is held.
func (x *dotIndex) reserveDense(r uint32, lo, hi uint64) {
	rs := x.replica(r)
	rs.base, rs.dense = lo, make([]*slot, hi-lo+1)
}

// settle gives up the arrays a decoder reserved that came out sparse.
func (x *dotIndex) settle() {
	for r := range x.byReplica {
		rs := &x.byReplica[r]
		rs.thin(len(rs.dense))
	}
}

// cloneShape returns an index to be filled with the same dots (the arrays sized,
// the maps presized, all empty).
func (x *dotIndex) cloneShape() dotIndex {
	out := dotIndex{byReplica: make([]replicaDots, len(x.byReplica))}
	for r, rs := range x.byReplica {
		o := &out.byReplica[r]
		if len(rs.dense) > 0 {
			o.base, o.dense = rs.base, make([]*slot, len(rs.dense))
		}
		if len(rs.sparse) > 0 {
			o.sparse = make(map[uint64]*slot, len(rs.sparse))
		}
	}
	return out
}
