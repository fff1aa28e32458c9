package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
	"pgregory.net/rapid"
)

// genJSONValue draws a JSON-shaped value, nested up to depth.
func genJSONValue(t *rapid.T, depth int) any {
	max := 7
	if depth <= 0 {
		max = 5
	}
	switch rapid.IntRange(0, max).Draw(t, "valueKind") {
	case 0:
		return nil
	case 1:
		return rapid.Bool().Draw(t, "bool")
	case 2:
		return rapid.Int64().Draw(t, "int")
	case 3:
		return rapid.Float64().Draw(t, "float")
	case 4:
		return rapid.String().Draw(t, "string")
	case 5:
		return rapid.Uint64().Draw(t, "uint")
	case 6:
		n := rapid.IntRange(0, 4).Draw(t, "len")
		out := make([]any, n)
		for i := range out {
			out[i] = genJSONValue(t, depth-1)
		}
		return out
	}
	n := rapid.IntRange(0, 4).Draw(t, "len")
	out := make(map[string]any, n)
	for range n {
		out[rapid.StringN(0, 6, -1).Draw(t, "mapKey")] = genJSONValue(t, depth-1)
	}
	return out
}

// genValue draws a cell value: absent (nil) or a canonical encoding. A
// top-level nil encodes as no value, as the operations write it.
var genValue = rapid.Custom(func(t *rapid.T) Value {
	v := genJSONValue(t, 3)
	if v == nil {
		return nil
	}
	return Value(msgpackx.MustCanonical(v))
})

type genEntry struct {
	key  Key
	dot  crdt.Dot
	cell Cell
}

type genRange struct {
	replica crdt.ReplicaID
	r       crdt.Range
}

// docSpec is a random document as a list of writes and extra context ranges
// (for removed values), so the same document can be built in any order.
type docSpec struct {
	entries []genEntry
	extra   []genRange
}

var genReplica = rapid.OneOf(
	rapid.SampledFrom([]crdt.ReplicaID{"a", "b", "server-1", "ж", "9f0c1a2e-77d4-4a55-b1f3-0c3a8f4c2e11"}),
	rapid.Map(rapid.StringN(1, 20, -1), func(s string) crdt.ReplicaID { return crdt.ReplicaID(s) }),
)

var genDocSpec = rapid.Custom(func(t *rapid.T) docSpec {
	var s docSpec
	used := map[crdt.Dot]bool{}
	for range rapid.IntRange(0, 30).Draw(t, "entries") {
		d := crdt.Dot{Replica: genReplica.Draw(t, "replica"), Counter: rapid.OneOf(
			rapid.Uint64Range(1, 300), rapid.Uint64Range(1, crdt.MaxCounter)).Draw(t, "counter")}
		if used[d] {
			continue
		}
		used[d] = true
		key := Key{
			Kind: Kind(rapid.IntRange(1, int(maxKind)).Draw(t, "kind")),
			ID:   rapid.SampledFrom([]string{"", "b1", "b2", "a-much-longer-block-id-0123456789"}).Draw(t, "id"),
			Sub:  rapid.SampledFrom([]string{"", FieldPosition, FieldName, "data.width", "code"}).Draw(t, "sub"),
		}
		if isMembership(key.Kind) {
			key.Sub = "" // the canonical form: membership has no sub
		}
		s.entries = append(s.entries, genEntry{
			key: key,
			dot: d,
			cell: Cell{
				Wall:    rapid.Int64Range(-crdt.MaxWall, crdt.MaxWall).Draw(t, "wall"),
				Logical: rapid.Uint32().Draw(t, "logical"),
				Value:   genValue.Draw(t, "value"),
			},
		})
	}
	for range rapid.IntRange(0, 6).Draw(t, "extra") {
		lo := rapid.Uint64Range(1, 1<<40).Draw(t, "lo")
		s.extra = append(s.extra, genRange{genReplica.Draw(t, "replica"), crdt.Range{Lo: lo, Hi: lo + rapid.Uint64Range(0, 1000).Draw(t, "len")}})
	}
	return s
})

