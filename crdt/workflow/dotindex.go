package workflow

// dotIndex maps each held dot to the slot that holds its value: per
// interned replica, a map keyed by counter. A 64-bit key takes Go's fast
// map path (no generic hashing of a struct), and a store rarely has more
// than a handful of replicas with values, so the outer slice is small.
type dotIndex struct {
	byReplica []map[uint64]*slot
	// hint sizes a replica's map when it gets its first dot (Grow).
	hint int
}

func (x *dotIndex) get(rd rdot) *slot {
	if int(rd.r) < len(x.byReplica) {
		return x.byReplica[rd.r][rd.c]
	}
	return nil
}

// set points rd at s and reports whether rd was not in the index before.
func (x *dotIndex) set(rd rdot, s *slot) bool {
	for int(rd.r) >= len(x.byReplica) {
		x.byReplica = append(x.byReplica, nil)
	}
	m := x.byReplica[rd.r]
	if m == nil {
		m = make(map[uint64]*slot, x.hint)
		x.byReplica[rd.r] = m
	}
	n := len(m)
	m[rd.c] = s
	return len(m) > n
}

func (x *dotIndex) del(rd rdot) {
	if int(rd.r) < len(x.byReplica) {
		delete(x.byReplica[rd.r], rd.c)
	}
}

// each calls fn with every dot and its slot, in no particular order. fn
// may delete the dot it is given.
func (x *dotIndex) each(fn func(rdot, *slot)) {
	for r, m := range x.byReplica {
		for c, s := range m {
			fn(rdot{uint32(r), c}, s)
		}
	}
}
