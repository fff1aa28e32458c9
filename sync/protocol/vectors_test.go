package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	m "github.com/flowsync/flowsync/crdt/msgpackx"
)

// The frame vectors let the TypeScript codec (test/protocol-vectors.test.ts)
// prove that it interprets the generated schema exactly as this package
// interprets the tables: every sample frame with its bytes, and inputs that
// Decode refuses or accepts (mutations of the samples) with its verdict.
// The file is rebuilt in memory on every run and compared with the committed
// one; -update rewrites it.
const vectorsPath = "testdata/frames.json"

type frameVectors struct {
	Frames []frameVector  `json:"frames"`
	Decode []decodeVector `json:"decode"`
}

type frameVector struct {
	Name  string `json:"name"`
	Bytes string `json:"bytes"`
}

// decodeVector is one input to Decode with Limits{}: refused with Kind (the
// FrameDecodeError kind: WrongType, MissingKey, ...) and Detail (the message
// after the kind and frame, for the kinds whose wording both sides share),
// or accepted, Bytes being the decoded frame's Encode when it differs from
// the input.
type decodeVector struct {
	In     string `json:"in"`
	Kind   string `json:"kind,omitempty"`
	Detail string `json:"detail,omitempty"`
	Bytes  string `json:"bytes,omitempty"`
}

var errorKinds = []struct {
	err  error
	name string
}{
	{ErrTooLarge, "TooLarge"}, {ErrMalformed, "Malformed"}, {ErrUnknownFrameType, "UnknownFrameType"},
	{ErrDuplicateKey, "DuplicateKey"}, {ErrMissingKey, "MissingKey"}, {ErrWrongType, "WrongType"},
	{ErrInvalidValue, "InvalidValue"},
}

func decodeVerdict(in []byte) decodeVector {
	v := decodeVector{In: hex.EncodeToString(in)}
	f, err := Decode(in, Limits{})
	if err == nil {
		b, err := Encode(f)
		if err != nil {
			panic(err)
		}
		if !bytes.Equal(b, in) {
			v.Bytes = hex.EncodeToString(b)
		}
		return v
	}
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			v.Kind = k.name
			break
		}
	}
	var de *decodeError
	if errors.As(err, &de) && (v.Kind == "MissingKey" || v.Kind == "InvalidValue") && de.cause == nil {
		v.Detail = de.detail
	}
	return v
}

// validUTF8 reports whether every string in a msgpack value is valid UTF-8
// and the value is well formed: the TypeScript parser refuses invalid UTF-8
// anywhere (Malformed), where Decode checks the strings it reads (so a bad
// one is InvalidValue, and one under an unknown key is skipped). Vectors
// that differ only in that are left out.
func validUTF8(b []byte) bool {
	if m.Check(b, m.Limits{MaxBytes: len(b), MaxDepth: DefaultMaxDepth}) != nil {
		return true // refused before any string is read, on both sides
	}
	var walk func(r *m.Reader) bool
	walk = func(r *m.Reader) bool {
		raw := r.Raw()
		if len(raw) == 0 {
			return true
		}
		c := raw[0]
		switch {
		case c >= 0xa0 && c <= 0xbf || c == 0xd9 || c == 0xda || c == 0xdb:
			s := m.NewReader(raw).StringBytes()
			return utf8Valid(s)
		case c >= 0x90 && c <= 0x9f || c == 0xdc || c == 0xdd:
			sub := m.NewReader(raw)
			n := sub.ArrayHeader()
			for i := 0; i < n; i++ {
				if !walk(sub) {
					return false
				}
			}
		case c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf:
			sub := m.NewReader(raw)
			n := sub.MapHeader()
			for i := 0; i < 2*n; i++ {
				if !walk(sub) {
					return false
				}
			}
		}
		return true
	}
	return walk(m.NewReader(b))
}

func utf8Valid(s []byte) bool { return strings.ToValidUTF8(string(s), "\uFFFD") == string(s) }

func buildVectors() frameVectors {
	var out frameVectors
	var seeds [][]byte
	for _, tc := range sampleFrames() {
		b, err := Encode(tc.f)
		if err != nil {
			panic(err)
		}
		out.Frames = append(out.Frames, frameVector{Name: tc.name, Bytes: hex.EncodeToString(b)})
		if len(b) <= 160 {
			seeds = append(seeds, b)
		}
	}
	// Mutations of the small samples, with a fixed seed, kept when they are
	// well-formed msgpack: those reach the field decoders and the bounds (a
	// changed type byte, a key renamed into a missing one, a cut id). The
	// msgpack checks themselves have their own tests on each side.
	r := rand.New(rand.NewPCG(12, 34))
	seen := map[string]bool{}
	for len(out.Decode) < 1000 {
		b := bytes.Clone(seeds[r.IntN(len(seeds))])
		for k := 1 + r.IntN(2); k > 0 && len(b) > 1; k-- {
			at := r.IntN(len(b))
			switch r.IntN(4) {
			case 0:
				b[at] = byte(r.IntN(256))
			case 1:
				b[at] ^= 1 << r.IntN(8)
			case 2:
				b = append(b[:at], b[at+1:]...)
			default:
				b = append(b[:at], append([]byte{byte(r.IntN(256))}, b[at:]...)...)
			}
		}
		if seen[string(b)] || !validUTF8(b) || m.Check(b, m.Limits{MaxBytes: len(b), MaxDepth: DefaultMaxDepth}) != nil {
			continue
		}
		seen[string(b)] = true
		v := decodeVerdict(b)
		if v.Kind == "InvalidValue" && v.Detail == "" {
			// An Operation payload that is not JSON-shaped: each side's
			// msgpack value decoder refuses it, with kinds of its own.
			continue
		}
		out.Decode = append(out.Decode, v)
	}
	return out
}

func TestFrameVectors(t *testing.T) {
	got, err := json.MarshalIndent(buildVectors(), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(vectorsPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: rerun with -update, then run the TypeScript tests\n%s", vectorsPath, firstDiff(want, got))
	}
}
