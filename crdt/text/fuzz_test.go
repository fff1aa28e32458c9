package text

import (
	"bytes"
	"testing"
)

// FuzzDecodeText: any input either fails to decode with an error or
// decodes to a delta that re-encodes to the same bytes and that an empty
// replica merges (or refuses with an error) without breaking its tree.
func FuzzDecodeText(f *testing.F) {
	seed := New()
	d1, _ := seed.Insert("alice", 0, "hello wörld")
	d2, _ := seed.Insert("bob", 5, ",")
	d3, _ := seed.Delete(2, 4)
	for _, d := range []Delta{d1, d2, d3, seed.DeltaSince(nil)} {
		f.Add(Encode(&d))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDelta(b, DeltaLimits)
		if err != nil {
			return
		}
		if again := Encode(&d); !bytes.Equal(again, b) {
			t.Fatalf("decoded input re-encodes to other bytes:\n%x\n%x", b, again)
		}
		r := New()
		if err := r.Merge(d); err != nil {
			return
		}
		if err := r.validate(); err != nil {
			t.Fatal(err)
		}
	})
}
