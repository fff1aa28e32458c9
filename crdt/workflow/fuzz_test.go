package workflow

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// fuzzSeeds are valid encodings and the hostile shapes the decoder must
// refuse; testdata/fuzz holds the same kind of inputs as corpus files.
func fuzzSeeds() [][]byte {
	d := New()
	for i, id := range []string{"b1", "b2"} {
		handWrite(d, "a", blockKey(id), nil, int64(i))
		handWrite(d, "b", fieldKey(id, FieldPosition), positionValue(Position{X: 1.5, Y: -2}), int64(i))
		handWrite(d, "a", subBlockKey(id, "code"), Value(msgpackx.MustCanonical(map[string]any{"x": []any{1, "y", nil}})), int64(i))
	}
	removed := handWrite(d, "a", fieldKey("b1", FieldName), stringValue("n"), 9)
	d.Merge(&Doc{ctx: *removed.Context().Clone()}) // remove it: leaves a hole in the context
	d.ctx.AddRange("c", crdt.Range{Lo: 5, Hi: 9})
	delta := d.DeltaSince(&crdt.Context{})
	withValue := func(v []byte) []byte {
		e := okEntry()
		e.value = v
		return rawDoc([]string{"a"}, okCtx, []rawEntry{e})
	}
	// Texts: a state with a typed, partly deleted prompt, and typing and
	// delete deltas whose origins and record live elsewhere.
	td := New()
	ts := crdt.Timestamp{Wall: 1_700_000_000_000, Replica: "t"}
	_, _ = td.Apply(ts, BatchAddBlocks{Blocks: []BlockInput{{ID: "p", Type: "agent", Name: "P",
		SubBlocks: map[string]SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "héllo 🙂"}}}}})
	ts.Logical++
	typing, _ := td.Apply(ts, InsertText{TextTarget: TextTarget{BlockID: "p", SubBlockID: "prompt"}, Index: 3, Text: "xyz"})
	ts.Logical++
	deleting, _ := td.Apply(ts, DeleteText{TextTarget: TextTarget{BlockID: "p", SubBlockID: "prompt"}, Index: 1, Length: 4})
	return [][]byte{
		td.Encode(),
		typing.Encode(),
		deleting.Encode(),
		New().Encode(),
		d.Encode(),
		delta.Encode(),
		rawDoc([]string{"a"}, okCtx, []rawEntry{okEntry()}),
		append([]byte{FormatVersion}, hostileArray...),
		append([]byte{FormatVersion}, hostileBin...),
		withValue(hostileArray),
		withValue(hostileBin),
		{0x02},
		{FormatVersion, 0x91, 0x91, 0x91, 0x91},
	}
}

// checkDecode is the property both decode targets share: no panic, and a
// successful decode re-encodes to exactly its input (only the canonical
// encoding is accepted), gives a view that marshals to JSON, and merges
// idempotently.
func checkDecode(t *testing.T, data []byte, lim msgpackx.Limits) {
	// Split input, as a stream reader would see it: neither half may panic.
	half := len(data) / 2
	_, _ = Decode(data[:half], lim)
	_, _ = Decode(data[half:], lim)

	d, err := Decode(data, lim)
	if err != nil {
		return
	}
	enc := d.Encode()
	if !bytes.Equal(enc, data) {
		t.Fatalf("accepted an input that re-encodes to other bytes\ninput % x\nre-encoded % x", data, enc)
	}
	if _, err := json.Marshal(d.View()); err != nil {
		t.Fatalf("view of an accepted input does not marshal to JSON: %v\ninput % x", err, data)
	}
	d2, err := Decode(enc, DocLimits)
	if err != nil {
		t.Fatalf("re-encoding of an accepted input does not decode: %v\ninput % x\nre-encoded % x", err, data, enc)
	}
	if !d2.Equal(d) || !d.Equal(d2) {
		t.Fatalf("round trip changed the document\ninput % x\nre-encoded % x", data, enc)
	}
	if again := d2.Encode(); !bytes.Equal(again, enc) {
		t.Fatalf("re-encoding is not stable:\n% x\n% x", enc, again)
	}
	m := New()
	m.Merge(d)
	if !m.Equal(d) {
		t.Fatalf("merging into an empty document did not give the document")
	}
	if n := m.Merge(d); n != 0 || !m.Equal(d) {
		t.Fatalf("merging twice changed %d values", n)
	}
	if !d.DeltaSince(&crdt.Context{}).Equal(d) {
		t.Fatalf("DeltaSince(empty) is not the whole document")
	}
}

func FuzzDecodeDelta(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, DeltaLimits) })
}

func FuzzDecodeDocument(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data, DocLimits) })
}
