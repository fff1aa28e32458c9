package workflow

import "testing"

// The whole-document paths allocate per slab or per rendered object, not
// per stored value: counted, so that the bounds hold whatever the
// machine's load.

// TestDecodeAllocsPerDocument: decoding a document allocates for its
// slabs and indexes, not for each id (ids alias the decoder's copy of the
// input) or each key.
func TestDecodeAllocsPerDocument(t *testing.T) {
	lwwPrompts(t) // a text record costs its own decode and check (see TestTextRecordDecodeAllocs)
	const n = 2000
	d, _ := buildDoc(t, n)
	enc := d.Encode()
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := Decode(enc, DocLimits); err != nil {
			t.Fatal(err)
		}
	})
	// 4,000+ when each id was a string of its own.
	if limit := float64(n / 10); allocs > limit {
		t.Errorf("decoding %d blocks made %.0f allocations, want at most %.0f", n, allocs, limit)
	}
}

// TestViewAllocsPerBlock: a view allocates what its shape needs per block
// (the block's view in a slab, its name, its sub-block and data maps), not
// copies of the edges' ends, the parent links or the normalized names.
func TestViewAllocsPerBlock(t *testing.T) {
	lwwPrompts(t) // a text shows as a string built from its record
	const n = 2000
	d, _ := buildDoc(t, n)
	allocs := testing.AllocsPerRun(3, func() { d.View() })
	// About 10 per block when edges, parents and names were copied.
	if limit := float64(7 * n); allocs > limit {
		t.Errorf("a view of %d blocks made %.0f allocations, want at most %.0f", n, allocs, limit)
	}
}

// TestSmallDeltaDecodeAllocs: decoding a client's one-value delta (the
// room's work for every edit, and a cold load's for every log row) costs a
// fixed set of allocations: no map or string per distinct field name, no
// list for the group order beyond the store's own.
func TestSmallDeltaDecodeAllocs(t *testing.T) {
	lwwPrompts(t) // a one-value delta: the prompt a value, not a text
	base, ids := buildDoc(t, 100)
	clock := newBenchClock("client")
	delta, err := base.Clone().Apply(clock.now(), UpdateSubBlock{BlockID: ids[3], SubBlockID: "systemPrompt", Value: "Summarize the ticket."})
	if err != nil {
		t.Fatal(err)
	}
	enc := delta.Encode()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Decode(enc, DeltaLimits); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("decoding a %d-byte delta: %.0f allocations", len(enc), allocs)
	if allocs > 22 {
		t.Errorf("decoding a %d-byte delta made %.0f allocations, want at most 22", len(enc), allocs)
	}
}

// TestTextRecordDecodeAllocs records what a text record costs to decode:
// its text delta decoded and the record rebuilt; a record that holds the
// decoded runs as they are keeps the input's bytes as its encoding instead
// of being re-encoded for the canonical check (encodesAs: 43 allocations
// per record before, 29 after). Failed past 35 per record.
func TestTextRecordDecodeAllocs(t *testing.T) {
	const n = 200
	d, _ := buildDoc(t, n) // long-input prompts: one text each
	enc := d.Encode()
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := Decode(enc, DocLimits); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("decoding %d blocks with %d texts: %.0f allocations (%.1f per text)", n, len(d.texts), allocs, allocs/float64(len(d.texts)))
	if allocs > 35*float64(len(d.texts)) {
		t.Errorf("%.0f allocations for %d texts", allocs, len(d.texts))
	}
}

// TestCatchUpChunksAllocsPerBlock bounds what chunking a whole document
// allocates (a cold join's catch-up, EncodeChunksSize at the rooms' 256
// KiB): the records' kept encodings, the document measured rather than
// encoded whole, and the chunks' contexts united once. 2,000 blocks with a
// prompt each: 55 allocations per block before, 4.2 after; failed past 12.
func TestCatchUpChunksAllocsPerBlock(t *testing.T) {
	const n = 2000
	d, _ := buildDoc(t, n)
	allocs := testing.AllocsPerRun(3, func() {
		if chunks, _ := d.EncodeChunksSize(256 << 10); len(chunks) < 2 {
			t.Fatalf("%d chunks, want several", len(chunks))
		}
	})
	t.Logf("chunking %d blocks: %.0f allocations (%.1f per block)", n, allocs, allocs/n)
	if allocs > 12*n {
		t.Errorf("chunking %d blocks made %.0f allocations, want at most %d", n, allocs, 12*n)
	}
}
