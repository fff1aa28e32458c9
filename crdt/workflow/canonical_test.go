package workflow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
	"github.com/flowsync/flowsync/internal/testutil"
)

var mutantSeed = flag.Uint64("mutant.seed", 0, "seed of TestMutantCampaign (0: from FLOWSYNC_SEED, else the time)")

func mutantRand(t *testing.T) *rand.Rand {
	seed := testutil.Seed(t, *mutantSeed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// committedEncodings returns every document and delta in the committed
// vector files (Go's golden vectors and the TypeScript replica's): what
// earlier builds wrote and stored.
func committedEncodings(t *testing.T) [][]byte {
	var out [][]byte
	for _, path := range []string{goldenPath, filepath.Join("..", "..", "clients", "js", "test", "vectors", "ts-vectors.json")} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var walk func(key string, v any)
		walk = func(key string, v any) {
			switch x := v.(type) {
			case map[string]any:
				if key == "decode" {
					return // mutants, some refused on purpose
				}
				for k, e := range x {
					walk(k, e)
				}
			case []any:
				if key == "decode" {
					return
				}
				for _, e := range x {
					walk(key, e)
				}
			case string:
				if key != "doc" && key != "delta" && key != "chunks" {
					return
				}
				b, err := base64.StdEncoding.DecodeString(x)
				if err == nil && len(b) > 0 && b[0] == FormatVersion {
					out = append(out, b)
				}
			}
		}
		walk("", v)
	}
	if len(out) < 100 {
		t.Fatalf("found only %d encodings in the vector files", len(out))
	}
	return out
}

// TestCommittedEncodingsStayLoadable: every document and delta the
// encoders ever committed as a vector decodes under the canonical rules and
// re-encodes to itself, so stored documents stay loadable.
func TestCommittedEncodingsStayLoadable(t *testing.T) {
	encs := committedEncodings(t)
	for i, b := range encs {
		d, err := Decode(b, DocLimits)
		if err != nil {
			t.Fatalf("encoding %d of %d: %v\n% x", i, len(encs), err, b)
		}
		if got := d.Encode(); !bytes.Equal(got, b) {
			t.Fatalf("encoding %d re-encodes to other bytes\n in % x\nout % x", i, b, got)
		}
	}
	t.Logf("%d encodings", len(encs))
}

// mutantBases are the valid encodings the campaign mutates: documents and
// deltas built by operations, with holes in their contexts, several
// replicas, every kind.
func mutantBases(t *testing.T) [][]byte {
	bases := [][]byte{New().Encode()}
	for _, s := range fuzzSeeds()[1:4] {
		bases = append(bases, s)
	}
	d, ids := buildDoc(t, 12)
	bases = append(bases, d.Encode())
	other := d.Clone()
	clock := newBenchClock("editor")
	clock.wall += 1_000_000 // after the adds: a write must not predate its block's add
	for i, id := range ids[:6] {
		for _, op := range []Op{
			UpdatePosition{ID: id, Position: Position{X: float64(i), Y: 2.5}},
			UpdateName{ID: id, NewName: fmt.Sprint("Renamed ", i)},
		} {
			if _, err := other.Apply(clock.now(), op); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := other.Apply(clock.now(), RemoveBlock{ID: ids[7]}); err != nil {
		t.Fatal(err)
	}
	bases = append(bases, other.DeltaSince(d.Context()).Encode(), d.DeltaSince(other.Context()).Encode(), other.Encode())
	v, err := d.Apply(crdt.Timestamp{Wall: 1_700_000_000_000, Replica: "z-vars"}, AddVariable{ID: "v1", VarName: "n", Type: "number", Value: 2.5})
	if err != nil {
		t.Fatal(err)
	}
	bases = append(bases, v.Encode(), d.Encode())
	for _, b := range bases {
		if _, err := parseMut(b); err != nil {
			t.Fatalf("base % x: %v", b, err)
		}
	}
	return bases
}

// TestMutantCampaign mutates valid encodings (bytes flipped, inserted,
// deleted, truncated; groups swapped, split and repeated; replicas added;
// context entries reordered and dropped; numbers widened; entries swapped;
// subs on membership; empty groups; non-canonical values; walls out of the
// domain) and holds every accepted mutant to the canonical property:
// decode(b) succeeds ⇒ encode(decode(b)) == b. An accepted mutant must
// also give a view that marshals to JSON.
func TestMutantCampaign(t *testing.T) {
	rng := mutantRand(t)
	bases := mutantBases(t)
	n := 20_000
	if testing.Short() {
		n = 2_000
	}
	accepted := map[string]int{}
	refused := map[string]int{}
	for i := range n {
		base := bases[i%len(bases)]
		in, name := mutate(rng, base)
		d, err := Decode(in, DocLimits)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrFormatVersion) {
				t.Fatalf("%s: untyped error %v", name, err)
			}
			refused[name]++
			continue
		}
		accepted[name]++
		if out := d.Encode(); !bytes.Equal(out, in) {
			t.Fatalf("%s: accepted a mutant that re-encodes to other bytes\n in % x\nout % x", name, in, out)
		}
		if _, err := json.Marshal(d.View()); err != nil {
			t.Fatalf("%s: view of an accepted mutant does not marshal: %v\n% x", name, err, in)
		}
	}
	for _, m := range mutations {
		t.Logf("%-22s accepted %5d refused %5d", m, accepted[m], refused[m])
	}
	// Structure-aware mutations that always break a rule must never pass.
	for _, m := range []string{"split group", "unused replica", "membership sub", "empty group", "repeat group"} {
		if accepted[m] > 0 {
			t.Errorf("%s: %d mutants accepted", m, accepted[m])
		}
	}
}

// nonCanonicalForms builds, from one valid document, one input per
// canonical rule, each breaking that rule alone.
func nonCanonicalForms(t *testing.T) (map[string][]byte, []byte) {
	d := New()
	handWrite(d, "a", blockKey("b1"), nil, 1)
	handWrite(d, "a", blockKey("b2"), nil, 1)
	handWrite(d, "b", fieldKey("b1", FieldName), stringValue("n"), 2)
	handWrite(d, "b", fieldKey("b1", FieldType), stringValue("agent"), 2)
	handWrite(d, "c", subBlockKey("b1", "code"), Value(msgpackx.MustCanonical(map[string]any{"a": 1, "b": "x"})), 300)
	d.ctx.AddRange("c", crdt.Range{Lo: 10, Hi: 12})
	// Two concurrent values under one key.
	k := fieldKey("b2", FieldName)
	d.Merge(handWrite(New(), "x", k, stringValue("x"), 3))
	d.Merge(handWrite(New(), "y", k, stringValue("y"), 3))
	valid := d.Encode()
	base, err := parseMut(valid)
	if err != nil {
		t.Fatal(err)
	}
	group := func(m *mutDoc, kind Kind, id string) *mutGroup {
		for i := range m.groups {
			if m.groups[i].kind == uint64(kind) && m.groups[i].id == id {
				return &m.groups[i]
			}
		}
		t.Fatalf("no group (%d, %q)", kind, id)
		return nil
	}
	edit := func(f func(m *mutDoc)) []byte {
		m := base.clone()
		f(m)
		return m.encode(nil)
	}
	widenAt := func(pick func(i int) bool) []byte { return base.encode(pick) }
	forms := map[string][]byte{
		"groups out of order": edit(func(m *mutDoc) { m.groups[0], m.groups[1] = m.groups[1], m.groups[0] }),
		"one key split across groups": edit(func(m *mutDoc) {
			g := group(m, KindBlockField, "b2")
			a, b := *g, *g
			a.entries, b.entries = g.entries[:1], g.entries[1:]
			i := 0
			for m.groups[i].id != "b2" || m.groups[i].kind != uint64(KindBlockField) {
				i++
			}
			m.groups = append(m.groups[:i], append([]mutGroup{a, b}, m.groups[i+1:]...)...)
		}),
		"entries out of order": edit(func(m *mutDoc) {
			es := group(m, KindBlockField, "b2").entries
			es[0], es[1] = es[1], es[0]
		}),
		"unused replica in the table": edit(func(m *mutDoc) { m.replicas = append(m.replicas, "zz") }),
		"unused replica with no context entry": edit(func(m *mutDoc) {
			m.replicas = append([]string{"0"}, m.replicas...)
			for i := range m.ctx {
				m.ctx[i].ridx++
			}
			for _, g := range m.groups {
				for j := range g.entries {
					g.entries[j].ridx++
				}
			}
		}),
		"context entries out of order": edit(func(m *mutDoc) { m.ctx[0], m.ctx[1] = m.ctx[1], m.ctx[0] }),
		"sub on block membership":      edit(func(m *mutDoc) { group(m, KindBlock, "b1").entries[0].sub = "x" }),
		"empty group": edit(func(m *mutDoc) {
			m.groups = append(m.groups, mutGroup{kind: uint64(KindVariableField), id: "v"})
		}),
		"uint in a longer form":   widenAt(func(i int) bool { return i == 5 }), // the first context range's lo
		"array in a longer form":  widenAt(func(i int) bool { return i == 0 }),
		"string in a longer form": widenAt(func(i int) bool { return i == 2 }), // the first replica id
		"value with unsorted keys": edit(func(m *mutDoc) {
			group(m, KindSubBlock, "b1").entries[0].value = []byte{0x82, 0xa1, 'b', 0xa1, 'x', 0xa1, 'a', 0x01}
		}),
		"value with a uint8 below 128": edit(func(m *mutDoc) {
			group(m, KindSubBlock, "b1").entries[0].value = []byte{0xcc, 0x01}
		}),
		"value as float32": edit(func(m *mutDoc) {
			group(m, KindSubBlock, "b1").entries[0].value = []byte{0xca, 0x3f, 0x80, 0, 0}
		}),
	}
	// The wall of the sub-block write, 300, is the only uint16 written:
	// widen it into the signed int64 form.
	forms["wall in a signed form"] = edit(func(m *mutDoc) {})
	{
		m := base.clone()
		n := 0
		target := -1
		m.encode(func(i int) bool { n++; return false })
		// find the index of the wall of the sub-block entry by widening each
		// number in turn and looking for 0xd3 followed by 300
		for i := range n {
			b := m.encode(func(j int) bool { return j == i })
			if bytes.Contains(b, []byte{0xd3, 0, 0, 0, 0, 0, 0, 0x01, 0x2c}) {
				target = i
				break
			}
		}
		if target < 0 {
			t.Fatal("no wall of 300 to widen")
		}
		forms["wall in a signed form"] = m.encode(func(j int) bool { return j == target })
	}
	return forms, valid
}

// TestDecodeRefusesNonCanonicalForms is the regression test for
// non-canonical encodings that used to decode (and re-encode to other
// bytes): each form is refused with ErrNotCanonical, and the valid document
// they were made from is accepted.
func TestDecodeRefusesNonCanonicalForms(t *testing.T) {
	forms, valid := nonCanonicalForms(t)
	if _, err := Decode(valid, DocLimits); err != nil {
		t.Fatalf("the valid base: %v", err)
	}
	for name, in := range forms {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(in, valid) {
				t.Fatal("the mutation changed nothing")
			}
			d, err := Decode(in, DocLimits)
			if err == nil {
				t.Fatalf("accepted; re-encodes to % x\ninput % x", d.Encode(), in)
			}
			if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrNotCanonical) {
				t.Fatalf("error %v, want ErrMalformed and ErrNotCanonical", err)
			}
		})
	}
}

