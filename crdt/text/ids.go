package text

import (
	"sort"

	"github.com/flowsync/flowsync/crdt"
)

// ids maps the dots of inserted items to local versions and back. A local
// version (lv) numbers the items of one replica's copy in the order it
// learnt them, from 0: the tree refers to items by lv because an int32 is
// smaller and faster to compare than a dot, and consecutive lvs of one run
// map to consecutive counters, so both directions are tables of runs.
type ids struct {
	replicas []crdt.ReplicaID
	index    map[crdt.ReplicaID]int32
	// runs, sorted by lv, cover every lv; run i ends where run i+1 starts.
	runs []lvRun
	// byReplica[r] lists replica r's counters, sorted by counter.
	byReplica [][]counterRun
	next      int32 // the next unused lv
	hint      int   // the run the last dot lookup found
	// The last replica replicaIndex returned: one replica makes most edits
	// in a row.
	lastName crdt.ReplicaID
	lastRep  int32
}

// repOf returns the index of a known replica: one replica makes most
// edits in a row, so the last answer is checked before the map.
func (x *ids) repOf(r crdt.ReplicaID) (int32, bool) {
	if r == x.lastName && r != "" {
		return x.lastRep, true
	}
	i, ok := x.index[r]
	if ok {
		x.lastName, x.lastRep = r, i
	}
	return i, ok
}

// maxCounter returns the greatest counter of replica rep's items, 0 if none.
func (x *ids) maxCounter(rep int32) uint64 {
	cr := x.byReplica[rep]
	if len(cr) == 0 {
		return 0
	}
	return cr[len(cr)-1].counter + uint64(cr[len(cr)-1].n) - 1
}

// knownFrom returns the first run of known counters of replica that ends
// at or after c, and whether there is one.
func (x *ids) knownFrom(replica crdt.ReplicaID, c uint64) (lo, hi uint64, ok bool) {
	rep, found := x.repOf(replica)
	if !found {
		return 0, 0, false
	}
	cr := x.byReplica[rep]
	i := sort.Search(len(cr), func(i int) bool { return cr[i].counter+uint64(cr[i].n)-1 >= c })
	if i == len(cr) {
		return 0, 0, false
	}
	return cr[i].counter, cr[i].counter + uint64(cr[i].n) - 1, true
}

// knows reports whether dot d is a known item.
func (x *ids) knows(d crdt.Dot) bool { return x.lookup(d.Replica, d.Counter) != none }

// context returns the known dots as a context.
func (x *ids) context() *crdt.Context {
	c := crdt.NewContext()
	c.Grow(len(x.replicas))
	for rep, cr := range x.byReplica {
		var rs []crdt.Range
		for _, r := range cr {
			hi := r.counter + uint64(r.n) - 1
			if k := len(rs); k > 0 && rs[k-1].Hi+1 == r.counter {
				rs[k-1].Hi = hi
				continue
			}
			rs = append(rs, crdt.Range{Lo: r.counter, Hi: hi})
		}
		c.AddRanges(x.replicas[rep], rs)
	}
	return c
}

type lvRun struct {
	lv      int32
	rep     int32
	counter uint64
}

type counterRun struct {
	counter uint64
	lv, n   int32
}

// replicaIndex returns r's index, adding r if new.
func (x *ids) replicaIndex(r crdt.ReplicaID) int32 {
	if r == x.lastName && x.lastName != "" {
		return x.lastRep
	}
	if i, ok := x.index[r]; ok {
		x.lastName, x.lastRep = r, i
		return i
	}
	if x.index == nil {
		x.index = make(map[crdt.ReplicaID]int32)
	}
	i := int32(len(x.replicas))
	x.replicas = append(x.replicas, r)
	x.index[r] = i
	x.byReplica = append(x.byReplica, nil)
	return i
}

// add assigns lvs to n new items with counters counter.. of replica rep and
// returns the first.
func (x *ids) add(rep int32, counter uint64, n int32) int32 {
	lv := x.next
	x.next += n
	if k := len(x.runs); k > 0 {
		last := &x.runs[k-1]
		if last.rep == rep && last.counter+uint64(lv-last.lv) == counter {
			x.extendCounterRun(rep, counter, lv, n)
			return lv
		}
	}
	x.runs = append(x.runs, lvRun{lv: lv, rep: rep, counter: counter})
	x.extendCounterRun(rep, counter, lv, n)
	return lv
}

func (x *ids) extendCounterRun(rep int32, counter uint64, lv, n int32) {
	cr := x.byReplica[rep]
	if k := len(cr); k > 0 {
		last := &cr[k-1]
		if last.counter+uint64(last.n) == counter && last.lv+last.n == lv {
			last.n += n
			return
		}
		if last.counter < counter {
			x.byReplica[rep] = append(cr, counterRun{counter, lv, n})
			return
		}
	}
	i := sort.Search(len(cr), func(i int) bool { return cr[i].counter > counter })
	cr = append(cr, counterRun{})
	copy(cr[i+1:], cr[i:])
	cr[i] = counterRun{counter, lv, n}
	x.byReplica[rep] = cr
}

// dot returns the replica index and counter of item lv.
func (x *ids) dot(lv int32) (int32, uint64) {
	i := x.hint
	if i >= len(x.runs) || x.runs[i].lv > lv || (i+1 < len(x.runs) && x.runs[i+1].lv <= lv) {
		i = sort.Search(len(x.runs), func(i int) bool { return x.runs[i].lv > lv }) - 1
		x.hint = i
	}
	r := x.runs[i]
	return r.rep, r.counter + uint64(lv-r.lv)
}

// runEnd returns the first lv after the run holding lv: items lv..end-1 have
// consecutive counters of one replica.
func (x *ids) runEnd(lv int32) int32 {
	x.dot(lv)
	if x.hint+1 < len(x.runs) {
		return x.runs[x.hint+1].lv
	}
	return x.next
}

// sameRun reports whether item b is the item after a in one replica's
// counters and in lvs, so that a span may hold both.
func (x *ids) sameRun(a, b int32) bool {
	if b != a+1 {
		return false
	}
	ra, ca := x.dot(a)
	rb, cb := x.dot(b)
	return ra == rb && ca+1 == cb
}

// continuesLast reports whether item lv, the first of the items add gave
// out last, has the counter after item lv−1's of the same replica: sameRun
// (lv−1, lv) without a search, since lv's run is the last.
func (x *ids) continuesLast(lv int32) bool {
	return x.runs[len(x.runs)-1].lv < lv
}

// lookup returns the lv of dot (replica, counter), or none.
func (x *ids) lookup(replica crdt.ReplicaID, counter uint64) int32 {
	rep, ok := x.repOf(replica)
	if !ok {
		return none
	}
	lv, _ := x.lookupRep(rep, counter)
	return lv
}

// lookupRep returns the lv of (rep, counter) and how many items of its run
// follow it (itself included), or none and 0.
func (x *ids) lookupRep(rep int32, counter uint64) (int32, int32) {
	cr := x.byReplica[rep]
	i := len(cr) - 1
	if i < 0 || cr[i].counter > counter {
		i = sort.Search(len(cr), func(i int) bool { return cr[i].counter > counter }) - 1
	}
	if i < 0 || counter-cr[i].counter >= uint64(cr[i].n) {
		return none, 0
	}
	k := int32(counter - cr[i].counter)
	return cr[i].lv + k, cr[i].n - k
}
