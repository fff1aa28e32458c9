package workflow

import "slices"

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
// that a map costs less memory, and giving the array up costs O(its size)
// after at least 3/4 of it emptied, so O(1) per removal.
const (
	denseMin = 256
	sparsest = 4
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
			rs.thin()
		}
		return
	}
	delete(rs.sparse, rd.c)
}

// thin moves the array's dots to the map once it is mostly empty.
func (rs *replicaDots) thin() {
	if len(rs.dense) <= denseMin || rs.live*sparsest >= len(rs.dense) {
		return
	}
	if rs.sparse == nil {
		rs.sparse = make(map[uint64]*slot, rs.live)
	}
	for i, s := range rs.dense {
		if s != nil {
			rs.sparse[rs.base+uint64(i)] = s
		}
	}
	rs.base, rs.dense, rs.live = 0, nil, 0
}

// each calls fn with every dot and its slot, in no particular order. fn
// may delete the dot it is given.
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
		x.byReplica[r].thin()
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

// heldFrom returns the least counter c' ≥ c, c' ≤ hi, that replica r may
// hold, or hi+1 when it holds none there; keys is a sorted copy of the
// replica's sparse counters (sparseKeys), which the caller keeps while the
// array's window is unchanged. It lets a walk over a context's ranges skip
// the counters nobody holds: a context range may span 2^53 counters.
func (x *dotIndex) heldFrom(r uint32, c, hi uint64, keys []uint64) uint64 {
	if int(r) >= len(x.byReplica) {
		return hi + 1
	}
	rs := &x.byReplica[r]
	end := rs.base + uint64(len(rs.dense))
	if c >= rs.base && c < end {
		return c
	}
	next := hi + 1
	if i, _ := slices.BinarySearch(keys, c); i < len(keys) {
		next = min(next, keys[i])
	}
	if len(rs.dense) > 0 && c < rs.base {
		next = min(next, rs.base)
	}
	return next
}

// sparseKeys returns replica r's sparse counters, sorted, and the array
// window (base, length) they were taken with: counters move from the array
// into the map only when the window is given up (thin), so the keys stay
// complete for counters held before as long as the window is the same.
func (x *dotIndex) sparseKeys(r uint32) (keys []uint64, base uint64, n int) {
	if int(r) >= len(x.byReplica) {
		return nil, 0, 0
	}
	rs := &x.byReplica[r]
	keys = make([]uint64, 0, len(rs.sparse))
	for c := range rs.sparse {
		keys = append(keys, c)
	}
	slices.Sort(keys)
	return keys, rs.base, len(rs.dense)
}

// window returns replica r's array window (base, length).
func (x *dotIndex) window(r uint32) (uint64, int) {
	if int(r) >= len(x.byReplica) {
		return 0, 0
	}
	rs := &x.byReplica[r]
	return rs.base, len(rs.dense)
}