// TestDecodeRefusesValuesOutOfDomain is the regression test for a wall
// time of -2^60 (accepted, then unloadable in browsers) and NaN or infinite
// values (accepted, then the view did not marshal to JSON).
func TestDecodeRefusesValuesOutOfDomain(t *testing.T) {
	walls := map[string]int64{"-2^60": -1 << 60, "2^60": 1 << 60, "2^53": 1 << 53, "-2^53": -(1 << 53), "MinInt64": math.MinInt64}
	for name, wall := range walls {
		e := okEntry()
		e.wall = wall
		_, err := Decode(rawDoc([]string{"a"}, okCtx, []rawEntry{e}), DeltaLimits)
		if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrOutOfDomain) {
			t.Errorf("wall %s: %v, want ErrOutOfDomain", name, err)
		}
	}
	for _, wall := range []int64{crdt.MaxWall, -crdt.MaxWall, -1, 0} {
		e := okEntry()
		e.wall = wall
		if _, err := Decode(rawDoc([]string{"a"}, okCtx, []rawEntry{e}), DeltaLimits); err != nil {
			t.Errorf("wall %d: %v", wall, err)
		}
	}
	for name, v := range map[string][]byte{
		"NaN":             {0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1},
		"+Inf":            {0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0},
		"-Inf":            {0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0},
		"NaN in position": append([]byte{0x92, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0}, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0),
	} {
		e := okEntry()
		e.sub, e.value = FieldPosition, v
		_, err := Decode(rawDoc([]string{"a"}, okCtx, []rawEntry{e}), DeltaLimits)
		if !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrOutOfDomain) || !errors.Is(err, msgpackx.ErrNonFinite) {
			t.Errorf("%s: %v, want ErrOutOfDomain wrapping msgpackx.ErrNonFinite", name, err)
		}
	}
	e := okEntry()
	e.id = "b\xff"
	if _, err := Decode(rawDoc([]string{"a"}, okCtx, []rawEntry{e}), DeltaLimits); !errors.Is(err, ErrOutOfDomain) {
		t.Errorf("id that is not UTF-8: %v, want ErrOutOfDomain", err)
	}
}

