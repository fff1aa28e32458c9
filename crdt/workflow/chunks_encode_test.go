package workflow

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"testing"

	"github.com/flowsync/flowsync/internal/testutil"
)

var chunksEncodeSeed = flag.Uint64("chunksencode.seed", 0, "seed of TestChunksEncodeAsDocuments (0: from FLOWSYNC_SEED, else the time)")

// TestChunksEncodeAsDocuments: EncodeChunks writes each chunk directly
// (chunk.encode), not by building a document and encoding it; every chunk
// must still be the canonical encoding of a document, which Decode checks
// and Encode then reproduces byte for byte, and the chunks together must be
// the document.
func TestChunksEncodeAsDocuments(t *testing.T) {
	seed := testutil.Seed(t, *chunksEncodeSeed)
	rng := rand.New(rand.NewPCG(seed, seed^0xc4a7))
	check := func(what string, d *Doc, limit int, caps Caps) {
		t.Helper()
		chunks := d.EncodeChunksCapped(limit, caps)
		joined := New()
		for i, c := range chunks {
			cd, err := Decode(c, DocLimits)
			if err != nil {
				t.Fatalf("seed %d, %s: chunk %d does not decode: %v", seed, what, i, err)
			}
			if again := cd.Encode(); !bytes.Equal(again, c) {
				t.Fatalf("seed %d, %s: chunk %d re-encodes to other bytes", seed, what, i)
			}
			joined.Merge(cd)
		}
		if !joined.Equal(d) {
			t.Fatalf("seed %d, %s: the chunks joined are not the document", seed, what)
		}
	}
	for range 100 {
		d := randomCapsDoc(rng)
		caps := Caps{MaxValues: 1 + rng.IntN(40), MaxReplicas: 1 + rng.IntN(8), MaxRanges: 1 + rng.IntN(60), MaxValueNodes: 100 + rng.IntN(200)}
		check("random document", d, 200+rng.IntN(4000), caps)
	}
	base, ids := buildDoc(t, 300)
	d := base.Clone()
	mixedOps(t, d, ids, 100, seed) // overwrites and removals: a context with gaps
	for _, limit := range []int{4 << 10, 64 << 10} {
		check("300 blocks", d, limit, DeltaCaps)
	}
}
