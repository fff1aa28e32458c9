package workflow

import (
	"slices"

	"github.com/flowsync/flowsync/crdt"
)

// counters are one replica's held counters, ascending, for DeltaSince and
// the walk of a stepped merge. Removals are lazy: a removed counter stays
// until its block is compacted, and readers skip counters the store no
// longer holds.
//
// The counters are kept in blocks of at most counterBlockMax, each compacted
// on its own once more than half of it is stale: a removal then costs
// O(1) amortized like one sorted list compacted whole, but no single
// removal pays for more than one block. (A stepped removal of a large
// container is a series of merges of a few thousand dots each, and with one
// list the merge that crossed the half-stale mark compacted every counter
// of the replica in one turn of the room loop.)
type counters struct {
	blocks []*counterBlock // ascending, none empty
}

// counterBlock is a run of counters; stale counts the removals reported in
// its span since it was last compacted (an overcount when a removed dot
// was never held: compaction recounts).
type counterBlock struct {
	cs    []uint64
	stale int
}

// counterBlockMax bounds a block: a split or a compaction copies at most this
// many counters.
const counterBlockMax = 512

// countersOf returns the counters of a sorted list.
func countersOf(cs []uint64) *counters {
	c := &counters{}
	for len(cs) > 0 {
		n := min(len(cs), counterBlockMax)
		c.blocks = append(c.blocks, &counterBlock{cs: slices.Clone(cs[:n])})
		cs = cs[n:]
	}
	return c
}

// find returns the index of the block whose span holds n: the last block
// whose first counter is ≤ n, or 0.
func (c *counters) find(n uint64) int {
	i, _ := slices.BinarySearchFunc(c.blocks, n, func(b *counterBlock, n uint64) int {
		switch {
		case b.cs[0] > n:
			return 1
		case b.cs[0] < n:
			return -1
		}
		return 0
	})
	// i is the first block starting at or after n.
	if i < len(c.blocks) && c.blocks[i].cs[0] == n {
		return i
	}
	return max(i-1, 0)
}

// add records n as held.
func (c *counters) add(n uint64) {
	if len(c.blocks) == 0 {
		c.blocks = []*counterBlock{{cs: []uint64{n}}}
		return
	}
	last := c.blocks[len(c.blocks)-1]
	if top := last.cs[len(last.cs)-1]; top < n {
		// The common case: a replica's next write.
		if len(last.cs) < counterBlockMax {
			last.cs = append(last.cs, n)
		} else {
			c.blocks = append(c.blocks, &counterBlock{cs: []uint64{n}})
		}
		return
	}
	bi := c.find(n)
	b := c.blocks[bi]
	i, found := slices.BinarySearch(b.cs, n)
	if found {
		return
	}
	b.cs = slices.Insert(b.cs, i, n)
	if len(b.cs) > counterBlockMax {
		half := len(b.cs) / 2
		next := &counterBlock{cs: slices.Clone(b.cs[half:])}
		b.cs = slices.Clip(b.cs[:half])
		// The stale count goes with the first half: an overcount, which
		// only makes its compaction come sooner.
		c.blocks = slices.Insert(c.blocks, bi+1, next)
	}
}

// gone records that counter n of replica r is no longer held by d (or
// never was), compacting its block once more than half of it is stale.
func (c *counters) gone(n uint64, d *Doc, r crdt.ReplicaID) {
	if len(c.blocks) == 0 {
		return
	}
	bi := c.find(n)
	b := c.blocks[bi]
	if b.stale++; b.stale <= len(b.cs)/2 {
		return
	}
	b.cs = slices.DeleteFunc(b.cs, func(n uint64) bool { return !d.store.Has(crdt.Dot{Replica: r, Counter: n}) })
	b.stale = 0
	if len(b.cs) == 0 {
		c.blocks = slices.Delete(c.blocks, bi, bi+1)
	}
}

// empty reports whether no counter is recorded.
func (c *counters) empty() bool { return len(c.blocks) == 0 }

// counterCursor walks counters in ascending order from a lower bound. It
// is valid until the counters change.
type counterCursor struct {
	c      *counters
	bi, ci int
}

// from returns a cursor at the least counter ≥ n.
func (c *counters) from(n uint64) counterCursor {
	bi := c.find(n)
	cur := counterCursor{c: c, bi: bi}
	if bi < len(c.blocks) {
		cur.ci, _ = slices.BinarySearch(c.blocks[bi].cs, n)
		cur.settle()
	}
	return cur
}

// settle moves the cursor past the end of a block to the next block.
func (cur *counterCursor) settle() {
	for cur.bi < len(cur.c.blocks) && cur.ci >= len(cur.c.blocks[cur.bi].cs) {
		cur.bi, cur.ci = cur.bi+1, 0
	}
}

// next returns the counter under the cursor and moves past it, or false
// at the end.
func (cur *counterCursor) next() (uint64, bool) {
	if cur.bi >= len(cur.c.blocks) {
		return 0, false
	}
	n := cur.c.blocks[cur.bi].cs[cur.ci]
	cur.ci++
	cur.settle()
	return n, true
}

// all calls fn with every recorded counter, ascending (tests).
func (c *counters) all(fn func(uint64)) {
	for _, b := range c.blocks {
		for _, n := range b.cs {
			fn(n)
		}
	}
}
