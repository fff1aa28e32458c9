package crdt

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
)

// fuzzStep performs the mutation byte b describes as replica r and returns
// its delta, or false if it had nothing to act on.
type fuzzStep[S any] func(s S, r ReplicaID, clk *Clock, b byte, wall int64) (S, bool)

func lwwFuzzStep(s *LWWMap[string, int], r ReplicaID, clk *Clock, b byte, wall int64) (*LWWMap[string, int], bool) {
	k := testKeys[(b/4)%4]
	if b%4 == 3 {
		d := s.Delete(k, r)
		return d, d != nil
	}
	return s.Set(k, int(b/16), clk.Now(wall)), true
}

func orsetFuzzStep(s *ORSet[string], r ReplicaID, _ *Clock, b byte, _ int64) (*ORSet[string], bool) {
	e := testKeys[(b/4)%4]
	if b%4 == 3 {
		d := s.Remove(e, r)
		return d, d != nil
	}
	return s.Add(e, r), true
}

// fuzzLaws runs the history ops describes over three replicas: byte i picks
// the replica (i%3 of the byte), the mutation and its key. Which deltas each
// replica receives between steps, and the delivery orders, come from rng.
func fuzzLaws[S any](t *testing.T, l lattice[S], step fuzzStep[S], ops []byte, rng *rand.Rand) {
	ids := []ReplicaID{"r0", "r1", "r2"}
	reps := make([]S, len(ids))
	clocks := make([]*Clock, len(ids))
	for i := range ids {
		reps[i], clocks[i] = l.empty(), NewClock(ids[i])
	}
	var deltas []S
	fail := func(what string, a, b S) {
		t.Helper()
		if ok, diff := l.sameState(a, b); !ok {
			t.Fatalf("%s: %s", what, diff)
		}
		if ra, rb := l.read(a), l.read(b); ra != rb {
			t.Fatalf("%s: equal states read differently: %s vs %s", what, ra, rb)
		}
	}
	for i, b := range ops {
		r := int(b) % len(ids)
		for range rng.IntN(3) {
			if len(deltas) > 0 {
				l.join(reps[r], deltas[rng.IntN(len(deltas))])
			}
		}
		if d, ok := step(reps[r], ids[r], clocks[r], b/3, int64(i/4)); ok {
			deltas = append(deltas, l.clone(d))
		}
	}
	if len(deltas) == 0 {
		return
	}
	pick := func() S {
		if rng.IntN(2) == 0 {
			return reps[rng.IntN(len(reps))]
		}
		return deltas[rng.IntN(len(deltas))]
	}
	for range 5 {
		a, b := pick(), pick()
		fail("commutative", l.joined(a, b), l.joined(b, a))
		fail("idempotent", l.joined(a, a), a)
	}
	for i, r := range reps {
		for _, k := range rng.Perm(len(deltas)) {
			l.join(r, deltas[k])
		}
		fail(fmt.Sprintf("replica %d converged", i), r, reps[0])
		for range 3 {
			fail("delivering a delta twice", l.joined(r, deltas[rng.IntN(len(deltas))]), r)
		}
	}
}

// FuzzMergeLaws derives op histories from the fuzz input and checks that
// replicas converge whatever the delivery order, and that join is
// commutative and idempotent, for the OR-set and the LWW map.
func FuzzMergeLaws(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 2, 9, 10, 11, 3, 4, 5})
	f.Add([]byte("add remove set delete, three replicas, many times over"))
	f.Add([]byte{0xff, 0xfe, 0xfd, 0x0c, 0x0d, 0x0e, 0x24, 0x25, 0x26, 0x09, 0x0a, 0x0b})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			data = data[:64]
		}
		seed := sha256.Sum256(data)
		fuzzLaws(t, orsetLattice, orsetFuzzStep, data, rand.New(rand.NewChaCha8(seed)))
		fuzzLaws(t, lwwLattice, lwwFuzzStep, data, rand.New(rand.NewChaCha8(seed)))
	})
}

// TestMergeLawsSeeded runs the fuzz property on random inputs with a logged
// seed (FLOWSYNC_SEED or -flowsync.seed replays it).
func TestMergeLawsSeeded(t *testing.T) {
	rng := testRand(t)
	for range 300 {
		data := make([]byte, rng.IntN(65))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		var seed [32]byte
		for i := range seed {
			seed[i] = byte(rng.Uint32())
		}
		fuzzLaws(t, orsetLattice, orsetFuzzStep, data, rand.New(rand.NewChaCha8(seed)))
		fuzzLaws(t, lwwLattice, lwwFuzzStep, data, rand.New(rand.NewChaCha8(seed)))
	}
}
