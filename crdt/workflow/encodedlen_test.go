package workflow

import (
	"encoding/base64"
	"flag"
	"math/rand/v2"
	"testing"

	"github.com/flowsync/flowsync/internal/testutil"
)

var encodedLenSeed = flag.Uint64("encodedlen.seed", 0, "seed of TestEncodedLenIsEncodingLength (0: from FLOWSYNC_SEED, else the time)")

// encodedLen measures what Encode writes (EncodeChunksSize reports it as
// the document's size without encoding a document that does not fit one
// chunk): it must be len(Encode()) for every document — random ones, every
// golden case's final state, documents with texts, edited and removed
// values, and the empty one.
func TestEncodedLenIsEncodingLength(t *testing.T) {
	seed := testutil.Seed(t, *encodedLenSeed)
	rng := rand.New(rand.NewPCG(seed, seed^0x51e))
	check := func(what string, d *Doc) {
		t.Helper()
		if got, want := d.encodedLen(), len(d.Encode()); got != want {
			t.Fatalf("seed %d, %s: encodedLen %d, Encode writes %d bytes", seed, what, got, want)
		}
		if _, size := d.EncodeChunksSize(1 << 30); size != len(d.Encode()) {
			t.Fatalf("seed %d, %s: EncodeChunksSize reports %d bytes, Encode writes %d", seed, what, size, len(d.Encode()))
		}
	}
	check("empty document", New())
	for range 200 {
		check("random document", randomCapsDoc(rng))
	}
	base, ids := buildDoc(t, 300)
	d := base.Clone()
	mixedOps(t, d, ids, 200, seed)
	check("300 blocks after mixed edits", d)
	check("a delta since the base", d.DeltaSince(base.Context()))

	wall := int64(1000)
	a := newReplicaDoc(t, "a", &wall)
	a.apply(promptBlock("p", "a prompt of some length, past thirty-one bytes"))
	a.apply(InsertText{TextTarget: prompt("p"), Index: 2, Text: "long "})
	a.apply(DeleteText{TextTarget: prompt("p"), Index: 0, Length: 1})
	check("texts", a.d)

	cases, _ := goldenCases(t)
	for _, c := range cases {
		for _, r := range c.Replicas {
			raw, err := base64.StdEncoding.DecodeString(c.Final[r].Doc)
			if err != nil {
				t.Fatal(err)
			}
			gd, err := Decode(raw, DocLimits)
			if err != nil {
				t.Fatalf("golden %q: %v", c.Name, err)
			}
			check("golden "+c.Name, gd)
		}
	}
}
