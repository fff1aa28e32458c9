package crdt

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// dotSet is the naive model of a causal context.
type dotSet map[Dot]bool

func (s dotSet) clone() dotSet { return maps.Clone(s) }

// dotsOf enumerates c into the model. Test contexts hold few dots.
func dotsOf(c *Context) dotSet {
	s := dotSet{}
	for _, r := range c.Replicas() {
		for _, rg := range c.Ranges(r) {
			for n := rg.Lo; ; n++ {
				s[Dot{r, n}] = true
				if n == rg.Hi {
					break
				}
			}
		}
	}
	return s
}

// checkContextInvariants fails t unless every replica's ranges are sorted,
// disjoint and non-adjacent, with 1 ≤ Lo ≤ Hi.
func checkContextInvariants(t interface {
	Helper()
	Fatalf(string, ...any)
}, c *Context) {
	t.Helper()
	for replica, rs := range c.ranges {
		for i, r := range rs {
			if r.Lo == 0 || r.Lo > r.Hi {
				t.Fatalf("replica %q range %d is invalid: %+v (all: %v)", replica, i, r, rs)
			}
			// rs[i].Lo-1 > rs[i-1].Hi, written without overflow.
			if i > 0 && r.Lo-1 <= rs[i-1].Hi {
				t.Fatalf("replica %q ranges %d and %d overlap or touch: %v", replica, i-1, i, rs)
			}
		}
	}
}

var testReplicas = []ReplicaID{"a", "b", "c"}

// counterGen draws counters near 1, in the middle, and at the very top of
// the counter space, where Hi+1 overflows.
var counterGen = rapid.Custom(func(t *rapid.T) uint64 {
	off := rapid.Uint64Range(0, 40).Draw(t, "offset")
	switch rapid.IntRange(0, 5).Draw(t, "base") {
	case 4:
		return 1<<40 + off
	case 5:
		return math.MaxUint64 - off
	}
	return 1 + off
})

var dotGen = rapid.Custom(func(t *rapid.T) Dot {
	return Dot{rapid.SampledFrom(testReplicas).Draw(t, "replica"), counterGen.Draw(t, "counter")}
})

// rangeGen draws ranges, including the invalid ones AddRange must ignore.
var rangeGen = rapid.Custom(func(t *rapid.T) Range {
	if rapid.IntRange(0, 9).Draw(t, "invalid") == 0 {
		return Range{rapid.Uint64Range(0, 3).Draw(t, "lo"), rapid.Uint64Range(0, 2).Draw(t, "hi")}
	}
	lo := counterGen.Draw(t, "lo")
	n := rapid.Uint64Range(0, 8).Draw(t, "len")
	hi := lo + n
	if hi < lo {
		hi = math.MaxUint64
	}
	return Range{lo, hi}
})

func addRangeToModel(s dotSet, replica ReplicaID, r Range) {
	if r.Lo == 0 || r.Lo > r.Hi {
		return
	}
	for n := r.Lo; ; n++ {
		s[Dot{replica, n}] = true
		if n == r.Hi {
			break
		}
	}
}

func TestContextAgainstModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ctxs := [2]*Context{NewContext(), {}}
		models := [2]dotSet{{}, {}}
		for step, n := 0, rapid.IntRange(1, 60).Draw(t, "steps"); step < n; step++ {
			i := rapid.IntRange(0, 1).Draw(t, "which")
			c, m := ctxs[i], models[i]
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0:
				d := dotGen.Draw(t, "dot")
				c.Add(d)
				m[d] = true
			case 1:
				replica := rapid.SampledFrom(testReplicas).Draw(t, "replica")
				r := rangeGen.Draw(t, "range")
				c.AddRange(replica, r)
				addRangeToModel(m, replica, r)
			case 2:
				c.Merge(ctxs[1-i])
				maps.Copy(m, models[1-i])
			case 3:
				ctxs[i] = ctxs[1-i].Clone()
				models[i] = models[1-i].clone()
			}
			for j := range ctxs {
				checkContextAgainstModel(t, ctxs[j], models[j])
			}
			checkPairAgainstModel(t, ctxs[0], ctxs[1], models[0], models[1])
		}
	})
}

