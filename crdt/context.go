package crdt

import (
	"math"
	"slices"
	"sort"
)

// Range is an inclusive run of counters [Lo, Hi] of one replica, Lo ≥ 1.
type Range struct{ Lo, Hi uint64 }

// Context is a causal context: the set of dots a replica has seen. Per replica
// it keeps sorted, disjoint, non-adjacent ranges of counters; the first range,
// when it starts at 1, is the version-vector entry, and the others are the
// dots seen beyond that contiguous prefix. Keeping the dots beyond the prefix
// as ranges rather than one entry per dot is the compaction: adjacent dots
// coalesce as they arrive, so a context costs a few bytes per replica however
// many writes it covers.
//
// The zero Context is empty and ready to use.
type Context struct {
	ranges map[ReplicaID][]Range
}

// NewContext returns an empty context.
func NewContext() *Context { return &Context{} }

// Contains reports whether d has been seen.
func (c *Context) Contains(d Dot) bool {
	rs := c.ranges[d.Replica]
	switch len(rs) {
	case 0:
		return false
	case 1:
		return d.Counter >= rs[0].Lo && d.Counter <= rs[0].Hi
	}
	i := sort.Search(len(rs), func(i int) bool { return rs[i].Hi >= d.Counter })
	return i < len(rs) && rs[i].Lo <= d.Counter
}

// Add records d as seen.
func (c *Context) Add(d Dot) { c.AddRange(d.Replica, Range{d.Counter, d.Counter}) }

// AddRange records every dot of replica in r as seen. A range with Lo == 0 or
// Lo > Hi is ignored.
func (c *Context) AddRange(replica ReplicaID, r Range) {
	if r.Lo == 0 || r.Lo > r.Hi {
		return
	}
	if c.ranges == nil {
		c.ranges = make(map[ReplicaID][]Range)
	}
	rs := c.ranges[replica]
	if n := len(rs); n > 0 {
		last := &rs[n-1]
		switch {
		case r.Lo-1 > last.Hi: // beyond the end: the common case for fresh writes
			c.ranges[replica] = append(rs, r)
			return
		case r.Lo >= last.Lo: // touches or overlaps only the last range
			last.Hi = max(last.Hi, r.Hi)
			return
		}
	} else {
		c.ranges[replica] = append(rs, r)
		return
	}
	c.ranges[replica] = unionRange(rs, r)
}

// unionRange inserts r into the sorted set rs, coalescing what it touches.
// Comparisons subtract from a Lo (≥ 1) rather than add to a Hi, which may be
// MaxUint64.
func unionRange(rs []Range, r Range) []Range {
	// first range that ends at or after r.Lo-1 (may merge with r)
	i := sort.Search(len(rs), func(i int) bool { return rs[i].Hi >= r.Lo-1 })
	// first range that starts after r.Hi+1 (cannot merge)
	j := sort.Search(len(rs), func(j int) bool { return rs[j].Lo-1 > r.Hi })
	if i < j {
		r.Lo = min(r.Lo, rs[i].Lo)
		r.Hi = max(r.Hi, rs[j-1].Hi)
	}
	if countRangeWork != nil {
		countRangeWork(len(rs) - i) // the tail slices.Replace moves
	}
	return slices.Replace(rs, i, j, r)
}

// countRangeWork, when set (by tests only, never concurrently with a merge),
// is told how many ranges each step of a merge touched: the regression test
// for interleaved contexts bounds the total by the size of the input.
var countRangeWork func(ranges int)

// CountRangeWork makes every later context merge and insertion report the
// ranges it touched to fn, until the returned function is called. It is
// for tests of other packages that bound the context work of their own
// algorithms (a merge linear in its input); it must not be called while
// any context is being changed, and is never set outside tests.
func CountRangeWork(fn func(ranges int)) (stop func()) {
	countRangeWork = fn
	return func() { countRangeWork = nil }
}