// TestOperationsRefuseNonFinite: an operation carrying NaN or an infinity,
// parsed from a payload or built in code, is refused with ErrInvalid and
// changes nothing, so no replica stores a value the decoders refuse.
func TestOperationsRefuseNonFinite(t *testing.T) {
	d, ids := buildDoc(t, 3)
	before := d.Encode()
	ts := crdt.Timestamp{Wall: 1_700_000_100_000, Replica: "r"}
	nan := math.NaN()
	ops := map[string]Op{
		"position NaN":        UpdatePosition{ID: ids[0], Position: Position{X: nan, Y: 1}},
		"position +Inf":       UpdatePosition{ID: ids[0], Position: Position{X: 1, Y: math.Inf(1)}},
		"sub-block NaN":       UpdateSubBlock{BlockID: ids[0], SubBlockID: "code", Value: nan},
		"sub-block NaN deep":  UpdateSubBlock{BlockID: ids[0], SubBlockID: "code", Value: map[string]any{"a": []any{math.Inf(-1)}}},
		"variable NaN":        AddVariable{ID: "v", VarName: "v", Type: "number", Value: nan},
		"block height NaN":    AddBlock{Block: BlockInput{ID: "nb", Type: "agent", Name: "NB", Height: &nan}},
		"block position -Inf": AddBlock{Block: BlockInput{ID: "nb", Type: "agent", Name: "NB", Position: &Position{X: math.Inf(-1)}}},
	}
	for name, op := range ops {
		if _, err := d.Apply(ts, op); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if _, err := ParseOp("update-position", "block", map[string]any{"id": ids[0], "position": map[string]any{"x": nan, "y": 0.0}, "commit": true}); !errors.Is(err, ErrInvalid) {
		t.Errorf("parsed position NaN: %v, want ErrInvalid", err)
	}
	if _, err := d.Apply(crdt.Timestamp{Wall: -1 << 60, Replica: "r"}, UpdateName{ID: ids[0], NewName: "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("wall -2^60: %v, want ErrInvalid", err)
	}
	if !bytes.Equal(d.Encode(), before) {
		t.Fatal("a refused operation changed the document")
	}
}

// TestDecodeCapsContextRanges: a context of more ranges than MaxRanges is
// refused with ErrTooManyRanges before any of them is merged; at the cap it
// is accepted.
func TestDecodeCapsContextRanges(t *testing.T) {
	lim := msgpackx.Limits{MaxBytes: 4096, MaxDepth: 40}
	limit := MaxRanges(lim)
	interleaved := func(n int) []byte {
		c := &Doc{}
		for i := range n {
			c.ctx.Add(crdt.Dot{Replica: "a", Counter: uint64(2*i + 2)})
		}
		return c.Encode()
	}
	if _, err := Decode(interleaved(limit), lim); err != nil {
		t.Fatalf("%d ranges: %v", limit, err)
	}
	if _, err := Decode(interleaved(limit+1), lim); !errors.Is(err, ErrMalformed) || !errors.Is(err, ErrTooManyRanges) {
		t.Fatalf("%d ranges: %v, want ErrTooManyRanges", limit+1, err)
	}
	if got := MaxRanges(DeltaLimits); got != 262_144 {
		t.Fatalf("MaxRanges(DeltaLimits) = %d, the documented 262,144", got)
	}
}
