package workflow

// Property: Store behaves as crdt.DotMap[Key, Cell] (the reference) under
// random puts, joins with removals, and clones; it keeps its layout
// invariants (groups in id order, keys in (kind, sub) order, values in dot
// order); and a slice it handed out (Get, Range) never changes afterwards,
// whatever the store does next.
//
//	go test ./crdt/workflow -run StoreMatchesDotMap -rapid.checks=2000

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"pgregory.net/rapid"
)

// storeSide is one replica's state, held twice: in a Store and in the
// reference DotMap, over one context.
type storeSide struct {
	got  *Store
	want *crdt.DotMap[Key, Cell]
	ctx  crdt.Context
}

// handedOut is a slice the store returned, and a copy of what it held.
type handedOut struct {
	s    []crdt.Dotted[Cell]
	copy []crdt.Dotted[Cell]
}

func TestStoreMatchesDotMap(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		sides := []*storeSide{
			{got: &Store{}, want: &crdt.DotMap[Key, Cell]{}},
			{got: &Store{}, want: &crdt.DotMap[Key, Cell]{}},
		}
		replicas := []crdt.ReplicaID{"a", "bb", "c"}
		next := map[crdt.ReplicaID]uint64{}
		var kept []handedOut
		keyGen := rapid.Custom(func(t *rapid.T) Key {
			k := Key{
				Kind: Kind(rapid.IntRange(1, int(maxKind)).Draw(t, "kind")),
				ID:   rapid.SampledFrom([]string{"x", "y", "z", "e-x"}).Draw(t, "id"),
			}
			if !isMembership(k.Kind) {
				k.Sub = rapid.SampledFrom([]string{"", "name", "position", "p"}).Draw(t, "sub")
			}
			return k
		})
		for range rapid.IntRange(1, 60).Draw(rt, "steps") {
			i := rapid.IntRange(0, 1).Draw(rt, "side")
			s, o := sides[i], sides[1-i]
			switch rapid.IntRange(0, 5).Draw(rt, "op") {
			case 0, 1: // a write, covering some of the key's values (an overwrite)
				k := keyGen.Draw(rt, "key")
				r := rapid.SampledFrom(replicas).Draw(rt, "replica")
				next[r]++
				dot := crdt.Dot{Replica: r, Counter: next[r]}
				cell := Cell{Wall: int64(next[r]), Value: Value(fmt.Sprint(dot))}
				var delta storeSide
				delta.got, delta.want = &Store{}, &crdt.DotMap[Key, Cell]{}
				delta.got.Put(k, dot, cell)
				delta.want.Put(k, dot, cell)
				delta.ctx.Add(dot)
				for _, e := range s.want.Get(k) {
					if rapid.Bool().Draw(rt, "covers") {
						delta.ctx.Add(e.Dot)
					}
				}
				join(rt, s, &delta)
			case 2: // a removal of one held value
				var dots []crdt.Dot
				s.want.Dots(func(d crdt.Dot) { dots = append(dots, d) })
				if len(dots) == 0 {
					continue
				}
				slices.SortFunc(dots, func(a, b crdt.Dot) int { return strings.Compare(a.String(), b.String()) })
				delta := storeSide{got: &Store{}, want: &crdt.DotMap[Key, Cell]{}}
				delta.ctx.Add(rapid.SampledFrom(dots).Draw(rt, "removed"))
				join(rt, s, &delta)
			case 3: // a full-state join from the other side
				join(rt, s, o)
			case 4: // a clone replaces the store; the original must not see later changes
				orig := s.got
				s.got = orig.Clone()
				checkSide(rt, "original after clone", &storeSide{got: orig, want: s.want.Clone(), ctx: s.ctx})
				frozen := s.want.Clone()
				k := keyGen.Draw(rt, "key")
				r := rapid.SampledFrom(replicas).Draw(rt, "replica")
				next[r]++
				dot := crdt.Dot{Replica: r, Counter: next[r]}
				s.got.Put(k, dot, Cell{Value: Value("c")})
				s.want.Put(k, dot, Cell{Value: Value("c")})
				s.ctx.Add(dot)
				checkSide(rt, "original after a put into its clone", &storeSide{got: orig, want: frozen, ctx: s.ctx})
			case 5: // keep what Get returns, to check it never changes
				k := keyGen.Draw(rt, "key")
				if es := s.got.Get(k); len(es) > 0 {
					kept = append(kept, handedOut{es, slices.Clone(es)})
				}
				s.got.Range(func(_ Key, es []crdt.Dotted[Cell]) bool {
					kept = append(kept, handedOut{es, slices.Clone(es)})
					return false
				})
			}
			for _, side := range sides {
				checkSide(rt, "after step", side)
			}
			for j, h := range kept {
				if !slices.EqualFunc(h.s, h.copy, func(a, b crdt.Dotted[Cell]) bool {
					return a.Dot == b.Dot && string(a.Value.Value) == string(b.Value.Value)
				}) {
					rt.Fatalf("slice %d handed out earlier changed: %v, was %v", j, h.s, h.copy)
				}
			}
		}
	})
}