func checkContextAgainstModel(t *rapid.T, c *Context, m dotSet) {
	checkContextInvariants(t, c)
	if got := dotsOf(c); !maps.Equal(got, m) {
		t.Fatalf("context holds %v, model %v", got, m)
	}
	if got, want := c.Len(), uint64(len(m)); got != want {
		t.Fatalf("Len() = %d, want %d", got, want)
	}
	if c.IsEmpty() != (len(m) == 0) {
		t.Fatalf("IsEmpty() = %v with %d dots", c.IsEmpty(), len(m))
	}
	for _, replica := range testReplicas {
		var maxSeen, prefix uint64
		for d := range m {
			if d.Replica == replica {
				maxSeen = max(maxSeen, d.Counter)
			}
		}
		for m[Dot{replica, prefix + 1}] {
			prefix++
		}
		if got := c.Max(replica); got != maxSeen {
			t.Fatalf("Max(%q) = %d, want %d", replica, got, maxSeen)
		}
		if got := c.Prefix(replica); got != prefix {
			t.Fatalf("Prefix(%q) = %d, want %d", replica, got, prefix)
		}
	}
	for range 10 {
		d := dotGen.Draw(t, "probe")
		if c.Contains(d) != m[d] {
			t.Fatalf("Contains(%v) = %v, model says %v", d, c.Contains(d), m[d])
		}
	}
	for d := range m {
		if !c.Contains(d) {
			t.Fatalf("Contains(%v) = false for a dot the model holds", d)
		}
	}
	seen := dotSet{}
	c.ForEach(func(d Dot) bool { seen[d] = true; return true })
	if !maps.Equal(seen, m) {
		t.Fatalf("ForEach visited %v, model %v", seen, m)
	}

	// withoutCounters removes a sorted subset of the dots.
	remove := map[ReplicaID][]uint64{}
	want := m.clone()
	for d := range m {
		if rapid.Bool().Draw(t, "remove") {
			remove[d.Replica] = append(remove[d.Replica], d.Counter)
			delete(want, d)
		}
	}
	for _, cs := range remove {
		slices.Sort(cs)
	}
	before := c.Clone()
	w := c.withoutCounters(remove)
	checkContextInvariants(t, w)
	if got := dotsOf(w); !maps.Equal(got, want) {
		t.Fatalf("withoutCounters(%v) = %v, want %v", remove, got, want)
	}
	if !c.Equal(before) {
		t.Fatalf("withoutCounters changed its receiver")
	}
}

func checkPairAgainstModel(t *rapid.T, a, b *Context, ma, mb dotSet) {
	subset := func(x, y dotSet) bool {
		for d := range x {
			if !y[d] {
				return false
			}
		}
		return true
	}
	if got, want := a.Covers(b), subset(mb, ma); got != want {
		t.Fatalf("a.Covers(b) = %v, want %v (a=%v b=%v)", got, want, ma, mb)
	}
	if got, want := b.Covers(a), subset(ma, mb); got != want {
		t.Fatalf("b.Covers(a) = %v, want %v (a=%v b=%v)", got, want, ma, mb)
	}
	if got, want := a.Equal(b), maps.Equal(ma, mb); got != want || b.Equal(a) != want {
		t.Fatalf("Equal = %v, want %v (a=%v b=%v)", got, want, ma, mb)
	}
	for _, pair := range [][2]*Context{{a, b}, {b, a}} {
		x, y := pair[0], pair[1]
		mx, my := dotsOf(x), dotsOf(y)
		want := dotSet{}
		for d := range mx {
			if !my[d] {
				want[d] = true
			}
		}
		miss := x.Missing(y)
		checkContextInvariants(t, miss)
		if got := dotsOf(miss); !maps.Equal(got, want) {
			t.Fatalf("Missing = %v, want %v (x=%v y=%v)", got, want, mx, my)
		}
	}
	// Merge is the union, on copies.
	u := a.Clone()
	u.Merge(b)
	checkContextInvariants(t, u)
	want := ma.clone()
	maps.Copy(want, mb)
	if got := dotsOf(u); !maps.Equal(got, want) {
		t.Fatalf("Merge = %v, want %v", got, want)
	}
	if !u.Covers(a) || !u.Covers(b) {
		t.Fatalf("the union does not cover its parts")
	}
	if len(ma) > 0 && !a.Clone().Equal(a) {
		t.Fatalf("Clone is not Equal")
	}
}

// Adding 1..N in any order must end in one range per replica: that is the
// compaction that keeps a context small.
func TestContextCompactsShuffledCounters(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		const n = 300
		c := &Context{}
		type item struct {
			replica ReplicaID
			counter uint64
		}
		var items []item
		for _, r := range testReplicas {
			for k := uint64(1); k <= n; k++ {
				items = append(items, item{r, k})
			}
		}
		items = rapid.Permutation(items).Draw(t, "order")
		for i, it := range items {
			if rapid.IntRange(0, 3).Draw(t, "asRange") == 0 {
				c.AddRange(it.replica, Range{it.counter, it.counter + uint64(rapid.IntRange(0, 2).Draw(t, "extra"))})
			} else {
				c.Add(Dot{it.replica, it.counter})
			}
			if i%50 == 0 {
				checkContextInvariants(t, c)
			}
		}
		checkContextInvariants(t, c)
		for _, r := range testReplicas {
			rs := c.Ranges(r)
			if len(rs) != 1 || rs[0].Lo != 1 || rs[0].Hi < n {
				t.Fatalf("replica %q: ranges %v, want one range from 1", r, rs)
			}
		}
	})
}

