package msgpackx

import (
	"math"
	"strings"
	"testing"
)

// Each Size function agrees with its Append function at every form's
// boundaries.
func TestSizesMatchAppends(t *testing.T) {
	var uints []uint64
	for _, b := range []uint64{0, 0x7f, math.MaxUint8, math.MaxUint16, math.MaxUint32, math.MaxUint64} {
		uints = append(uints, b, b+1, b-1)
	}
	for _, v := range uints {
		if got, want := UintSize(v), len(AppendUint(nil, v)); got != want {
			t.Errorf("UintSize(%d) = %d, AppendUint writes %d", v, got, want)
		}
	}
	var ints []int64
	for _, b := range []int64{0, -32, math.MinInt8, math.MinInt16, math.MinInt32, math.MinInt64, 0x7f, math.MaxUint8, math.MaxUint16, math.MaxUint32, math.MaxInt64} {
		ints = append(ints, b, b+1, b-1)
	}
	for _, v := range ints {
		if got, want := IntSize(v), len(AppendInt(nil, v)); got != want {
			t.Errorf("IntSize(%d) = %d, AppendInt writes %d", v, got, want)
		}
	}
	for _, n := range []int{0, 1, 15, 16, 31, 32, math.MaxUint8, math.MaxUint8 + 1, math.MaxUint16, math.MaxUint16 + 1} {
		s := strings.Repeat("x", n)
		if got, want := StringSize(n), len(AppendString(nil, s)); got != want {
			t.Errorf("StringSize(%d) = %d, AppendString writes %d", n, got, want)
		}
		if got, want := BytesSize(n), len(AppendBytes(nil, []byte(s))); got != want {
			t.Errorf("BytesSize(%d) = %d, AppendBytes writes %d", n, got, want)
		}
		if got, want := ArrayHeaderSize(n), len(AppendArrayHeader(nil, n)); got != want {
			t.Errorf("ArrayHeaderSize(%d) = %d, AppendArrayHeader writes %d", n, got, want)
		}
	}
}
