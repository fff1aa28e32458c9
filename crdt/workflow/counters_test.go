package workflow

import (
	"slices"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"pgregory.net/rapid"
)

// TestCountersMatchSortedSet drives a counters list and a plain set of held
// counters through random adds (runs of next counters and scattered ones,
// which split blocks) and removals (held or never held), and checks after
// each that the list is sorted, without duplicates, in bounded non-empty
// blocks, lists every held counter, and that a cursor from any bound walks
// exactly the listed counters from there.
func TestCountersMatchSortedSet(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := &Doc{} // the store says what is held: gone's compaction asks it
		held := map[uint64]bool{}
		c := &counters{}
		var next uint64
		put := func(n uint64) {
			d.store.Put(Key{Kind: KindBlock, ID: "b"}, crdt.Dot{Replica: "r", Counter: n}, Cell{})
			held[n] = true
			c.add(n)
		}
		for range rapid.IntRange(1, 60).Draw(t, "steps") {
			switch op := rapid.IntRange(0, 5).Draw(t, "op"); {
			case op < 2:
				for range rapid.IntRange(1, 700).Draw(t, "run") {
					next++
					put(next)
				}
			case op < 3:
				n := rapid.Uint64Range(1, 5000).Draw(t, "counter")
				if !held[n] {
					put(n)
				}
			default:
				for range rapid.IntRange(1, 400).Draw(t, "removals") {
					n := rapid.Uint64Range(1, max(next, 1)+10).Draw(t, "gone")
					if held[n] {
						d.store.remove(rdotOf(d, n), crdt.Dot{Replica: "r", Counter: n}, d.store.byDot.get(rdotOf(d, n)), nil)
						delete(held, n)
					}
					c.gone(n, d, "r")
				}
			}
			var listed []uint64
			c.all(func(n uint64) { listed = append(listed, n) })
			if !slices.IsSorted(listed) || len(slices.Compact(slices.Clone(listed))) != len(listed) {
				t.Fatal("counters not sorted and distinct")
			}
			for _, b := range c.blocks {
				if len(b.cs) == 0 || len(b.cs) > counterBlockMax {
					t.Fatalf("a block of %d counters", len(b.cs))
				}
			}
			for n := range held {
				if _, found := slices.BinarySearch(listed, n); !found {
					t.Fatalf("held counter %d not listed", n)
				}
			}
			lo := rapid.Uint64Range(0, next+2).Draw(t, "from")
			cur := c.from(lo)
			i, _ := slices.BinarySearch(listed, lo)
			for ; i < len(listed); i++ {
				if n, ok := cur.next(); !ok || n != listed[i] {
					t.Fatalf("cursor from %d gave %d, want %d", lo, n, listed[i])
				}
			}
			if _, ok := cur.next(); ok {
				t.Fatal("cursor went past the end")
			}
		}
	})
}

func rdotOf(d *Doc, n uint64) rdot {
	r, _ := d.store.reps.lookup("r")
	return rdot{r, n}
}