// build makes the document, adding writes and ranges in the given order.
func (s docSpec) build(entryOrder, rangeOrder []int) *Doc {
	d := New()
	for _, i := range rangeOrder {
		d.Context().AddRange(s.extra[i].replica, s.extra[i].r)
	}
	for _, i := range entryOrder {
		e := s.entries[i]
		d.Context().Add(e.dot)
		d.Store().Put(e.key, e.dot, e.cell)
	}
	return d
}

func identityOrder(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestEncodeRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genDocSpec.Draw(t, "doc")
		d := s.build(identityOrder(len(s.entries)), identityOrder(len(s.extra)))
		enc := d.Encode()
		got, err := Decode(enc, DocLimits)
		if err != nil {
			t.Fatalf("Decode(Encode(d)): %v\n% x", err, enc)
		}
		if !got.Equal(d) || !d.Equal(got) {
			t.Fatalf("round trip changed the document\n% x", enc)
		}
		if again := got.Encode(); !bytes.Equal(again, enc) {
			t.Fatalf("re-encoding differs:\n% x\n% x", enc, again)
		}
		// The decoded document must not alias the input.
		for i := range enc {
			enc[i] = 0
		}
		if !got.Equal(d) {
			t.Fatalf("decoded document aliases its input")
		}
	})
}

func TestEncodeIsCanonical(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genDocSpec.Draw(t, "doc")
		a := s.build(identityOrder(len(s.entries)), identityOrder(len(s.extra)))
		b := s.build(rapid.Permutation(identityOrder(len(s.entries))).Draw(t, "entryOrder"),
			rapid.Permutation(identityOrder(len(s.extra))).Draw(t, "rangeOrder"))
		// Build a third one by merging two halves in the reverse order, then
		// adding the extra ranges to the context (merging them as a delta
		// would remove the values they cover: a different state).
		half := len(s.entries) / 2
		c := New()
		c.Merge(s.build(identityOrder(len(s.entries))[half:], nil))
		c.Merge(s.build(identityOrder(half), nil))
		c.Context().Merge(s.build(nil, identityOrder(len(s.extra))).Context())
		ea, eb, ec := a.Encode(), b.Encode(), c.Encode()
		if !bytes.Equal(ea, eb) || !bytes.Equal(ea, ec) {
			t.Fatalf("equal documents encode differently:\n% x\n% x\n% x", ea, eb, ec)
		}
	})
}

// A cell holding an explicit msgpack nil (0xc0) is the same state as one
// holding no value: both encode as nil.
func TestExplicitNilValueEqualsAbsent(t *testing.T) {
	a, b := New(), New()
	dot := crdt.Dot{Replica: "a", Counter: 1}
	for _, d := range []*Doc{a, b} {
		d.Context().Add(dot)
	}
	a.Store().Put(Key{KindBlockField, "b1", FieldParentID}, dot, Cell{Wall: 1, Value: Value{0xc0}})
	b.Store().Put(Key{KindBlockField, "b1", FieldParentID}, dot, Cell{Wall: 1})
	if !bytes.Equal(a.Encode(), b.Encode()) {
		t.Fatalf("encodings differ")
	}
	if !a.Equal(b) || !b.Equal(a) {
		t.Fatalf("Equal distinguishes an explicit nil from no value, yet both encode alike")
	}
	got, err := Decode(a.Encode(), DocLimits)
	if err != nil || !got.Equal(a) {
		t.Fatalf("round trip of an explicit nil: %v", err)
	}
}

func TestDecodeRefusesWrongVersion(t *testing.T) {
	valid := New().Encode()
	for _, v := range []byte{0x00, 0x02, 0xff, 0x93} {
		in := append([]byte{v}, valid[1:]...)
		if _, err := Decode(in, DocLimits); !errors.Is(err, ErrFormatVersion) {
			t.Errorf("version byte 0x%02x: got %v, want ErrFormatVersion", v, err)
		}
	}
	if _, err := Decode(nil, DocLimits); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty input: got %v, want ErrMalformed", err)
	}
}

