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
		// Load, the trusting loader, must never panic or build a broken
		// tree, whatever it is given.
		if loaded, err := Load(b); err == nil {
			if err := loaded.validate(); err != nil {
				t.Fatalf("Load built a broken replica: %v", err)
			}
		}
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
		// A canonical state in document order loads to the text merging
		// gives (other inputs may load to other orders, or be refused).
		if bytes.Equal(Encode(ptr(r.DeltaSince(nil))), b) {
			loaded, err := Load(b)
			if err != nil {
				t.Fatalf("state that merges does not load: %v", err)
			}
			if loaded.String() != r.String() {
				t.Fatalf("state merges to %q, loads to %q", r.String(), loaded.String())
			}
		}
	})
}
