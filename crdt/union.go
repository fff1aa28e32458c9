package crdt

import (
	"cmp"
	"slices"
)

// Union returns a new context holding every dot of cs. It sorts all the
// ranges of a replica once and coalesces them, so its cost is
// O(R log R) for R ranges in all, whatever their order: merging many
// contexts one after another into a growing one (Merge) costs a pass over,
// or an insert into, the growing set per context, which is quadratic when
// their ranges interleave (an encoding's chunks, whose dots follow key
// order rather than counter order).
func Union(cs ...*Context) *Context {
	byReplica := make(map[ReplicaID][]Range)
	for _, c := range cs {
		for replica, rs := range c.ranges {
			byReplica[replica] = append(byReplica[replica], rs...)
		}
	}
	out := &Context{}
	for replica, rs := range byReplica {
		if len(rs) == 0 {
			continue
		}
		slices.SortFunc(rs, func(a, b Range) int { return cmp.Compare(a.Lo, b.Lo) })
		kept := rs[:1]
		for _, r := range rs[1:] {
			// r.Lo-1, not last.Hi+1: a Hi may be MaxUint64 (Lo ≥ 1).
			if last := &kept[len(kept)-1]; r.Lo-1 <= last.Hi {
				last.Hi = max(last.Hi, r.Hi)
				continue
			}
			kept = append(kept, r)
		}
		if out.ranges == nil {
			out.ranges = make(map[ReplicaID][]Range, len(byReplica))
		}
		out.ranges[replica] = slices.Clip(kept)
	}
	return out
}
