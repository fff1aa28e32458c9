package protocol

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	m "github.com/flowsync/flowsync/crdt/msgpackx"
)

func nanValue() float64 { return math.NaN() }

// frame builds an envelope by hand: type, then body key/value pairs given as
// already-encoded msgpack.
func frame(t uint64, kv ...[]byte) []byte {
	b := m.AppendArrayHeader(nil, 2)
	b = m.AppendUint(b, t)
	b = m.AppendMapHeader(b, len(kv)/2)
	for _, x := range kv {
		b = append(b, x...)
	}
	return b
}

func s(v string) []byte  { return m.AppendString(nil, v) }
func u(v uint64) []byte  { return m.AppendUint(nil, v) }
func bn(v []byte) []byte { return m.AppendBytes(nil, v) }

func TestDecodeStrictness(t *testing.T) {
	validDelta := frame(0x04, s("wf"), s("w"), s("op"), s("o"), s("d"), bn([]byte{1}))
	if _, err := Decode(validDelta, Limits{}); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"trailing bytes", append(bytes.Clone(validDelta), 0xc0), m.ErrTrailing},
		{"duplicate known key", frame(0x04, s("wf"), s("w"), s("wf"), s("x"), s("op"), s("o"), s("d"), bn([]byte{1})), ErrDuplicateKey},
		{"duplicate unknown key", frame(0x04, s("wf"), s("w"), s("zz"), u(1), s("zz"), u(2), s("op"), s("o"), s("d"), bn([]byte{1})), ErrDuplicateKey},
		{"unknown frame type", frame(0x3e, s("wf"), s("w")), ErrUnknownFrameType},
		{"unknown opcode 0xff", frame(0xff), ErrUnknownFrameType},
		{"frame type over 255", frame(0x1ff), ErrWrongType},
		{"type is a string", append(append(m.AppendArrayHeader(nil, 2), s("delta")...), 0x80), ErrWrongType},
		{"envelope is a map", append(m.AppendMapHeader(nil, 1), append(u(4), 0x80)...), ErrWrongType},
		{"envelope of 3", append(append(m.AppendArrayHeader(nil, 3), u(3)...), 0x80, 0xc0), ErrWrongType},
		{"body is an array", append(append(m.AppendArrayHeader(nil, 2), u(3)...), 0x90), ErrWrongType},
		{"wf is an int", frame(0x03, s("wf"), u(7)), ErrWrongType},
		{"delta is a string", frame(0x04, s("wf"), s("w"), s("op"), s("o"), s("d"), s("xyz")), ErrWrongType},
		{"map key is an int", frame(0x03, u(1), s("w")), ErrWrongType},
		// An unknown key is skipped, but its value still obeys §2 (the
		// TypeScript decoder refuses it too).
		{"int map key under an unknown key", frame(0x03, s("wf"), s("w"), s("future"), append(append(m.AppendArrayHeader(nil, 1), m.AppendMapHeader(nil, 1)...), append(u(1), u(2)...)...)), ErrWrongType},
		{"required wf is nil", frame(0x03, s("wf"), m.AppendNil(nil)), ErrWrongType},
		{"missing wf", frame(0x03), ErrMissingKey},
		{"missing delta", frame(0x04, s("wf"), s("w"), s("op"), s("o")), ErrMissingKey},
		{"missing roster entry key", frame(0x48, s("wf"), s("w"), s("entries"), append(m.AppendArrayHeader(nil, 1), frame(0)[2:]...)), ErrMissingKey},
		{"ext type", append(bytes.Clone(validDelta[:len(validDelta)-3]), 0xd4, 0x01, 0x00), m.ErrBadByte},
		{"oversize", frame(0x04, s("wf"), s("w"), s("op"), s("o"), s("d"), bn(make([]byte, 2000))), ErrTooLarge},
		{"truncated", validDelta[:len(validDelta)-1], m.ErrTruncated},
		{"empty", nil, m.ErrEmpty},
		{"negative seq", frame(0x42, s("wf"), s("w"), s("seq"), m.AppendInt(nil, -1), s("last"), m.AppendBool(nil, true), s("d"), bn([]byte{1})), ErrWrongType},
		{"id too long", frame(0x03, s("wf"), s(strings.Repeat("w", MaxIDBytes+1))), ErrInvalidValue},
		{"unknown role", frame(0x41, s("wf"), s("w"), s("role"), s("owner"), s("ctx"), bn([]byte{1}), s("roster"), []byte{0x90}, s("chunks"), u(0)), ErrInvalidValue},
		{"payload not a map", frame(0x05, s("wf"), s("w"), s("op"), s("o"), s("name"), s("n"), s("target"), s("t"), s("payload"), []byte{0x90}), ErrWrongType},
		{"payload map with int key", frame(0x05, s("wf"), s("w"), s("op"), s("o"), s("name"), s("n"), s("target"), s("t"), s("payload"), []byte{0x81, 0x01, 0x02}), ErrInvalidValue},
		{"payload duplicate key", frame(0x05, s("wf"), s("w"), s("op"), s("o"), s("name"), s("n"), s("target"), s("t"), s("payload"), append(append(append([]byte{0x82}, s("a")...), append(u(1), s("a")...)...), u(2)...)), ErrInvalidValue},
		{"drag duplicate block", frame(0x07, s("wf"), s("w"), s("pos"), append(append(append(m.AppendMapHeader(nil, 2), s("b")...), point(1, 2)...), append(s("b"), point(3, 4)...)...)), ErrDuplicateKey},
		{"cursor NaN", frame(0x06, s("wf"), s("w"), s("cur"), point(math.NaN(), 0)), ErrInvalidValue},
		{"cursor missing y", frame(0x06, s("wf"), s("w"), s("cur"), append(m.AppendMapHeader(nil, 1), append(s("x"), u(1)...)...)), ErrMissingKey},
		{"code over 16 bits", frame(0x4b, s("code"), u(70000), s("retry"), m.AppendBool(nil, false)), ErrWrongType},
		{"too many map pairs", frame(0x03, s("wf"), s("w"), s("x"), bigMap(MaxMapPairs+1)), ErrTooLarge},
		{"too many keys in a struct map", manyKeys(maxStructKeys + 1), ErrTooLarge},
		{"too many containers", frame(0x03, s("wf"), s("w"), s("x"), emptyMaps(MaxContainers)), ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lim := Limits{}
			if tc.name == "oversize" {
				lim.MaxFrameBytes = 1024
			}
			if tc.name == "too many map pairs" {
				lim.MaxFrameBytes = 8 << 20
			}
			f, err := Decode(tc.in, lim)
			if err == nil {
				t.Fatalf("decoded %#v, want %v", f, tc.want)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidFrame) {
				t.Fatalf("error %v does not match ErrInvalidFrame", err)
			}
			if CodeFor(err) != CodeInvalidFrame && CodeFor(err) != CodeTooLarge {
				t.Fatalf("CodeFor = %v", CodeFor(err))
			}
		})
	}
}

