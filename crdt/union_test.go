package crdt

import (
	"testing"

	"pgregory.net/rapid"
)

// Union of several contexts holds exactly the dots of merging them one
// after another, in canonical form (sorted, disjoint, non-adjacent
// ranges), and leaves its inputs unchanged.
func TestUnionAgainstModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 6).Draw(t, "contexts")
		cs := make([]*Context, n)
		model := dotSet{}
		for i := range cs {
			cs[i] = NewContext()
			for range rapid.IntRange(0, 8).Draw(t, "ranges") {
				replica := rapid.SampledFrom(testReplicas).Draw(t, "replica")
				r := rangeGen.Draw(t, "range")
				cs[i].AddRange(replica, r)
				addRangeToModel(model, replica, r)
			}
		}
		before := make([]*Context, n)
		for i, c := range cs {
			before[i] = c.Clone()
		}
		u := Union(cs...)
		checkContextAgainstModel(t, u, model)
		merged := NewContext()
		for _, c := range cs {
			merged.Merge(c)
		}
		if !u.Equal(merged) {
			t.Fatalf("Union %v, Merge one by one %v", u, merged)
		}
		for i, c := range cs {
			if !c.Equal(before[i]) {
				t.Fatalf("context %d changed", i)
			}
		}
	})
}
