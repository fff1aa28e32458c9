package crdt

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// lattice adapts one delta-state type to the generic law checks below.
type lattice[S any] struct {
	empty   func() S
	join    func(dst, src S)
	clone   func(S) S
	context func(S) *Context
	since   func(S, *Context) S
	// entries lists the dot store as dot → "key=value".
	entries func(S) map[Dot]string
	// read renders what a user sees (Get / Contains for every test key).
	read func(S) string
	// mutate performs one random mutation as replica r and returns its delta,
	// or false if the drawn mutation had nothing to act on.
	mutate func(t *rapid.T, s S, r ReplicaID, clk *Clock) (S, bool)
}

var testKeys = []string{"k0", "k1", "k2", "k3"}

var lwwLattice = lattice[*LWWMap[string, int]]{
	empty:   func() *LWWMap[string, int] { return &LWWMap[string, int]{} },
	join:    func(dst, src *LWWMap[string, int]) { dst.Join(src) },
	clone:   func(s *LWWMap[string, int]) *LWWMap[string, int] { return s.Clone() },
	context: func(s *LWWMap[string, int]) *Context { return s.Context() },
	since:   func(s *LWWMap[string, int], have *Context) *LWWMap[string, int] { return s.DeltaSince(have) },
	entries: func(s *LWWMap[string, int]) map[Dot]string { return storeEntries(s.Store()) },
	read: func(s *LWWMap[string, int]) string {
		out := ""
		for _, k := range testKeys {
			v, ok := s.Get(k)
			out += fmt.Sprintf("%s=%d,%v ", k, v, ok)
		}
		return out
	},
	mutate: func(t *rapid.T, s *LWWMap[string, int], r ReplicaID, clk *Clock) (*LWWMap[string, int], bool) {
		k := rapid.SampledFrom(testKeys).Draw(t, "key")
		if rapid.IntRange(0, 3).Draw(t, "delete") == 0 {
			d := s.Delete(k, r)
			return d, d != nil
		}
		// A small wall range makes equal (wall, logical) across replicas
		// common, so ties broken by replica id get exercised.
		ts := clk.Now(rapid.Int64Range(0, 6).Draw(t, "wall"))
		return s.Set(k, rapid.IntRange(0, 9).Draw(t, "value"), ts), true
	},
}

var orsetLattice = lattice[*ORSet[string]]{
	empty:   func() *ORSet[string] { return &ORSet[string]{} },
	join:    func(dst, src *ORSet[string]) { dst.Join(src) },
	clone:   func(s *ORSet[string]) *ORSet[string] { return s.Clone() },
	context: func(s *ORSet[string]) *Context { return s.Context() },
	since:   func(s *ORSet[string], have *Context) *ORSet[string] { return s.DeltaSince(have) },
	entries: func(s *ORSet[string]) map[Dot]string { return storeEntries(&s.store) },
	read: func(s *ORSet[string]) string {
		out := ""
		for _, k := range testKeys {
			out += fmt.Sprintf("%s:%v ", k, s.Contains(k))
		}
		return out
	},
	mutate: func(t *rapid.T, s *ORSet[string], r ReplicaID, _ *Clock) (*ORSet[string], bool) {
		e := rapid.SampledFrom(testKeys).Draw(t, "element")
		if rapid.IntRange(0, 2).Draw(t, "remove") == 0 {
			d := s.Remove(e, r)
			return d, d != nil
		}
		return s.Add(e, r), true
	},
}

func storeEntries[K comparable, V any](m *DotMap[K, V]) map[Dot]string {
	out := map[Dot]string{}
	m.Range(func(k K, es []Dotted[V]) bool {
		for _, e := range es {
			if _, dup := out[e.Dot]; dup {
				panic(fmt.Sprintf("dot %v stored twice", e.Dot))
			}
			out[e.Dot] = fmt.Sprintf("%v=%+v", k, e.Value)
		}
		return true
	})
	return out
}

// sameState reports whether a and b hold the same context and the same
// (key, dot, value) entries, and describes the first difference.
func (l lattice[S]) sameState(a, b S) (bool, string) {
	if !l.context(a).Equal(l.context(b)) {
		return false, fmt.Sprintf("contexts differ: %v vs %v", l.context(a).ranges, l.context(b).ranges)
	}
	ea, eb := l.entries(a), l.entries(b)
	if !maps.Equal(ea, eb) {
		return false, fmt.Sprintf("stores differ: %v vs %v", ea, eb)
	}
	return true, ""
}

