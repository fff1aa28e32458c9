package protocol

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzDecodeFrame seed files from the table tests")

// FuzzDecodeFrame feeds arbitrary bytes to Decode. It checks that Decode
// never panics, that every error is a typed frame error, and that a decoded
// frame re-encodes to bytes that decode to an identical encoding (the
// canonical form is a fixed point). Like nats' FuzzParser it also decodes
// data[:half] and data[half:] to exercise split and partial frames.
func FuzzDecodeFrame(f *testing.F) {
	for _, tc := range sampleFrames() {
		b, err := Encode(tc.f)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte("ping"))
	f.Add(bytes.Repeat([]byte{0x91}, 1000))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxFrameBytes: 1 << 16}
		checkDecode(t, data, lim)
		half := len(data) / 2
		checkDecode(t, data[:half], lim)
		checkDecode(t, data[half:], lim)
	})
}

func checkDecode(t *testing.T, data []byte, lim Limits) {
	fr, err := Decode(data, lim)
	if err != nil {
		if !errors.Is(err, ErrInvalidFrame) {
			t.Fatalf("untyped decode error: %v", err)
		}
		if c := CodeFor(err); c != CodeInvalidFrame && c != CodeTooLarge {
			t.Fatalf("decode error maps to %v: %v", c, err)
		}
		return
	}
	enc, err := Encode(fr)
	if err != nil {
		t.Fatalf("decoded frame %#v does not re-encode: %v", fr, err)
	}
	fr2, err := Decode(enc, Limits{MaxFrameBytes: 4 * lim.MaxFrameBytes})
	if err != nil {
		t.Fatalf("re-encoded frame does not decode: %v\n% x", err, enc)
	}
	enc2, err := Encode(fr2)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("encoding is not a fixed point (%v):\n% x\n% x", err, enc, enc2)
	}
	if fr2.Type() != fr.Type() {
		t.Fatalf("type changed: %v → %v", fr.Type(), fr2.Type())
	}
}

// TestWriteFuzzCorpus keeps the committed seed corpus in step with the
// table tests: go test ./sync/protocol -run TestWriteFuzzCorpus -update-corpus
func TestWriteFuzzCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to rewrite the seed files")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeFrame")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range sampleFrames() {
		b, _ := Encode(tc.f)
		write("seed-"+filepath.Base(tc.name)+"-"+fmt.Sprintf("%02x", uint8(tc.f.Type())), b)
	}
	write("hostile-dd-ffffffff", []byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	write("hostile-nested-0x91", bytes.Repeat([]byte{0x91}, 4096))
	write("hostile-text-ping", []byte("ping"))
	write("hostile-unknown-opcode", frame(0x7f, s("wf"), s("w")))
	write("hostile-truncated", []byte{0x92, 0x04, 0xdb, 0xff, 0xff, 0xff})
	write("hostile-duplicate-key", frame(0x03, s("wf"), s("a"), s("wf"), s("b")))
}
