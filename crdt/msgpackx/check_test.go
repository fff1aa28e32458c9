package msgpackx

import (
	"errors"
	"runtime"
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
