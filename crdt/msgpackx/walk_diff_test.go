package msgpackx

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flowsync/flowsync/internal/testutil"
)

var walkSeed = flag.Uint64("msgpackx.seed", 0, "seed of the randomized walker tests (0: FLOWSYNC_SEED or the clock)")

// randValue appends a random msgpack value of at most depth levels. It
// writes canonical and non-canonical forms alike (longer integer and length
// headers, float32, unsorted and non-string map keys, NaN), so that both
// verdicts of the canonical walk are exercised.
func randValue(r *rand.Rand, b []byte, depth int) []byte {
	k := r.IntN(20)
	if depth <= 0 && k >= 14 {
		k = r.IntN(14)
	}
	switch k {
	case 0:
		return append(b, byte(r.IntN(0x80)))
	case 1:
		return append(b, 0xe0|byte(r.IntN(32)))
	case 2:
		return append(b, []byte{0xc0, 0xc2, 0xc3}[r.IntN(3)])
	case 3:
		return append(b, 0xcc, byte(r.IntN(256)))
	case 4:
		return binary.BigEndian.AppendUint16(append(b, []byte{0xcd, 0xd1}[r.IntN(2)]), uint16(r.Uint32()>>r.IntN(17)))
	case 5:
		return binary.BigEndian.AppendUint32(append(b, []byte{0xce, 0xd2, 0xca}[r.IntN(3)]), r.Uint32()>>r.IntN(33))
	case 6:
		return binary.BigEndian.AppendUint64(append(b, []byte{0xcf, 0xd3}[r.IntN(2)]), r.Uint64()>>r.IntN(65))
	case 7:
		f := []float64{0, 1.5, -2, math.NaN(), math.Inf(1), r.NormFloat64()}[r.IntN(6)]
		return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(f))
	case 8:
		return append(b, 0xd0, byte(r.IntN(256)))
	case 9, 10, 11:
		return randString(r, b)
	case 12:
		n := r.IntN(4)
		b = append(b, 0xc4, byte(n))
		return append(b, make([]byte, n)...)
	case 13:
		return append(b, []byte{0xc1, 0xd4, 0xc7}[r.IntN(3)], 0, 0) // refused by Check
	case 14, 15, 16:
		n := randLen(r)
		b = randHeader(r, b, n, 0x90, 0xdc, 0xdd)
		for range n {
			b = randValue(r, b, depth-1)
		}
		return b
	default:
		n := randLen(r)
		b = randHeader(r, b, n, 0x80, 0xde, 0xdf)
		for range n {
			if r.IntN(10) == 0 {
				b = randValue(r, b, 0)
			} else {
				b = randString(r, b)
			}
			b = randValue(r, b, depth-1)
		}
		return b
	}
}

// randString appends a short string, sometimes in a longer header than
// needed; its bytes come from a small alphabet so that keys often repeat.
func randString(r *rand.Rand, b []byte) []byte {
	n := r.IntN(3)
	switch r.IntN(6) {
	case 0:
		b = append(b, 0xd9, byte(n))
	case 1:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = append(b, 0xa0|byte(n))
	}
	for range n {
		b = append(b, 'a'+byte(r.IntN(3)))
	}
	return b
}

// randLen is a container length: mostly small, sometimes around 15, where
// the fix forms end.
func randLen(r *rand.Rand) int {
	if r.IntN(20) == 0 {
		return 14 + r.IntN(4)
	}
	return r.IntN(5)
}

func randHeader(r *rand.Rand, b []byte, n int, fix, h16, h32 byte) []byte {
	switch r.IntN(8) {
	case 0:
		return binary.BigEndian.AppendUint16(append(b, h16), uint16(n))
	case 1:
		return binary.BigEndian.AppendUint32(append(b, h32), uint32(n))
	}
	if n > 15 {
		return binary.BigEndian.AppendUint16(append(b, h16), uint16(n))
	}
	return append(b, fix|byte(n))
}