// AddRanges records every dot of replica in rs, which must be sorted,
// disjoint and non-adjacent with 1 ≤ Lo ≤ Hi (what Ranges returns and
// decoders check). It costs what Merge does for one replica; c takes
// ownership of rs when it has no range of replica yet (a decoder's case).
func (c *Context) AddRanges(replica ReplicaID, rs []Range) {
	if len(rs) == 0 {
		return
	}
	if c.ranges == nil {
		c.ranges = make(map[ReplicaID][]Range)
	}
	if len(c.ranges[replica]) == 0 {
		c.ranges[replica] = rs
		return
	}
	c.ranges[replica] = mergeInto(c.ranges[replica], rs)
}

// Grow sizes an empty context for n replicas, so that decoding a context of
// known size does not rehash as it fills.
func (c *Context) Grow(n int) {
	if c.ranges == nil && n > 0 {
		c.ranges = make(map[ReplicaID][]Range, n)
	}
}

// RemoveReplica forgets every dot of replica.
func (c *Context) RemoveReplica(replica ReplicaID) { delete(c.ranges, replica) }

// Max returns the greatest counter seen from replica, 0 if none.
func (c *Context) Max(replica ReplicaID) uint64 {
	rs := c.ranges[replica]
	if len(rs) == 0 {
		return 0
	}
	return rs[len(rs)-1].Hi
}

// Prefix returns the version-vector entry of replica: the greatest n such that
// every counter 1..n has been seen.
func (c *Context) Prefix(replica ReplicaID) uint64 {
	rs := c.ranges[replica]
	if len(rs) == 0 || rs[0].Lo != 1 {
		return 0
	}
	return rs[0].Hi
}

// Ranges returns the ranges seen from replica, sorted. The slice belongs to c.
func (c *Context) Ranges(replica ReplicaID) []Range { return c.ranges[replica] }