func point(x, y float64) []byte {
	b := m.AppendMapHeader(nil, 2)
	b = m.AppendFloat(append(b, s("x")...), x)
	return m.AppendFloat(append(b, s("y")...), y)
}

func bigMap(n int) []byte {
	b := m.AppendMapHeader(nil, n)
	for i := 0; i < n; i++ {
		b = append(b, 0, 0)
	}
	return b
}

// manyKeys returns a Leave frame whose body has n distinct keys.
func manyKeys(n int) []byte {
	b := m.AppendMapHeader(append(m.AppendArrayHeader(nil, 2), 0x03), n)
	b = append(append(b, s("wf")...), s("w")...)
	for i := 1; i < n; i++ {
		b = append(b, s(string(rune('A'+i%26))+string(rune('a'+i/26)))...)
		b = append(b, 0xc0)
	}
	return b
}

func TestDecodeUnknownKeysAndNilOptionalsAreAccepted(t *testing.T) {
	in := frame(0x02, s("wf"), s("w"), s("future"), append(m.AppendArrayHeader(nil, 1), 0x80), s("tab"), m.AppendNil(nil), s("ctx"), m.AppendNil(nil))
	f, err := Decode(in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if j := f.(*Join); j.WorkflowID != "w" || j.TabSessionID != "" || j.Context != nil {
		t.Fatalf("%#v", j)
	}
	// Numbers of any msgpack numeric form are accepted for coordinates.
	in = frame(0x06, s("wf"), s("w"), s("cur"), append(append(append(m.AppendMapHeader(nil, 2), s("x")...), append(m.AppendInt(nil, -5), s("y")...)...), 0xca, 0x3f, 0xc0, 0, 0))
	f, err = Decode(in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if c := f.(*Presence).Cursor; c == nil || c.X != -5 || c.Y != 1.5 {
		t.Fatalf("%#v", c)
	}
}

// TestHostileInputs feeds the decoder inputs that crashed or exhausted
// other collaborative-editing servers (huge declared lengths, deep or wide
// nesting, truncations, text where binary belongs): each is refused
// quickly, with little allocation.
func TestHostileInputs(t *testing.T) {
	inputs := map[string][]byte{
		"dd ff ff ff ff":    {0xdd, 0xff, 0xff, 0xff, 0xff},
		"100k x 0x91":       bytes.Repeat([]byte{0x91}, 100_000),
		"plain text ping":   []byte("ping"),
		"unknown opcode":    frame(0x7f, s("wf"), s("w")),
		"truncated str32":   {0x92, 0x04, 0xdb, 0xff, 0xff, 0xff},
		"truncated varint":  {0x92, 0xcf, 0x01},
		"map of 4G entries": {0x92, 0x04, 0xdf, 0xff, 0xff, 0xff, 0xff},
		"bin of 4 GiB":      append([]byte{0x92, 0x04, 0x81, 0xa1, 'd', 0xc6, 0xff, 0xff, 0xff, 0xff}, 1, 2, 3),
		"invalid utf8 id":   frame(0x03, s("wf"), []byte{0xa2, 0xc3, 0x28}),
		"deep payload":      frame(0x05, s("payload"), append(bytes.Repeat([]byte{0x81, 0xa1, 'a'}, 40), 0xc0)),
		"wide payload":      frame(0x05, s("wf"), s("w"), s("op"), s("o"), s("name"), s("n"), s("target"), s("t"), s("payload"), emptyMaps(MaxContainers-2)),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			allocs := allocated(func() {
				if f, err := Decode(in, Limits{}); err == nil && name != "wide payload" {
					t.Fatalf("decoded %#v", f)
				}
			})
			// At most 8x the input, so that no frame amplifies into much
			// more memory than it cost to send; an Operation payload of
			// empty maps is the one shape that cannot meet it (one byte
			// becomes a Go map), so it is held to the absolute bound
			// instead: 8 MiB per frame of at most 1 MiB.
			limit := 8*uint64(len(in)) + 64<<10
			if name == "wide payload" {
				limit = 8 << 20
			}
			if allocs > limit {
				t.Errorf("allocated %d bytes for a %d-byte input (limit %d)", allocs, len(in), limit)
			}
		})
	}
}

// emptyMaps is a payload {"a": [{}, {}, ...]}: the worst case of one-byte
// elements that each become a Go map.
func emptyMaps(n int) []byte {
	b := append(m.AppendMapHeader(nil, 1), s("a")...)
	b = m.AppendArrayHeader(b, n)
	return append(b, bytes.Repeat([]byte{0x80}, n)...)
}

func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