// join merges o into s on both implementations.
func join(t *rapid.T, s, o *storeSide) {
	n := s.got.Join(o.got, &s.ctx, &o.ctx)
	m := s.want.Join(o.want, &s.ctx, &o.ctx)
	if n != m {
		t.Fatalf("Join changed %d values, the reference %d", n, m)
	}
	s.ctx.Merge(&o.ctx)
}

// checkSide compares the store with the reference and checks its layout.
func checkSide(t *rapid.T, when string, s *storeSide) {
	entries := func(keys func(func(Key, []crdt.Dotted[Cell]) bool)) []string {
		var out []string
		keys(func(k Key, es []crdt.Dotted[Cell]) bool {
			for _, e := range es {
				out = append(out, fmt.Sprintf("%v %v %d %s", k, e.Dot, e.Value.Wall, e.Value.Value))
			}
			return true
		})
		slices.Sort(out)
		return out
	}
	got, want := entries(s.got.Range), entries(s.want.Range)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: store holds\n%v\nreference\n%v", when, got, want)
	}
	if s.got.Len() != s.want.Len() || s.got.NumDots() != s.want.NumDots() {
		t.Fatalf("%s: %d keys %d dots, reference %d keys %d dots", when, s.got.Len(), s.got.NumDots(), s.want.Len(), s.want.NumDots())
	}
	s.want.Dots(func(d crdt.Dot) {
		wk, _ := s.want.KeyOf(d)
		if gk, ok := s.got.KeyOf(d); !ok || gk != wk || !s.got.Has(d) {
			t.Fatalf("%s: dot %v under %v (held %v), reference %v", when, d, gk, ok, wk)
		}
	})
	var dots []crdt.Dot
	s.got.Dots(func(d crdt.Dot) { dots = append(dots, d) })
	if len(dots) != s.want.NumDots() {
		t.Fatalf("%s: Dots lists %d, reference holds %d", when, len(dots), s.want.NumDots())
	}
	// Layout: ids ascending, keys ascending in each group, values in dot
	// order, and the per-kind counts Encode places groups by.
	prev := ""
	first := true
	var kindGroups [maxKind + 1]int
	s.got.order.eachSorted(func(g *group) bool {
		var nkind [maxKind + 1]int32
		for _, sl := range g.slots {
			nkind[sl.kind]++
		}
		if nkind != g.nkind {
			t.Fatalf("%s: group %q counts keys per kind %v, holds %v", when, g.id, g.nkind, nkind)
		}
		for k, n := range nkind {
			if n > 0 {
				kindGroups[k]++
			}
		}
		if !first && g.id <= prev {
			t.Fatalf("%s: group %q after %q", when, g.id, prev)
		}
		first, prev = false, g.id
		if len(g.slots) == 0 || s.got.groups[g.id] != g {
			t.Fatalf("%s: group %q empty or not the store's", when, g.id)
		}
		for j, sl := range g.slots {
			if sl.g != g || len(sl.es) == 0 {
				t.Fatalf("%s: slot %v of %q belongs elsewhere or is empty", when, sl.key(), g.id)
			}
			if j > 0 && (sl.kind < g.slots[j-1].kind || sl.kind == g.slots[j-1].kind && sl.sub <= g.slots[j-1].sub) {
				t.Fatalf("%s: keys of %q out of order at %d", when, g.id, j)
			}
			if !slices.IsSortedFunc(sl.es, func(a, b crdt.Dotted[Cell]) int { return compareDots(a.Dot, b.Dot) }) {
				t.Fatalf("%s: values of %v out of dot order", when, sl.key())
			}
		}
		return true
	})
	if kindGroups != s.got.kindGroups {
		t.Fatalf("%s: the store counts groups per kind %v, holds %v", when, s.got.kindGroups, kindGroups)
	}
}