// Replicas returns the replicas with at least one dot, sorted.
func (c *Context) Replicas() []ReplicaID {
	out := make([]ReplicaID, 0, len(c.ranges))
	for r, rs := range c.ranges {
		if len(rs) > 0 {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// EachReplica calls fn with every replica that has a dot in c and its
// ranges (sorted; they belong to c), in no order, without allocating: the
// document's merge calls it on every edit.
func (c *Context) EachReplica(fn func(replica ReplicaID, rs []Range)) {
	for r, rs := range c.ranges {
		if len(rs) > 0 {
			fn(r, rs)
		}
	}
}

// AppendMissing appends to dst the ranges of a that b lacks (a \ b, both
// sorted sets of one replica's ranges) and returns it. It costs a's ranges
// plus a binary search into b per range of a, so a handful of fresh dots
// is checked against a replica's long history without walking it.
func AppendMissing(dst, a, b []Range) []Range {
	for _, r := range a {
		// the first range of b that may overlap r
		j := sort.Search(len(b), func(j int) bool { return b[j].Hi >= r.Lo })
		lo, open := r.Lo, true // as in subtractRanges: r.Hi+1 may overflow
		for ; open && j < len(b) && b[j].Lo <= r.Hi; j++ {
			if b[j].Lo > lo {
				dst = append(dst, Range{lo, b[j].Lo - 1})
			}
			if b[j].Hi >= r.Hi {
				open = false
			} else {
				lo = b[j].Hi + 1
			}
		}
		if open {
			dst = append(dst, Range{lo, r.Hi})
		}
	}
	return dst
}

// NumReplicas returns how many replicas have at least one dot in c.
func (c *Context) NumReplicas() int {
	n := 0
	for _, rs := range c.ranges {
		if len(rs) > 0 {
			n++
		}
	}
	return n
}

// NumRanges returns the number of ranges over all replicas: the size of the
// context's encoding, give or take the replica ids.
func (c *Context) NumRanges() int {
	n := 0
	for _, rs := range c.ranges {
		n += len(rs)
	}
	return n
}

// Len returns the number of dots in c, saturating at MaxUint64 (a decoded
// context may claim any ranges; a wrapped count would make a huge context
// look small).
func (c *Context) Len() uint64 {
	var n uint64
	for _, rs := range c.ranges {
		for _, r := range rs {
			k := r.Hi - r.Lo + 1 // 0 only for [1, MaxUint64]: 2^64-1 dots wrap
			if k == 0 || n+k < n {
				return math.MaxUint64
			}
			n += k
		}
	}
	return n
}

// IsEmpty reports whether c holds no dot.
func (c *Context) IsEmpty() bool {
	for _, rs := range c.ranges {
		if len(rs) > 0 {
			return false
		}
	}
	return true
}

// ForEach calls fn for every dot in c until fn returns false. The order is
// unspecified. It is meant for small contexts (those of deltas): a context of
// a long-lived document covers millions of dots.
func (c *Context) ForEach(fn func(Dot) bool) {
	for replica, rs := range c.ranges {
		for _, r := range rs {
			for n := r.Lo; ; n++ {
				if !fn(Dot{replica, n}) {
					return
				}
				if n == r.Hi { // not n <= r.Hi: r.Hi may be MaxUint64
					break
				}
			}
		}
	}
}

// Merge adds every dot of o to c. Its cost is linear in the ranges of both:
// a replica whose new ranges all lie past c's last (every fresh write) costs
// an append, a handful of ranges is inserted one by one, and more are merged
// with c's in one pass, so a delta whose context interleaves with c's (dots
// 3, 5, 7, … into 2, 4, 6, …) cannot make the merge quadratic.
func (c *Context) Merge(o *Context) {
	for replica, ors := range o.ranges {
		if len(ors) == 0 {
			continue
		}
		if c.ranges == nil {
			c.ranges = make(map[ReplicaID][]Range, len(o.ranges))
		}
		rs := c.ranges[replica]
		if len(rs) == 0 {
			rs = slices.Clone(ors)
		} else {
			rs = mergeInto(rs, ors)
		}
		// One map write per replica, not per range: merging a delta is on
		// every edit's path.
		c.ranges[replica] = rs
	}
}

// mergeInto adds the sorted ranges ors to the non-empty sorted set rs and
// returns the set: an append when ors lies past rs's end (every fresh
// write), single inserts for a handful, else one linear pass.
func mergeInto(rs, ors []Range) []Range {
	switch {
	case ors[0].Lo-1 > rs[len(rs)-1].Hi:
		return append(rs, ors...)
	case len(ors) <= insertOneByOne:
		if countRangeWork != nil {
			countRangeWork(len(ors))
		}
		for _, r := range ors {
			rs = addRange(rs, r)
		}
		return rs
	}
	return unionRanges(rs, ors)
}

// insertOneByOne is how many ranges Merge inserts singly (a binary search
// and a copy of the tail each) before a single linear pass is cheaper.
const insertOneByOne = 4

// unionRanges returns the union of two sorted range sets in one pass over
// both, coalescing ranges that overlap or touch. Comparisons subtract from a
// Lo (≥ 1) rather than add to a Hi, which may be MaxUint64.
func unionRanges(a, b []Range) []Range {
	if countRangeWork != nil {
		countRangeWork(len(a) + len(b))
	}
	out := make([]Range, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var r Range
		if j == len(b) || (i < len(a) && a[i].Lo <= b[j].Lo) {
			r, i = a[i], i+1
		} else {
			r, j = b[j], j+1
		}
		if n := len(out); n > 0 && r.Lo-1 <= out[n-1].Hi {
			out[n-1].Hi = max(out[n-1].Hi, r.Hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// addRange adds a valid range to the sorted set rs.
func addRange(rs []Range, r Range) []Range {
	if n := len(rs); n > 0 {
		last := &rs[n-1]
		switch {
		case r.Lo-1 > last.Hi:
			return append(rs, r)
		case r.Lo >= last.Lo:
			last.Hi = max(last.Hi, r.Hi)
			return rs
		}
		return unionRange(rs, r)
	}
	return append(rs, r)
}

// Covers reports whether every dot of o is in c.
func (c *Context) Covers(o *Context) bool {
	for replica, ors := range o.ranges {
		rs := c.ranges[replica]
		for _, r := range ors {
			i := sort.Search(len(rs), func(i int) bool { return rs[i].Hi >= r.Lo })
			if i == len(rs) || rs[i].Lo > r.Lo || rs[i].Hi < r.Hi {
				return false
			}
		}
	}
	return true
}

// Equal reports whether c and o hold the same dots.
func (c *Context) Equal(o *Context) bool {
	if c.NumReplicas() != o.NumReplicas() {
		return false
	}
	for replica, rs := range c.ranges {
		if !slices.Equal(rs, o.ranges[replica]) {
			return false
		}
	}
	return true
}

// Clone returns a deep copy of c.
func (c *Context) Clone() *Context {
	out := &Context{}
	if len(c.ranges) == 0 {
		return out
	}
	out.ranges = make(map[ReplicaID][]Range, len(c.ranges))
	for replica, rs := range c.ranges {
		if len(rs) > 0 {
			out.ranges[replica] = slices.Clone(rs)
		}
	}
	return out
}

// Missing returns the dots that c has and have lacks: what a replica whose
// context is have must receive to have seen everything c has.
func (c *Context) Missing(have *Context) *Context {
	out := &Context{}
	for replica, rs := range c.ranges {
		diff := subtractRanges(rs, have.ranges[replica])
		if len(diff) > 0 {
			if out.ranges == nil {
				out.ranges = make(map[ReplicaID][]Range)
			}
			out.ranges[replica] = diff
		}
	}
	return out
}

// subtractRanges returns a \ b for sorted range sets.
func subtractRanges(a, b []Range) []Range {
	if len(b) == 0 {
		return slices.Clone(a)
	}
	var out []Range
	j := 0
	for _, r := range a {
		// [lo, r.Hi] is what is left of r while open; tracked with a flag
		// because r.Hi+1 overflows at MaxUint64.
		lo, open := r.Lo, true
		for j < len(b) && b[j].Hi < lo {
			j++
		}
		for k := j; open && k < len(b) && b[k].Lo <= r.Hi; k++ {
			if b[k].Lo > lo {
				out = append(out, Range{lo, b[k].Lo - 1})
			}
			if b[k].Hi >= r.Hi {
				open = false
			} else {
				lo = b[k].Hi + 1
			}
		}
		if open {
			out = append(out, Range{lo, r.Hi})
		}
	}
	return out
}

// withoutCounters returns c minus the given counters, per replica. Counters
// must be sorted ascending and present in c.
func (c *Context) withoutCounters(remove map[ReplicaID][]uint64) *Context {
	out := &Context{ranges: make(map[ReplicaID][]Range, len(c.ranges))}
	for replica, rs := range c.ranges {
		holes := remove[replica]
		if len(holes) == 0 {
			if len(rs) > 0 {
				out.ranges[replica] = slices.Clone(rs)
			}
			continue
		}
		var res []Range
		h := 0
		for _, r := range rs {
			lo, open := r.Lo, true // as in subtractRanges
			for h < len(holes) && holes[h] < lo {
				h++
			}
			for open && h < len(holes) && holes[h] <= r.Hi {
				if holes[h] > lo {
					res = append(res, Range{lo, holes[h] - 1})
				}
				if holes[h] == r.Hi {
					open = false
				} else {
					lo = holes[h] + 1
				}
				h++
			}
			if open {
				res = append(res, Range{lo, r.Hi})
			}
		}
		if len(res) > 0 {
			out.ranges[replica] = res
		}
	}
	return out
}
