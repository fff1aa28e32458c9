package workflow

import (
	"maps"
	"testing"

	"pgregory.net/rapid"
)

// TestDotIndexMatchesMap drives a dotIndex and a plain map through the same
// random sets and deletes (runs of a replica's next counters, which grow
// the arrays, scattered counters, which land in the maps, and enough
// deletes to make arrays thin out) and compares every read.
func TestDotIndexMatchesMap(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var x dotIndex
		want := map[rdot]*slot{}
		slots := []*slot{{sub: "a"}, {sub: "b"}, {sub: "c"}}
		next := map[uint32]uint64{}
		if rapid.Bool().Draw(t, "reserve") { // as a decoder does
			lo := rapid.Uint64Range(1, 100).Draw(t, "lo")
			x.reserveDense(0, lo, lo+rapid.Uint64Range(0, 600).Draw(t, "span"))
			next[0] = lo - 1
		}
		var held []rdot
		for range rapid.IntRange(1, 400).Draw(t, "steps") {
			r := uint32(rapid.IntRange(0, 2).Draw(t, "replica"))
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op < 4: // a run of next counters
				for range rapid.IntRange(1, 80).Draw(t, "run") {
					next[r]++
					rd := rdot{r, next[r]}
					s := slots[rapid.IntRange(0, 2).Draw(t, "slot")]
					_, had := want[rd]
					if isNew := x.set(rd, s); isNew == had {
						t.Fatalf("set %v reported new=%v, held before %v", rd, isNew, had)
					}
					want[rd] = s
					held = append(held, rd)
				}
			case op < 6: // a scattered counter, maybe below the array
				rd := rdot{r, rapid.Uint64Range(1, 3000).Draw(t, "counter")}
				s := slots[rapid.IntRange(0, 2).Draw(t, "slot")]
				_, had := want[rd]
				if isNew := x.set(rd, s); isNew == had {
					t.Fatalf("set %v reported new=%v, held before %v", rd, isNew, had)
				}
				want[rd] = s
				held = append(held, rd)
			case op < 9: // deletes, many at once so arrays thin out
				for range rapid.IntRange(1, 120).Draw(t, "deletes") {
					if len(held) == 0 {
						break
					}
					i := rapid.IntRange(0, len(held)-1).Draw(t, "victim")
					rd := held[i]
					held[i] = held[len(held)-1]
					held = held[:len(held)-1]
					x.del(rd)
					delete(want, rd)
				}
			default:
				x.settle()
			}
			for _, rd := range held {
				if got := x.get(rd); got != want[rd] {
					t.Fatalf("get %v = %p, want %p", rd, got, want[rd])
				}
			}
			got := map[rdot]*slot{}
			x.each(func(rd rdot, s *slot) {
				if _, dup := got[rd]; dup {
					t.Fatalf("each lists %v twice", rd)
				}
				got[rd] = s
			})
			if !maps.Equal(got, want) {
				t.Fatalf("each lists %d dots, want %d", len(got), len(want))
			}
			for r := range x.byReplica {
				rs := &x.byReplica[r]
				live := 0
				for i, s := range rs.dense {
					if s != nil {
						live++
						if _, both := rs.sparse[rs.base+uint64(i)]; both {
							t.Fatalf("counter %d of replica %d in the array and the map", rs.base+uint64(i), r)
						}
					}
				}
				if live != rs.live {
					t.Fatalf("replica %d counts %d live, holds %d", r, rs.live, live)
				}
			}
		}
	})
}
