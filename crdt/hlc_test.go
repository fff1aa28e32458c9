package crdt

import (
	"cmp"
	"math"
	"testing"

	"pgregory.net/rapid"
)

// wallGen draws wall clock readings in a realistic range (non-negative, far
// from overflow) that may jump backwards or stand still.
var wallGen = rapid.Int64Range(0, 1<<45)

func TestClockNeverRunsBackwards(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := NewClock("a")
		var prev Timestamp
		for i, n := 0, rapid.IntRange(1, 200).Draw(t, "n"); i < n; i++ {
			var ts Timestamp
			if rapid.Bool().Draw(t, "observe") {
				remote := Timestamp{
					Wall:    wallGen.Draw(t, "remoteWall"),
					Logical: rapid.Uint32().Draw(t, "remoteLogical"),
					Replica: rapid.SampledFrom([]ReplicaID{"a", "b", "z"}).Draw(t, "remoteReplica"),
				}
				c.Observe(remote, wallGen.Draw(t, "wall"))
				if last := c.Last(); last.Compare(remote) <= 0 {
					t.Fatalf("after Observe(%v) Last() = %v, not after it", remote, last)
				}
				ts = c.Last()
			} else {
				ts = c.Now(wallGen.Draw(t, "wall"))
				if ts.Replica != "a" {
					t.Fatalf("Now stamped replica %q", ts.Replica)
				}
			}
			if ts.Compare(prev) <= 0 {
				t.Fatalf("reading %v does not follow %v", ts, prev)
			}
			prev = ts
		}
	})
}

func TestClockBackwardsWallClock(t *testing.T) {
	c := NewClock("a")
	first := c.Now(1000)
	second := c.Now(500) // wall clock stepped back
	third := c.Now(500)
	if first.Compare(second) >= 0 || second.Compare(third) >= 0 {
		t.Fatalf("readings %v, %v, %v are not increasing", first, second, third)
	}
	if second.Wall != 1000 || second.Logical != 1 || third.Logical != 2 {
		t.Fatalf("lagging wall clock: got %v then %v, want wall 1000 with logical 1, 2", second, third)
	}
	if fourth := c.Now(2000); fourth != (Timestamp{Wall: 2000, Replica: "a"}) {
		t.Fatalf("wall clock caught up: got %v, want {2000 0 a}", fourth)
	}
}

func TestClockObserveMovesPastRemote(t *testing.T) {
	cases := map[string]struct {
		local  int64 // wall of the clock's only reading before Observe
		remote Timestamp
		wall   int64
	}{
		"remote ahead of both":          {local: 100, remote: Timestamp{Wall: 500, Logical: 7, Replica: "b"}, wall: 200},
		"remote equal wall, more logic": {local: 500, remote: Timestamp{Wall: 500, Logical: 7, Replica: "b"}, wall: 500},
		"remote equal, higher replica":  {local: 500, remote: Timestamp{Wall: 500, Logical: 0, Replica: "z"}, wall: 400},
		"remote behind":                 {local: 500, remote: Timestamp{Wall: 10, Logical: 99, Replica: "b"}, wall: 400},
		"wall ahead of both":            {local: 100, remote: Timestamp{Wall: 500, Logical: 7, Replica: "b"}, wall: 900},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := NewClock("a")
			c.Now(tc.local)
			c.Observe(tc.remote, tc.wall)
			if last := c.Last(); last.Compare(tc.remote) <= 0 {
				t.Fatalf("Last() = %v after observing %v", last, tc.remote)
			}
			if next := c.Now(tc.wall); next.Compare(tc.remote) <= 0 {
				t.Fatalf("Now() = %v after observing %v", next, tc.remote)
			}
		})
	}
}

func TestClockLogicalOverflowBorrowsMillisecond(t *testing.T) {
	c := NewClock("a")
	c.Observe(Timestamp{Wall: 1000, Logical: math.MaxUint32 - 1, Replica: "b"}, 1000)
	if got := c.Last(); got.Wall != 1000 || got.Logical != math.MaxUint32 {
		t.Fatalf("after observing logical max-1: %v", got)
	}
	got := c.Now(1000)
	if got.Wall != 1001 || got.Logical != 0 {
		t.Fatalf("Now at logical max = %v, want wall 1001 logical 0", got)
	}
	// Observing a saturated remote directly also borrows.
	c2 := NewClock("a")
	remote := Timestamp{Wall: 5000, Logical: math.MaxUint32, Replica: "b"}
	c2.Observe(remote, 10)
	if got := c2.Last(); got.Wall != 5001 || got.Logical != 0 || got.Compare(remote) <= 0 {
		t.Fatalf("observing %v gave %v, want {5001 0 a}", remote, got)
	}
}

