package workflow

import (
	"fmt"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// crowdedDoc holds n concurrent values under one key, all of one replica
// so that nothing but the key's values grows with n (Vet refuses such a
// delta from a client; decode and merge must still be linear in it).
func crowdedDoc(n int) *Doc {
	d := New()
	k := Key{Kind: KindSubBlock, ID: "b", Sub: "x"}
	for i := range n {
		dot := crdt.Dot{Replica: "r", Counter: uint64(i + 1)}
		d.Context().Add(dot)
		d.Store().Put(k, dot, Cell{Wall: 1, Value: Value{0x01}})
	}
	return d
}

// A key crowded with values costs amortized O(1) per value added, in a
// decode and in a merge: copying the key's whole slice per value made a
// delta of 2,048 values under one key take ~80 ms to decode and merge.
// Allocations count the copies without timing anything: with a slice the
// store owns they grow by doubling, O(log n); with a copy per value, O(n).
func TestCrowdedKeyIsLinear(t *testing.T) {
	const n = 4096
	enc := crowdedDoc(n).Encode()
	decodeAllocs := testing.AllocsPerRun(3, func() {
		if _, err := Decode(enc, DocLimits); err != nil {
			t.Fatal(err)
		}
	})
	delta, err := Decode(enc, DocLimits)
	if err != nil {
		t.Fatal(err)
	}
	mergeAllocs := testing.AllocsPerRun(3, func() { New().Merge(delta) })
	for what, got := range map[string]float64{"decode": decodeAllocs, "merge": mergeAllocs} {
		if got > 64 {
			t.Errorf("%s of %d values under one key: %.0f allocations, want O(log n) for the key's slice", what, n, got)
		}
	}
	// A slice handed out is never changed by a later put.
	d := crowdedDoc(3)
	k := Key{Kind: KindSubBlock, ID: "b", Sub: "x"}
	held := d.Store().Get(k)
	before := fmt.Sprint(held)
	d.Store().Put(k, crdt.Dot{Replica: "r", Counter: 9}, Cell{Wall: 2, Value: Value{0x02}})
	if fmt.Sprint(held) != before || len(d.Store().Get(k)) != 4 {
		t.Fatalf("a handed-out slice changed: %s → %s", before, fmt.Sprint(held))
	}
}