// rawEntry is one entry of a hand-built encoding; each goes in its own group.
type rawEntry struct {
	kind    uint64
	id, sub string
	ridx    uint64
	counter uint64
	wall    int64
	logical uint64
	value   []byte // raw msgpack, nil for 0xc0
}

type rawCtx struct {
	ridx uint64
	nums []uint64 // lo, len-1, gap-1, len-1, ...
}

// rawDoc writes an encoding by hand, so tests can break one rule at a time.
func rawDoc(replicas []string, ctx []rawCtx, entries []rawEntry) []byte {
	b := []byte{FormatVersion}
	b = msgpackx.AppendArrayHeader(b, 3)
	b = msgpackx.AppendArrayHeader(b, len(replicas))
	for _, r := range replicas {
		b = msgpackx.AppendString(b, r)
	}
	b = msgpackx.AppendArrayHeader(b, len(ctx))
	for _, c := range ctx {
		b = msgpackx.AppendArrayHeader(b, 2)
		b = msgpackx.AppendUint(b, c.ridx)
		b = msgpackx.AppendArrayHeader(b, len(c.nums))
		for _, n := range c.nums {
			b = msgpackx.AppendUint(b, n)
		}
	}
	b = msgpackx.AppendArrayHeader(b, len(entries))
	for _, e := range entries {
		b = msgpackx.AppendArrayHeader(b, 3)
		b = msgpackx.AppendUint(b, e.kind)
		b = msgpackx.AppendString(b, e.id)
		b = msgpackx.AppendArrayHeader(b, 1)
		b = msgpackx.AppendArrayHeader(b, 6)
		b = msgpackx.AppendString(b, e.sub)
		b = msgpackx.AppendUint(b, e.ridx)
		b = msgpackx.AppendUint(b, e.counter)
		b = msgpackx.AppendInt(b, e.wall)
		b = msgpackx.AppendUint(b, e.logical)
		if e.value == nil {
			b = msgpackx.AppendNil(b)
		} else {
			b = append(b, e.value...)
		}
	}
	return b
}

var (
	hostileArray = []byte{0xdd, 0x07, 0xff, 0xff, 0xff} // array32 claiming 134M elements
	hostileBin   = []byte{0xc6, 0x07, 0xff, 0xff, 0xff} // bin32 claiming 128 MiB
)

func okEntry() rawEntry {
	return rawEntry{kind: uint64(KindBlockField), id: "b1", sub: FieldName, ridx: 0, counter: 1, wall: 5, value: msgpackx.AppendString(nil, "n")}
}

var okCtx = []rawCtx{{0, []uint64{1, 0}}}

func TestRawDocHelperIsValid(t *testing.T) {
	d, err := Decode(rawDoc([]string{"a"}, okCtx, []rawEntry{okEntry()}), DeltaLimits)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.get(Key{KindBlockField, "b1", FieldName}).asString(); got != "n" {
		t.Fatalf("decoded name %q", got)
	}
}

func TestDecodeHostileLengthsWithoutAllocating(t *testing.T) {
	withValue := func(v []byte) []byte {
		e := okEntry()
		e.value = v
		return rawDoc([]string{"a"}, okCtx, []rawEntry{e})
	}
	cases := map[string][]byte{
		"array32 after version":      append([]byte{FormatVersion}, hostileArray...),
		"bin32 after version":        append([]byte{FormatVersion}, hostileBin...),
		"array32 in the value slot":  withValue(hostileArray),
		"bin32 in the value slot":    withValue(hostileBin),
		"array32 as replica table":   append([]byte{FormatVersion, 0x93}, hostileArray...),
		"str32 claiming 4 GiB value": withValue([]byte{0xdb, 0xff, 0xff, 0xff, 0xff}),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			for _, lim := range []msgpackx.Limits{DeltaLimits, DocLimits} {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				_, err := Decode(in, lim)
				runtime.ReadMemStats(&after)
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Decode(% x) = %v, want ErrMalformed", in, err)
				}
				if grew := after.TotalAlloc - before.TotalAlloc; grew >= 1<<20 {
					t.Fatalf("Decode(% x) allocated %d bytes", in, grew)
				}
			}
		})
	}
}

