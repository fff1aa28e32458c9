package text

import (
	"bytes"
	"compress/flate"
	"errors"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/flowsync/flowsync/crdt"
)

// roundTrip encodes d, decodes it back and checks both the value and the
// bytes survive.
func roundTrip(t interface {
	Fatalf(string, ...any)
	Helper()
}, d Delta) []byte {
	t.Helper()
	b := Encode(&d)
	got, err := DecodeDelta(b, StateLimits)
	if err != nil {
		t.Fatalf("decode of %x: %v", b, err)
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("decode(encode(d)) differs:\n got %+v\nwant %+v", got, d)
	}
	if again := Encode(&got); !bytes.Equal(again, b) {
		t.Fatalf("re-encoding differs:\n%x\n%x", again, b)
	}
	return b
}

// TestEncodeRoundTrip: every delta a replica emits and every state
// round-trips, and replicas that converged encode their states to the same
// bytes.
func TestEncodeRoundTrip(t *testing.T) { rapid.Check(t, encodeRoundTrip) }

// TestEncodeRoundTripSmallNodes: the same with nodes of three, so that Load
// builds many leaves and levels and the edits after it split them.
func TestEncodeRoundTripSmallNodes(t *testing.T) {
	defer func(s, k int) { maxSpans, maxKids = s, k }(maxSpans, maxKids)
	maxSpans, maxKids = 3, 3
	rapid.Check(t, encodeRoundTrip)
}