func (l lattice[S]) requireSame(t *rapid.T, what string, a, b S) {
	t.Helper()
	if ok, diff := l.sameState(a, b); !ok {
		t.Fatalf("%s: %s", what, diff)
	}
	if ra, rb := l.read(a), l.read(b); ra != rb {
		t.Fatalf("%s: equal states read differently: %s vs %s", what, ra, rb)
	}
}

func (l lattice[S]) joined(a, b S) S {
	out := l.clone(a)
	l.join(out, b)
	return out
}

// checkConsistent verifies that every stored dot is in the context, which
// is what every state built by joining real deltas satisfies.
func (l lattice[S]) checkConsistent(t *rapid.T, what string, s S) {
	t.Helper()
	checkContextInvariants(t, l.context(s))
	for d := range l.entries(s) {
		if !l.context(s).Contains(d) {
			t.Fatalf("%s: stored dot %v is not in the context", what, d)
		}
	}
}

// history is a random run: replicas mutate, deltas accumulate in a pool, and
// replicas receive random subsets of the pool (in random order, with
// duplicates), full states and DeltaSince catch-ups from each other.
type history[S any] struct {
	replicas []S
	ids      []ReplicaID
	deltas   []S
}

func runHistory[S any](t *rapid.T, l lattice[S]) *history[S] {
	n := rapid.IntRange(3, 5).Draw(t, "replicas")
	h := &history[S]{}
	clocks := make([]*Clock, n)
	for i := range n {
		h.ids = append(h.ids, ReplicaID(fmt.Sprintf("r%d", i)))
		h.replicas = append(h.replicas, l.empty())
		clocks[i] = NewClock(h.ids[i])
	}
	for step, steps := 0, rapid.IntRange(1, 40).Draw(t, "steps"); step < steps; step++ {
		i := rapid.IntRange(0, n-1).Draw(t, "replica")
		switch rapid.IntRange(0, 9).Draw(t, "action") {
		case 0, 1, 2, 3, 4: // mutate
			if d, ok := l.mutate(t, h.replicas[i], h.ids[i], clocks[i]); ok {
				l.checkConsistent(t, "delta", d)
				h.deltas = append(h.deltas, l.clone(d))
			}
		case 5, 6, 7: // receive some deltas, any order, duplicates allowed
			if len(h.deltas) == 0 {
				continue
			}
			idx := rapid.SliceOfN(rapid.IntRange(0, len(h.deltas)-1), 1, 8).Draw(t, "deliver")
			for _, k := range idx {
				l.join(h.replicas[i], h.deltas[k])
			}
		case 8: // full state from another replica
			j := rapid.IntRange(0, n-1).Draw(t, "from")
			l.join(h.replicas[i], h.replicas[j])
		case 9: // catch up from another replica with DeltaSince
			j := rapid.IntRange(0, n-1).Draw(t, "from")
			l.join(h.replicas[i], l.since(h.replicas[j], l.context(h.replicas[i])))
		}
		l.checkConsistent(t, "replica", h.replicas[i])
	}
	return h
}

func checkLaws[S any](t *rapid.T, l lattice[S]) {
	h := runHistory(t, l)
	// States to combine: the replicas as they are, and some deltas.
	pool := slices.Clone(h.replicas)
	for _, d := range h.deltas {
		if len(pool) < 10 {
			pool = append(pool, d)
		}
	}
	pick := func(label string) S { return pool[rapid.IntRange(0, len(pool)-1).Draw(t, label)] }
	a, b, c := pick("a"), pick("b"), pick("c")
	before := [3]S{l.clone(a), l.clone(b), l.clone(c)}

	l.requireSame(t, "commutative", l.joined(a, b), l.joined(b, a))
	l.requireSame(t, "associative", l.joined(l.joined(a, b), c), l.joined(a, l.joined(b, c)))
	l.requireSame(t, "idempotent", l.joined(a, a), a)
	l.requireSame(t, "idempotent after join", l.joined(l.joined(a, b), b), l.joined(a, b))
	for i, s := range []S{a, b, c} {
		l.requireSame(t, "join does not change its argument", s, before[i])
	}

	// Coalescing two deltas before applying them is the same as applying both.
	if len(h.deltas) >= 2 {
		d1 := h.deltas[rapid.IntRange(0, len(h.deltas)-1).Draw(t, "d1")]
		d2 := h.deltas[rapid.IntRange(0, len(h.deltas)-1).Draw(t, "d2")]
		r := h.replicas[rapid.IntRange(0, len(h.replicas)-1).Draw(t, "target")]
		l.requireSame(t, "coalesced deltas", l.joined(r, l.joined(d1, d2)), l.joined(l.joined(r, d1), d2))
	}

	// DeltaSince brings a lagging replica exactly where the full state does,
	// and carries no value the lagging replica has already seen.
	for _, x := range h.replicas {
		for _, y := range h.replicas {
			delta := l.since(x, l.context(y))
			l.checkConsistent(t, "DeltaSince", delta)
			for d := range l.entries(delta) {
				if l.context(y).Contains(d) {
					t.Fatalf("DeltaSince carries %v, which the receiver has seen", d)
				}
			}
			l.requireSame(t, "DeltaSince vs full state", l.joined(y, delta), l.joined(y, x))
		}
	}

	// Once everyone has every delta, in any order, everyone is equal, and
	// equal to the join of all deltas.
	all := l.empty()
	for _, d := range h.deltas {
		l.join(all, d)
	}
	for i, r := range h.replicas {
		order := rapid.Permutation(h.deltas).Draw(t, fmt.Sprintf("order%d", i))
		for _, d := range order {
			l.join(r, d)
		}
		l.requireSame(t, "converged", r, all)
	}
}