func TestDecodeRefusesInvalidDocuments(t *testing.T) {
	two := func(a, b rawEntry) []rawEntry { return []rawEntry{a, b} }
	with := func(f func(*rawEntry)) rawEntry { e := okEntry(); f(&e); return e }
	valid := rawDoc([]string{"a"}, okCtx, []rawEntry{okEntry()})
	cases := map[string][]byte{
		"dot not in context":        rawDoc([]string{"a"}, okCtx, []rawEntry{with(func(e *rawEntry) { e.counter = 2 })}),
		"dot counter zero":          rawDoc([]string{"a"}, okCtx, []rawEntry{with(func(e *rawEntry) { e.counter = 0 })}),
		"duplicate dot":             rawDoc([]string{"a"}, okCtx, two(okEntry(), with(func(e *rawEntry) { e.sub = FieldType }))),
		"entry replica index":       rawDoc([]string{"a"}, okCtx, []rawEntry{with(func(e *rawEntry) { e.ridx = 1 })}),
		"context replica index":     rawDoc([]string{"a"}, []rawCtx{{1, []uint64{1, 0}}}, nil),
		"huge replica index":        rawDoc([]string{"a"}, []rawCtx{{1 << 63, []uint64{1, 0}}}, nil),
		"unsorted replica table":    rawDoc([]string{"b", "a"}, okCtx, []rawEntry{okEntry()}),
		"duplicate replica":         rawDoc([]string{"a", "a"}, okCtx, []rawEntry{okEntry()}),
		"empty replica id":          rawDoc([]string{""}, okCtx, nil),
		"replica twice in context":  rawDoc([]string{"a"}, []rawCtx{{0, []uint64{1, 0}}, {0, []uint64{5, 0}}}, nil),
		"odd range numbers":         rawDoc([]string{"a"}, []rawCtx{{0, []uint64{1}}}, nil),
		"no range numbers":          rawDoc([]string{"a"}, []rawCtx{{0, nil}}, nil),
		"range starting at zero":    rawDoc([]string{"a"}, []rawCtx{{0, []uint64{0, 3}}}, nil),
		"range length overflows":    rawDoc([]string{"a"}, []rawCtx{{0, []uint64{2, 1<<64 - 1}}}, nil),
		"gap overflows":             rawDoc([]string{"a"}, []rawCtx{{0, []uint64{1, 0, 1<<64 - 1, 0}}}, nil),
		"gap wraps onto the prefix": rawDoc([]string{"a"}, []rawCtx{{0, []uint64{1, 1<<64 - 4, 1<<64 - 1, 0}}}, nil),
		"unknown kind 0":            rawDoc([]string{"a"}, okCtx, []rawEntry{with(func(e *rawEntry) { e.kind = 0 })}),
		"unknown kind 9":            rawDoc([]string{"a"}, okCtx, []rawEntry{with(func(e *rawEntry) { e.kind = uint64(maxKind) + 1 })}),
		"logical out of range":      rawDoc([]string{"a"}, okCtx, []rawEntry{with(func(e *rawEntry) { e.logical = 1 << 32 })}),
		"trailing bytes":            append(slices.Clone(valid), 0xc0),
		"truncated":                 valid[:len(valid)-1],
		"top level not an array":    {FormatVersion, 0xc0},
		"top level of 4":            {FormatVersion, 0x94, 0x90, 0x90, 0x90, 0x90},
		"100k nested arrays":        append([]byte{FormatVersion}, bytes.Repeat([]byte{0x91}, 100_000)...),
		"ext type value":            rawDoc([]string{"a"}, okCtx, []rawEntry{with(func(e *rawEntry) { e.value = []byte{0xd4, 0x01, 0x02} })}),
		"entry of 5":                bytes.Replace(valid, []byte{0x96}, []byte{0x95}, 1),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := Decode(in, DocLimits)
			if err == nil {
				t.Fatalf("Decode accepted it: %v", d.Context().Replicas())
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestDecodeRespectsSizeLimit(t *testing.T) {
	d := New()
	dot := crdt.Dot{Replica: "a", Counter: 1}
	d.Context().Add(dot)
	d.Store().Put(Key{KindSubBlock, "b1", "code"}, dot, Cell{Value: msgpackx.AppendString(nil, strings.Repeat("x", 2<<20))})
	enc := d.Encode()
	if _, err := Decode(enc, DeltaLimits); !errors.Is(err, msgpackx.ErrTooLarge) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("a 2 MiB delta: got %v, want ErrMalformed wrapping ErrTooLarge", err)
	}
	if _, err := Decode(enc, DocLimits); err != nil {
		t.Fatalf("a 2 MiB document: %v", err)
	}
}

// A small delta can claim a context of 2^64 dots. Merging it must cost time
// in proportion to the document, not to the claim (Context.Len once wrapped
// to a small number here, and Merge walked the claim dot by dot).
func TestMergeOfHostileContextTerminates(t *testing.T) {
	in := rawDoc([]string{"a", "b"}, []rawCtx{{0, []uint64{1, 1<<64 - 2}}, {1, []uint64{1, 4}}}, nil)
	if _, err := Decode(in, DeltaLimits); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Decode(context of 2^64 dots) = %v, want ErrMalformed (counters are capped at MaxCounter)", err)
	}
	// The decoder refuses such a claim; the merge must still terminate if a
	// context like it is built in memory.
	delta := New()
	delta.Context().AddRange("a", crdt.Range{Lo: 1, Hi: 1<<64 - 1})
	delta.Context().AddRange("b", crdt.Range{Lo: 1, Hi: 5})
	d := New()
	for i := range 6 {
		handWrite(d, "b", fieldKey(fmt.Sprint("b", i), FieldName), stringValue("n"), 1)
	}
	if n := d.Merge(delta); n != 5 {
		t.Fatalf("merge removed %d values, want the 5 it covers", n)
	}
}

func TestDecodeRefusesCountersBeyondMaxCounter(t *testing.T) {
	d := New()
	d.Context().AddRange("r", crdt.Range{Lo: 1, Hi: crdt.MaxCounter + 1})
	if _, err := Decode(d.Encode(), DeltaLimits); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Decode(context past MaxCounter) = %v, want ErrMalformed", err)
	}
	ok := New()
	ok.Context().AddRange("r", crdt.Range{Lo: 1, Hi: crdt.MaxCounter})
	if _, err := Decode(ok.Encode(), DeltaLimits); err != nil {
		t.Fatalf("Decode(context at MaxCounter) = %v", err)
	}
	if _, err := ok.Prepare(crdt.Timestamp{Wall: 1, Replica: "r"}, AddVariable{ID: "v", VarName: "v"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Prepare with exhausted counters = %v, want ErrInvalid", err)
	}
}

// Decode cuts the replicas' context ranges from one slab: growing one
// replica's ranges must not write over the next replica's.
func TestDecodeContextRangesIndependent(t *testing.T) {
	d := New()
	d.ctx.AddRange("a", crdt.Range{Lo: 1, Hi: 1})
	d.ctx.AddRange("b", crdt.Range{Lo: 5, Hi: 5})
	got, err := Decode(d.Encode(), DeltaLimits)
	if err != nil {
		t.Fatal(err)
	}
	got.ctx.AddRange("a", crdt.Range{Lo: 3, Hi: 3}) // appends to a's ranges
	if rs := got.ctx.Ranges("b"); len(rs) != 1 || rs[0] != (crdt.Range{Lo: 5, Hi: 5}) {
		t.Fatalf("b's ranges after growing a's: %v", rs)
	}
	if !got.ctx.Contains(crdt.Dot{Replica: "a", Counter: 3}) || got.ctx.Contains(crdt.Dot{Replica: "a", Counter: 2}) {
		t.Fatalf("a's ranges: %v", got.ctx.Ranges("a"))
	}
}
