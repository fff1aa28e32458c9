package workflow

import "testing"

// The whole-document paths allocate per slab or per rendered object, not
// per stored value: counted, so that the bounds hold whatever the
// machine's load.

// TestDecodeAllocsPerDocument: decoding a document allocates for its
// slabs and indexes, not for each id (ids alias the decoder's copy of the
// input) or each key.
func TestDecodeAllocsPerDocument(t *testing.T) {
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
	const n = 2000
	d, _ := buildDoc(t, n)
	allocs := testing.AllocsPerRun(3, func() { d.View() })
	// About 10 per block when edges, parents and names were copied.
	if limit := float64(7 * n); allocs > limit {
		t.Errorf("a view of %d blocks made %.0f allocations, want at most %.0f", n, allocs, limit)
	}
}