func TestLWWMapLaws(t *testing.T) { rapid.Check(t, func(t *rapid.T) { checkLaws(t, lwwLattice) }) }
func TestORSetLaws(t *testing.T)  { rapid.Check(t, func(t *rapid.T) { checkLaws(t, orsetLattice) }) }

// survivors is the semantic oracle: a written dot survives once every delta
// is delivered iff no other delta's context covers it (nobody observed it and
// then overwrote or removed it). For an OR-set this is add-wins; for the LWW
// map it is "the surviving concurrent writes", of which Get shows the one
// with the greatest timestamp.
func survivors[K comparable, V any](deltas []*DotMap[K, V], ctxs []*Context) map[Dot]Dotted[V] {
	out := map[Dot]Dotted[V]{}
	for i, m := range deltas {
		m.Range(func(_ K, es []Dotted[V]) bool {
			for _, e := range es {
				covered := false
				for j, c := range ctxs {
					if j != i && c.Contains(e.Dot) {
						covered = true
					}
				}
				if !covered {
					out[e.Dot] = e
				}
			}
			return true
		})
	}
	return out
}

func TestORSetAddWinsAgainstOracle(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := runHistory(t, orsetLattice)
		var stores []*DotMap[string, struct{}]
		var ctxs []*Context
		for _, d := range h.deltas {
			stores = append(stores, &d.store)
			ctxs = append(ctxs, d.Context())
		}
		alive := survivors(stores, ctxs)
		final := &ORSet[string]{}
		for _, d := range h.deltas {
			final.Join(d)
		}
		for _, e := range testKeys {
			want := false
			for d := range alive {
				if k, _ := final.store.KeyOf(d); k == e {
					want = true
				}
			}
			if final.Contains(e) != want {
				t.Fatalf("Contains(%q) = %v, oracle says %v", e, final.Contains(e), want)
			}
		}
		if final.store.NumDots() != len(alive) {
			t.Fatalf("%d dots stored, oracle says %d", final.store.NumDots(), len(alive))
		}
	})
}

func TestLWWMapResolvesToGreatestTimestamp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		h := runHistory(t, lwwLattice)
		var stores []*DotMap[string, Register[int]]
		var ctxs []*Context
		for _, d := range h.deltas {
			stores = append(stores, d.Store())
			ctxs = append(ctxs, d.Context())
		}
		alive := survivors(stores, ctxs)
		final := &LWWMap[string, int]{}
		for _, d := range h.deltas {
			final.Join(d)
		}
		if final.store.NumDots() != len(alive) {
			t.Fatalf("%d dots stored, oracle says %d", final.store.NumDots(), len(alive))
		}
		for _, k := range testKeys {
			var best *Dotted[Register[int]]
			for _, e := range alive {
				if key, _ := final.store.KeyOf(e.Dot); key != k {
					continue
				}
				if best == nil || e.Value.Stamp(e.Dot).Compare(best.Value.Stamp(best.Dot)) > 0 {
					best = &e
				}
			}
			got, ok := final.Get(k)
			if (best != nil) != ok || (ok && got != best.Value.Value) {
				t.Fatalf("Get(%q) = %d, %v; oracle says %+v", k, got, ok, best)
			}
		}
	})
}

