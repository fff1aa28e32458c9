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
// its text delta decoded, the record rebuilt and re-encoded (the canonical
// check). Not a bound to keep, a figure to improve: reported, and failed
// only past 100 allocations per record.
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
	if allocs > 100*float64(len(d.texts)) {
		t.Errorf("%.0f allocations for %d texts", allocs, len(d.texts))
	}
}
