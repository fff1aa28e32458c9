package workflow

import (
	"runtime"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// Decoding a small delta allocates for what it holds: the loader cuts its
// slabs to the keys and groups the input can hold. Slabs made for a whole
// document (4,096 keys each) cost a client's one-value edit ~750 KB of
// zeroed memory to decode.
func TestSmallDeltaDecodeBytes(t *testing.T) {
	d := New()
	k := Key{Kind: KindSubBlock, ID: "0000002a-0000-4000-8000-00000000002a", Sub: "systemPrompt"}
	dot := crdt.Dot{Replica: "client", Counter: 7}
	d.Context().Add(dot)
	d.Context().Add(crdt.Dot{Replica: "client", Counter: 6})
	d.Store().Put(k, dot, Cell{Wall: 1_700_000_000_000, Value: stringValue("Summarize the customer's ticket in three")})
	enc := d.Encode()
	const runs = 50
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	for range runs {
		if _, err := Decode(enc, DeltaLimits); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&ms)
	perDecode := (ms.TotalAlloc - before) / runs
	if limit := uint64(64 * len(enc)); perDecode > limit {
		t.Fatalf("decoding a %d-byte delta allocates %d bytes, want at most %d", len(enc), perDecode, limit)
	}
}