// A single replica's Set/Delete history reads like a plain Go map.
func TestLWWMapSequentialModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &LWWMap[string, int]{}
		model := map[string]int{}
		clk := NewClock("solo")
		for range rapid.IntRange(0, 100).Draw(t, "steps") {
			k := rapid.SampledFrom(testKeys).Draw(t, "key")
			if rapid.Bool().Draw(t, "delete") {
				d := m.Delete(k, "solo")
				if _, had := model[k]; (d != nil) != had {
					t.Fatalf("Delete(%q) returned %v with the key present=%v", k, d, had)
				}
				delete(model, k)
			} else {
				v := rapid.Int().Draw(t, "value")
				m.Set(k, v, clk.Now(rapid.Int64Range(0, 100).Draw(t, "wall")))
				model[k] = v
			}
			if m.Len() != len(model) || m.store.NumDots() != len(model) {
				t.Fatalf("Len() = %d, %d dots; model has %d keys", m.Len(), m.store.NumDots(), len(model))
			}
			for _, k := range testKeys {
				got, ok := m.Get(k)
				want, wantOK := model[k]
				if got != want || ok != wantOK {
					t.Fatalf("Get(%q) = %d, %v; model %d, %v", k, got, ok, want, wantOK)
				}
			}
			// One replica's writes and deletes are contiguous: one range.
			if rs := m.Context().Ranges("solo"); len(rs) > 1 {
				t.Fatalf("a single writer's context has %d ranges: %v", len(rs), rs)
			}
		}
	})
}

func TestORSetConcurrentAddSurvivesRemove(t *testing.T) {
	a, b := &ORSet[string]{}, &ORSet[string]{}
	b.Join(a.Add("x", "a"))
	remove := b.Remove("x", "b") // b saw a's add
	add := a.Add("x", "a")       // concurrently, a adds again
	a.Join(remove)
	b.Join(add)
	if !a.Contains("x") || !b.Contains("x") {
		t.Fatalf("concurrent add lost: a has x=%v, b has x=%v", a.Contains("x"), b.Contains("x"))
	}
	// A remove that saw the second add wins over it.
	a.Join(b)
	b.Join(a.Remove("x", "a"))
	if a.Contains("x") || b.Contains("x") {
		t.Fatalf("observed remove did not remove")
	}
}

func TestLWWMapConcurrentSetsTieBreak(t *testing.T) {
	a, b := &LWWMap[string, int]{}, &LWWMap[string, int]{}
	da := a.Set("k", 1, Timestamp{Wall: 10, Replica: "a"})
	db := b.Set("k", 2, Timestamp{Wall: 10, Replica: "b"}) // same time: b > a by id
	a.Join(db)
	b.Join(da)
	for name, m := range map[string]*LWWMap[string, int]{"a": a, "b": b} {
		if v, _ := m.Get("k"); v != 2 || len(m.Store().Get("k")) != 2 {
			t.Fatalf("%s: Get = %d with %d values, want 2 from the higher replica id, both values kept", name, v, len(m.Store().Get("k")))
		}
	}
	// The next write by someone who saw both folds them into one.
	a.Set("k", 3, Timestamp{Wall: 5, Replica: "a"})
	if vs := a.Store().Get("k"); len(vs) != 1 {
		t.Fatalf("after a covering write, %d values remain", len(vs))
	}
}

// Overwriting the same keys must not pile up values: the store keeps one
// value per key and the context one range per replica.
func TestLWWMapOverwritesDoNotPileUp(t *testing.T) {
	const writes, keys = 100_000, 10
	t.Run("one replica", func(t *testing.T) {
		m := &LWWMap[string, int]{}
		clk := NewClock("a")
		for i := range writes {
			m.Set(fmt.Sprint("k", i%keys), i, clk.Now(int64(i/7)))
		}
		if m.Len() != keys || m.store.NumDots() != keys {
			t.Fatalf("%d keys, %d values after %d writes; want %d", m.Len(), m.store.NumDots(), writes, keys)
		}
		if n := m.Context().NumRanges(); n != 1 {
			t.Fatalf("context has %d ranges, want 1", n)
		}
	})
	t.Run("three replicas round robin", func(t *testing.T) {
		ids := []ReplicaID{"a", "b", "c"}
		var reps [3]*LWWMap[string, int]
		var clks [3]*Clock
		for i := range reps {
			reps[i], clks[i] = &LWWMap[string, int]{}, NewClock(ids[i])
		}
		for i := range writes {
			w := i % 3
			d := reps[w].Set(fmt.Sprint("k", i%keys), i, clks[w].Now(int64(i/7)))
			for j := range reps {
				if j != w {
					reps[j].Join(d)
				}
			}
		}
		for i, m := range reps {
			if m.Len() != keys || m.store.NumDots() != keys {
				t.Fatalf("replica %d: %d keys, %d values; want %d", i, m.Len(), m.store.NumDots(), keys)
			}
			if n := m.Context().NumRanges(); n != 3 {
				t.Fatalf("replica %d: context has %d ranges, want 3", i, n)
			}
		}
	})
}