// mutate damages b the way a hostile or truncated frame would.
func mutate(r *rand.Rand, b []byte) []byte {
	b = append([]byte(nil), b...)
	for range r.IntN(3) {
		if len(b) == 0 {
			return b
		}
		switch r.IntN(4) {
		case 0:
			b[r.IntN(len(b))] = byte(r.IntN(256))
		case 1:
			b = b[:r.IntN(len(b))]
		case 2:
			i := r.IntN(len(b) + 1)
			b = append(b[:i], append([]byte{byte(r.IntN(256))}, b[i:]...)...)
		default:
			b = append(b, byte(r.IntN(256)))
		}
	}
	return b
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestWalkersMatchReferences holds skip and canonicalValue to the verdicts,
// offsets and error texts of the walkers they replaced (ref_test.go), on
// random values in canonical and other forms, whole and mutated, deep
// nesting included.
func TestWalkersMatchReferences(t *testing.T) {
	r := rand.New(rand.NewPCG(testutil.Seed(t, *walkSeed), 0))
	const rounds = 30000
	canonicalChecked := 0
	for i := range rounds {
		b := randValue(r, nil, 1+r.IntN(6))
		if r.IntN(3) == 0 {
			b = mutate(r, b)
		}
		if r.IntN(50) == 0 { // deep nesting around the limits
			d := 1 + r.IntN(70)
			deep := make([]byte, 0, d+len(b))
			for range d {
				deep = append(deep, 0x91)
			}
			b = append(deep, b...)
		}
		if len(b) == 0 {
			continue
		}
		maxDepth := []int{1, 2, 3, 8, 32, 40, 63, 64, 65, 100}[r.IntN(10)]
		maxNodes := math.MaxInt
		if r.IntN(2) == 0 {
			maxNodes = r.IntN(40)
		}
		off := 0
		if r.IntN(5) == 0 {
			off = r.IntN(len(b))
		}
		gotEnd, gotErr := skip(b, off, maxDepth, maxNodes)
		wantEnd, wantErr := skipRef(b, off, maxDepth, maxNodes)
		if gotEnd != wantEnd || errText(gotErr) != errText(wantErr) {
			t.Fatalf("round %d: skip(% x, %d, %d, %d) = %d, %v; reference %d, %v",
				i, b, off, maxDepth, maxNodes, gotEnd, gotErr, wantEnd, wantErr)
		}
		// Raw measures scalars from their header: the same end and error
		// as the walk.
		rd := NewReader(b)
		rd.off = off
		raw := rd.Raw()
		wantRawEnd, wantRawErr := Skip(b, off, defaultMaxDepth)
		if errText(rd.Err()) != errText(wantRawErr) || rd.Err() == nil && (off+len(raw) != wantRawEnd || rd.off != wantRawEnd) {
			t.Fatalf("round %d: Raw of % x at %d ended at %d, %v; Skip %d, %v", i, b, off, rd.off, rd.Err(), wantRawEnd, wantRawErr)
		}
		if Check(b, Limits{MaxDepth: 64}) != nil {
			continue
		}
		canonicalChecked++
		// CheckCanonicalNodes checks scalars from their header: the same
		// count and error as the walk it skips.
		nodesBudget := r.IntN(4)
		if r.IntN(2) == 0 {
			nodesBudget = 1 + r.IntN(40)
		}
		gotNodes, gotNodesErr := CheckCanonicalNodes(b, nodesBudget)
		wantNodes, wantNodesErr := checkCanonicalNodesByWalk(b, nodesBudget)
		if gotNodes != wantNodes || errText(gotNodesErr) != errText(wantNodesErr) {
			t.Fatalf("round %d: CheckCanonicalNodes(% x, %d) = %d, %v; by the walk %d, %v", i, b, nodesBudget, gotNodes, gotNodesErr, wantNodes, wantNodesErr)
		}
		budget := math.MaxInt
		if r.IntN(2) == 0 {
			budget = r.IntN(30)
		}
		gotBudget, wantBudget := budget, budget
		gotEnd, gotErr = canonicalValue(b, 0, &gotBudget)
		wantEnd, wantErr = canonicalValueRef(b, 0, &wantBudget)
		if gotEnd != wantEnd || errText(gotErr) != errText(wantErr) || gotErr == nil && gotBudget != wantBudget {
			t.Fatalf("round %d: canonicalValue(% x, budget %d) = %d, %v (budget left %d); reference %d, %v (%d)",
				i, b, budget, gotEnd, gotErr, gotBudget, wantEnd, wantErr, wantBudget)
		}
	}
	if canonicalChecked < rounds/4 {
		t.Fatalf("only %d of %d inputs passed Check: the generator no longer exercises the canonical walk", canonicalChecked, rounds)
	}
}

// checkCanonicalNodesByWalk is CheckCanonicalNodes without its scalar fast
// path: every value walked by canonicalValue.
func checkCanonicalNodesByWalk(b []byte, budget int) (int, error) {
	left := budget - 1
	if left < 0 {
		return 0, fmt.Errorf("%w: more than %d", ErrTooManyNodes, budget)
	}
	if _, err := canonicalValue(b, 0, &left); err != nil {
		if errors.Is(err, ErrTooManyNodes) {
			err = fmt.Errorf("%w: more than %d", ErrTooManyNodes, budget)
		}
		return 0, err
	}
	return budget - left, nil
}