func encodeRoundTrip(t *rapid.T) {
	{
		n := rapid.IntRange(1, 3).Draw(t, "replicas")
		reps := make([]*Text, n)
		for i := range reps {
			reps[i] = New()
		}
		for range rapid.IntRange(1, 40).Draw(t, "steps") {
			i := rapid.IntRange(0, n-1).Draw(t, "at")
			r := reps[i]
			var d Delta
			var err error
			switch op := rapid.IntRange(0, 3).Draw(t, "op"); {
			case op == 0 && r.Len() > 0:
				pos := rapid.IntRange(0, r.Len()-1).Draw(t, "pos")
				d, err = r.Delete(pos, rapid.IntRange(1, r.Len()-pos).Draw(t, "n"))
			case op == 1:
				j := rapid.IntRange(0, n-1).Draw(t, "from")
				d = reps[j].DeltaSince(r.Context())
				err = r.Merge(d)
			default:
				id := crdt.ReplicaID([]string{"alice", "bob", "carol"}[i])
				d, err = r.Insert(id, rapid.IntRange(0, r.Len()).Draw(t, "pos"), drawText(t, "text"))
			}
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, d)
			state := roundTrip(t, r.DeltaSince(nil))
			loaded, err := Load(state)
			if err != nil {
				t.Fatal(err)
			}
			if err := loaded.validate(); err != nil {
				t.Fatal(err)
			}
			if loaded.String() != r.String() || !bytes.Equal(Encode(ptr(loaded.DeltaSince(nil))), state) {
				t.Fatalf("loaded state differs: %q vs %q", loaded.String(), r.String())
			}
			// A loaded replica goes on editing like the original.
			if loaded.Len() > 0 {
				pos := rapid.IntRange(0, loaded.Len()-1).Draw(t, "probe")
				d1, _ := loaded.Delete(pos, 1)
				d2, _ := loaded.Insert("probe", pos, "Q")
				probe := New()
				probe.Merge(r.DeltaSince(nil))
				if err := probe.Merge(d1); err != nil {
					t.Fatal(err)
				}
				if err := probe.Merge(d2); err != nil {
					t.Fatal(err)
				}
				if probe.String() != loaded.String() {
					t.Fatalf("edits on a loaded replica merge to %q, it holds %q", probe.String(), loaded.String())
				}
			}
		}
		for _, p := range reps {
			for _, q := range reps {
				if err := p.Merge(q.DeltaSince(p.Context())); err != nil {
					t.Fatal(err)
				}
			}
		}
		want := Encode(ptr(reps[0].DeltaSince(nil)))
		for i, p := range reps[1:] {
			if got := Encode(ptr(p.DeltaSince(nil))); !bytes.Equal(got, want) {
				t.Fatalf("replica %d encodes its converged state to other bytes", i+1)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestTraceEncoding: the traces' final states round-trip, load into a
// replica that holds the final text, and report their sizes.
func TestTraceEncoding(t *testing.T) {
	for _, name := range traceNames {
		t.Run(name, func(t *testing.T) {
			tr := loadTrace(t, name)
			local, _ := replay(t, tr, tr.patches(), false)
			b := roundTrip(t, local.DeltaSince(nil))
			loaded, err := Load(b)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.String() != tr.EndContent {
				t.Fatal("loaded state differs from the final text")
			}
			if err := loaded.validate(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(Encode(ptr(loaded.DeltaSince(nil))), b) {
				t.Fatal("a loaded state re-encodes to other bytes")
			}
			t.Logf("encoded %d bytes, %d flate-compressed", len(b), flateSize(b))
		})
	}
}

func flateSize(b []byte) int {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Len()
}

// TestDecodeRefuses: malformed and non-canonical inputs fail with typed
// errors.
func TestDecodeRefuses(t *testing.T) {
	good := New()
	d1, _ := good.Insert("b", 0, "hello")
	d2, _ := good.Insert("a", 2, "XY")
	d3, _ := good.Delete(1, 3)
	_ = d1
	_ = d2
	_ = d3
	state := Encode(ptr(good.DeltaSince(nil)))
	if _, err := DecodeDelta(state, DeltaLimits); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		in   []byte
		want error
	}{
		"empty":         {nil, ErrMalformed},
		"version":       {append([]byte{2}, state[1:]...), ErrFormatVersion},
		"truncated":     {state[:len(state)-1], ErrMalformed},
		"trailing":      {append(bytes.Clone(state), 0xc0), ErrMalformed},
		"long varint":   {[]byte{1, 0x94, 0x91, 0xa1, 'a', 0xc4, 0x04, 0x83, 0x00, 0x00, 0x00, 0xa1, 'x', 0x90}, ErrMalformed},
		"long uint":     {[]byte{1, 0x94, 0x91, 0xa1, 'a', 0xc4, 0x03, 0x03, 0x00, 0x00, 0xa1, 'x', 0x91, 0x92, 0x00, 0x92, 0xcc, 0x05, 0x00}, ErrNotCanonical},
		"unused":        {[]byte{1, 0x94, 0x92, 0xa1, 'a', 0xa1, 'b', 0xc4, 0x03, 0x03, 0x00, 0x00, 0xa1, 'x', 0x90}, ErrNotCanonical},
		"explicit left": {[]byte{1, 0x94, 0x91, 0xa1, 'a', 0xc4, 0x07, 0x03, 0x00, 0x00, 0x0d, 0x06, 0x00, 0x01, 0xa2, 'x', 'y', 0x90}, ErrNotCanonical},
		"text left":     {[]byte{1, 0x94, 0x91, 0xa1, 'a', 0xc4, 0x03, 0x03, 0x00, 0x00, 0xa2, 'x', 'y', 0x90}, ErrMalformed},
		"bad utf8":      {[]byte{1, 0x94, 0x91, 0xa1, 'a', 0xc4, 0x03, 0x03, 0x00, 0x00, 0xa1, 0xff, 0x90}, ErrInvalidUTF8},
		"huge dead run": {[]byte{1, 0x94, 0x91, 0xa1, 'a', 0xc4, 0x08, 0x82, 0x80, 0x80, 0x80, 0x80, 0x02, 0x00, 0x00, 0xa0, 0x90}, ErrTooManyItems},
		"overlap":       {[]byte{1, 0x94, 0x91, 0xa1, 'a', 0xc4, 0x05, 0x03, 0x00, 0x00, 0x01, 0x01, 0xa2, 'x', 'y', 0x90}, ErrOverlap},
		"counter 0":     {[]byte{1, 0x94, 0x91, 0xa1, 'a', 0xc4, 0x03, 0x03, 0x00, 0x01, 0xa1, 'x', 0x90}, ErrCounter},
		"ok":            {[]byte{1, 0x94, 0x91, 0xa1, 'a', 0xc4, 0x03, 0x03, 0x00, 0x00, 0xa1, 'x', 0x90}, nil},
	}
	for name, c := range cases {
		_, err := DecodeDelta(c.in, DeltaLimits)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
		if c.want != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v does not wrap ErrMalformed", name, err)
		}
	}
}