func TestClockLastBeforeFirstReading(t *testing.T) {
	if got := NewClock("a").Last(); !got.IsZero() {
		t.Fatalf("Last() of a fresh clock = %v, want zero", got)
	}
}

func TestTimestampCompareIsATotalOrder(t *testing.T) {
	gen := rapid.Custom(func(t *rapid.T) Timestamp {
		return Timestamp{
			Wall:    rapid.Int64Range(-2, 2).Draw(t, "wall"),
			Logical: rapid.Uint32Range(0, 2).Draw(t, "logical"),
			Replica: rapid.SampledFrom([]ReplicaID{"", "a", "b"}).Draw(t, "replica"),
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		a, b, c := gen.Draw(t, "a"), gen.Draw(t, "b"), gen.Draw(t, "c")
		if a.Compare(a) != 0 {
			t.Fatalf("%v not equal to itself", a)
		}
		if a.Compare(b) != -b.Compare(a) {
			t.Fatalf("antisymmetry: %v vs %v", a, b)
		}
		if (a.Compare(b) == 0) != (a == b) {
			t.Fatalf("Compare(%v, %v) = 0 but they differ (or vice versa)", a, b)
		}
		if a.Compare(b) <= 0 && b.Compare(c) <= 0 && a.Compare(c) > 0 {
			t.Fatalf("transitivity: %v <= %v <= %v but %v > %v", a, b, c, a, c)
		}
		// Lexicographic on (wall, logical, replica).
		want := 0
		switch {
		case a.Wall != b.Wall:
			want = cmp.Compare(a.Wall, b.Wall)
		case a.Logical != b.Logical:
			want = cmp.Compare(a.Logical, b.Logical)
		default:
			want = cmp.Compare(a.Replica, b.Replica)
		}
		if got := a.Compare(b); got != want {
			t.Fatalf("Compare(%v, %v) = %d, want %d", a, b, got, want)
		}
	})
}

// TestClockSaturatesAtTheTopOfTheDomain is the regression test for
// Observe(MaxInt64, MaxUint32), which used to borrow a millisecond past
// MaxInt64 and wrap the clock to MinInt64: every later write would have lost
// to every earlier one. Readings now stay within [-MaxWall, MaxWall] and
// never run backwards, whatever is observed or passed in.
func TestClockSaturatesAtTheTopOfTheDomain(t *testing.T) {
	c := NewClock("a")
	c.Observe(Timestamp{Wall: math.MaxInt64, Logical: math.MaxUint32, Replica: "b"}, 1_700_000_000_000)
	prev := c.Last()
	if prev.Wall != MaxWall || prev.Logical != math.MaxUint32 {
		t.Fatalf("after observing the top: %+v, want wall %d logical %d", prev, int64(MaxWall), uint32(math.MaxUint32))
	}
	for _, wall := range []int64{0, math.MaxInt64, math.MinInt64, MaxWall} {
		now := c.Now(wall)
		if now.Compare(prev) < 0 || now.Wall != MaxWall {
			t.Fatalf("Now(%d) = %+v after %+v: ran backwards or left the domain", wall, now, prev)
		}
		prev = now
	}

	// Below the top a borrowed millisecond still orders strictly after.
	c = NewClock("a")
	c.Observe(Timestamp{Wall: MaxWall - 1, Logical: math.MaxUint32, Replica: "b"}, 0)
	if got := c.Last(); got.Wall != MaxWall || got.Logical != 0 {
		t.Fatalf("borrowing below the top: %+v, want wall %d logical 0", got, int64(MaxWall))
	}

	// A wall far below the domain counts as its bottom.
	c = NewClock("a")
	if got := c.Now(math.MinInt64); !ValidWall(got.Wall) {
		t.Fatalf("Now(MinInt64) = %+v, outside the domain", got)
	}
	c.Observe(Timestamp{Wall: math.MinInt64, Logical: 7, Replica: "b"}, math.MinInt64)
	if got := c.Last(); !ValidWall(got.Wall) {
		t.Fatalf("after observing MinInt64: %+v, outside the domain", got)
	}
}
