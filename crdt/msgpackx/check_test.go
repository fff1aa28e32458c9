package msgpackx

import (
	"encoding/hex"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// The inputs below made msgpack v5.4.1 allocate 2 GiB (an array header that
// claims 134 million elements) and 128 MiB (a bin header that claims 128 MiB)
// when decoded directly. They must be refused before any decoder sees them.
func TestHostileHeadersAreRefusedWithoutAllocating(t *testing.T) {
	cases := map[string][]byte{
		"array32 claiming 134M elements": {0xdd, 0x07, 0xff, 0xff, 0xff},
		"bin32 claiming 128 MiB":         {0xc6, 0x07, 0xff, 0xff, 0xff},
		"array32 all ones":               {0xdd, 0xff, 0xff, 0xff, 0xff},
		"map32 claiming 4G entries":      {0xdf, 0xff, 0xff, 0xff, 0xff},
		"str32 claiming 4 GiB":           {0xdb, 0xff, 0xff, 0xff, 0xff},
		"truncated uint64":               {0xcf, 0x01},
		"truncated length header":        {0xdd, 0x00},
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Decode(in, Limits{})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("Decode(% x) = %v, want ErrTruncated", in, err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
				t.Fatalf("Decode(% x) allocated %d bytes", in, grew)
			}
		})
	}
}

func TestDeepNestingIsRefused(t *testing.T) {
	in := make([]byte, 100_000)
	for i := range in {
		in[i] = 0x91 // array of one element, nested 100k times
	}
	if err := Check(in, Limits{}); !errors.Is(err, ErrTooDeep) && !errors.Is(err, ErrTruncated) {
		t.Fatalf("Check(100k × 0x91) = %v, want ErrTooDeep", err)
	}
	in[len(in)-1] = 0xc0
	if err := Check(in, Limits{}); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("Check(100k × 0x91 + nil) = %v, want ErrTooDeep", err)
	}
}

func TestCheckRefusesTrailingExtAndOversize(t *testing.T) {
	if err := Check([]byte{0xc0, 0xc0}, Limits{}); !errors.Is(err, ErrTrailing) {
		t.Fatalf("trailing: %v", err)
	}
	if err := Check([]byte{0xd4, 0x01, 0x00}, Limits{}); !errors.Is(err, ErrBadByte) {
		t.Fatalf("fixext: %v", err)
	}
	if err := Check([]byte{0xc1}, Limits{}); !errors.Is(err, ErrBadByte) {
		t.Fatalf("0xc1: %v", err)
	}
	if err := Check(make([]byte, 10), Limits{MaxBytes: 5}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	if err := Check(nil, Limits{}); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty: %v", err)
	}
}

func TestCheckAcceptsWhatTheLibraryEncodes(t *testing.T) {
	vals := []any{nil, true, false, 0, -1, 127, 128, -33, 1 << 40, 1.5, "", "hi",
		string(make([]byte, 70000)), []byte{1, 2, 3}, []any{1, "a", []any{}},
		map[string]any{"a": 1, "b": map[string]any{"c": []any{nil}}},
		make([]any, 70000), uint64(1 << 63)}
	for _, v := range vals {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(b, Limits{}); err != nil {
			t.Fatalf("Check(%T) = %v", v, err)
		}
	}
}

func TestCanonicalSortsKeysAndCompactsNumbers(t *testing.T) {
	a := MustCanonical(map[string]any{"b": 1.0, "a": []any{2.0, 2.5}})
	b := MustCanonical(map[string]any{"a": []any{int64(2), 2.5}, "b": 1})
	if string(a) != string(b) {
		t.Fatalf("canonical forms differ:\n% x\n% x", a, b)
	}
	v, err := Decode(a, ValueLimits)
	if err != nil {
		t.Fatal(err)
	}
	if string(MustCanonical(v)) != string(a) {
		t.Fatalf("round trip changed the bytes")
	}
}

func FuzzCheck(f *testing.F) {
	f.Add([]byte{0xdd, 0x07, 0xff, 0xff, 0xff})
	f.Add([]byte{0xc6, 0x07, 0xff, 0xff, 0xff})
	f.Add(MustCanonical(map[string]any{"a": []any{1, "x", 2.5}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if Check(b, Limits{}) != nil {
			return
		}
		// Whatever Check accepts must decode without error or panic when its
		// maps have string keys, and must never allocate beyond its size.
		_, _ = Decode(b, Limits{})
	})
}

func TestDecodeWidensNumbers(t *testing.T) {
	v, err := Decode(MustCanonical([]any{5, -3, 70000, 2.5}), ValueLimits)
	if err != nil {
		t.Fatal(err)
	}
	got := v.([]any)
	want := []any{int64(5), int64(-3), int64(70000), 2.5}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("element %d = %#v (%T), want %#v", i, got[i], got[i], want[i])
		}
	}
}