func TestContextForEachStopsAtTop(t *testing.T) {
	c := &Context{}
	c.AddRange("a", Range{math.MaxUint64 - 1, math.MaxUint64})
	var n int
	c.ForEach(func(Dot) bool { n++; return n < 10 })
	if n != 2 {
		t.Fatalf("ForEach over a range ending at MaxUint64 visited %d dots, want 2", n)
	}
}

// TestContextSeededShuffle is the same compaction check at a larger size
// with a plain seeded RNG (FLOWSYNC_SEED replays it).
func TestContextSeededShuffle(t *testing.T) {
	rng := testRand(t)
	const n = 20000
	order := rng.Perm(n)
	c := &Context{}
	for _, k := range order {
		c.Add(Dot{"r", uint64(k) + 1})
	}
	checkContextInvariants(t, c)
	if rs := c.Ranges("r"); len(rs) != 1 || rs[0] != (Range{1, n}) {
		t.Fatalf("ranges %v, want [{1 %d}]", rs, n)
	}
}

// A context may cover counters up to MaxUint64 (a decoded delta can claim
// them). Coalescing must still work there: Hi+1 overflows.
func TestContextAddRangeAtTopOfCounterSpace(t *testing.T) {
	c := &Context{}
	c.AddRange("a", Range{math.MaxUint64 - 5, math.MaxUint64})
	c.Add(Dot{"a", 7})
	c.Add(Dot{"a", math.MaxUint64 - 7})
	c.Add(Dot{"a", math.MaxUint64 - 6})
	checkContextInvariants(t, c)
	if got, want := c.Ranges("a"), []Range{{7, 7}, {math.MaxUint64 - 7, math.MaxUint64}}; !slices.Equal(got, want) {
		t.Fatalf("ranges %v, want %v", got, want)
	}
	if m := c.Missing(&Context{}); !m.Equal(c) {
		t.Fatalf("Missing(empty) = %v", m.ranges)
	}
	w := c.withoutCounters(map[ReplicaID][]uint64{"a": {math.MaxUint64}})
	if got, want := w.Ranges("a"), []Range{{7, 7}, {math.MaxUint64 - 7, math.MaxUint64 - 1}}; !slices.Equal(got, want) {
		t.Fatalf("withoutCounters(max) = %v, want %v", got, want)
	}
}

// Len must not wrap: a context of 2^64-1 + 5 dots once counted as 4, which
// made Join walk it dot by dot, forever.
func TestJoinWithHugeContextTerminates(t *testing.T) {
	c := &Context{}
	c.AddRange("a", Range{1, math.MaxUint64})
	c.AddRange("b", Range{1, 5})
	if c.Len() != math.MaxUint64 {
		t.Fatalf("Len() = %d, want saturation at MaxUint64", c.Len())
	}
	m := &LWWMap[string, int]{}
	for i := range 6 {
		m.Set(fmt.Sprint("k", i), i, Timestamp{Wall: 1, Replica: "b"})
	}
	m.Join(&LWWMap[string, int]{ctx: *c})
	if m.Len() != 1 { // b:6 was not in the hostile context
		t.Fatalf("%d keys left, want 1", m.Len())
	}
}

// TestMergeInterleavedIsLinear is the regression test for a delta whose
// context interleaves with the document's (dots 3, 5, 7, … merged into 2, 4,
// 6, …): merging it used to coalesce one range at a time, each moving the
// tail of the document's ranges, so n ranges cost n²/2 range moves (80,000
// took seconds). The work, counted in ranges touched, must stay within a
// small multiple of the input's ranges; the result must be the single range
// the union is.
func TestMergeInterleavedIsLinear(t *testing.T) {
	const n = 20_000
	even, odd := NewContext(), NewContext()
	for i := uint64(1); i <= n; i++ {
		even.Add(Dot{"r", 2 * i})
		odd.Add(Dot{"r", 2*i + 1})
	}
	work := 0
	countRangeWork = func(k int) { work += k }
	defer func() { countRangeWork = nil }()
	even.Merge(odd)
	if got := even.Ranges("r"); len(got) != 1 || got[0] != (Range{2, 2*n + 1}) {
		t.Fatalf("merge of interleaved ranges = %d ranges starting %v, want [2, %d]", len(got), got[:min(len(got), 3)], 2*n+1)
	}
	if limit := 4 * 2 * n; work > limit {
		t.Fatalf("merging %d interleaved ranges into %d touched %d ranges, want at most %d", n, n, work, limit)
	}

}

func TestRemoveReplica(t *testing.T) {
	c := NewContext()
	c.AddRange("a", Range{Lo: 1, Hi: 3})
	c.AddRange("b", Range{Lo: 2, Hi: 2})
	c.RemoveReplica("a")
	c.RemoveReplica("zz") // absent: nothing to do
	if c.Contains(Dot{"a", 1}) || !c.Contains(Dot{"b", 2}) || c.NumReplicas() != 1 {
		t.Fatalf("after removing a: %v", c.Replicas())
	}
}