// TestCanonicalRefusesNonFinite is the regression test for NaN values: an
// operation carrying NaN or an infinity used to be stored, after which the
// view no longer marshalled to JSON. Canonical refuses them with a typed
// error, wherever they sit.
func TestCanonicalRefusesNonFinite(t *testing.T) {
	for _, v := range []any{
		math.NaN(), math.Inf(1), math.Inf(-1), float32(math.Inf(1)),
		[]any{1, math.NaN()},
		map[string]any{"a": map[string]any{"b": []any{math.Inf(-1)}}},
		[]float64{1, math.NaN()},
	} {
		if b, err := Canonical(v); !errors.Is(err, ErrNonFinite) {
			t.Errorf("Canonical(%v) = %x, %v; want ErrNonFinite", v, b, err)
		}
	}
}

// TestCheckCanonical holds every rule of the canonical form: what Canonical
// and the Append functions write passes, each longer or unsorted form and
// each non-finite float is refused with its typed error.
func TestCheckCanonical(t *testing.T) {
	for _, v := range []any{
		nil, true, 0, 127, 128, 255, 256, 65535, 65536, uint64(math.MaxUint32), uint64(math.MaxUint32) + 1,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, int64(math.MinInt64),
		uint64(math.MaxUint64), 1.5, -0.25, math.MaxFloat64, "", strings.Repeat("s", 31), strings.Repeat("s", 32),
		strings.Repeat("s", 256), strings.Repeat("s", 65536), []byte("bin"), make([]any, 15), make([]any, 16),
		map[string]any{"b": 1, "a": []any{map[string]any{"z": nil, "y": "x"}}, "": 2},
	} {
		b := MustCanonical(v)
		if err := CheckCanonical(b, Limits{}); err != nil {
			t.Errorf("CheckCanonical(Canonical(%.40v)) = %v", v, err)
		}
	}
	// A position: two float64 that hold integers, as the operations write it.
	pos := AppendFloat(AppendFloat(AppendArrayHeader(nil, 2), 100), -3)
	if err := CheckCanonical(pos, Limits{}); err != nil {
		t.Errorf("position: %v", err)
	}
	for _, tc := range []struct {
		name string
		hex  string
		want error
	}{
		{"uint8 below 128", "cc05", ErrNotCanonical},
		{"uint16 fits uint8", "cd00ff", ErrNotCanonical},
		{"uint32 fits uint16", "ce0000ffff", ErrNotCanonical},
		{"uint64 fits uint32", "cf00000000ffffffff", ErrNotCanonical},
		{"int8 positive", "d001", ErrNotCanonical},
		{"int8 fits fixint", "d0e0", ErrNotCanonical},
		{"int16 fits int8", "d1ff80", ErrNotCanonical},
		{"int32 fits int16", "d2ffff8000", ErrNotCanonical},
		{"int64 fits int32", "d3ffffffff80000000", ErrNotCanonical},
		{"int64 positive", "d30000000000000001", ErrNotCanonical},
		{"float32", "ca3f800000", ErrNotCanonical},
		{"NaN", "cb7ff8000000000001", ErrNonFinite},
		{"+Inf", "cb7ff0000000000000", ErrNonFinite},
		{"-Inf", "cbfff0000000000000", ErrNonFinite},
		{"NaN in a map", "81a161cb7ff8000000000000", ErrNonFinite},
		{"str8 fits fixstr", "d90161", ErrNotCanonical},
		{"str16 fits str8", "da000161", ErrNotCanonical},
		{"bin16 fits bin8", "c5000161", ErrNotCanonical},
		{"array16 fits fixarray", "dc000101", ErrNotCanonical},
		{"array32 fits array16", "dd0000000101", ErrNotCanonical},
		{"map16 fits fixmap", "de0001a16101", ErrNotCanonical},
		{"keys unsorted", "82a16201a16102", ErrNotCanonical},
		{"key repeated", "82a16101a16102", ErrNotCanonical},
		{"integer key", "810101", ErrNotCanonical},
		{"bin key", "81c4016101", ErrNotCanonical},
		{"nested longer form", "9191cc01", ErrNotCanonical},
	} {
		b, err := hex.DecodeString(tc.hex)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckCanonical(b, Limits{}); !errors.Is(err, tc.want) {
			t.Errorf("%s (%s): %v, want %v", tc.name, tc.hex, err, tc.want)
		}
	}
}
