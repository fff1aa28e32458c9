package receipt

import (
	"bytes"
	"errors"
	"testing"
)

func mustKey(t *testing.T, id string) Key {
	t.Helper()
	k, err := NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignVerify(t *testing.T) {
	k1, k2 := mustKey(t, "k1"), mustKey(t, "k2")
	old, err := NewKeyring(k1)
	if err != nil {
		t.Fatal(err)
	}
	delta := []byte("\x01delta bytes")
	r := old.Sign("wf-1", delta)
	if r.KeyID != "k1" || len(r.MAC) != MACSize {
		t.Fatalf("receipt %+v", r)
	}
	if err := old.Verify("wf-1", delta, r); err != nil {
		t.Fatalf("own receipt: %v", err)
	}
	// Rotation: the new ring signs with k2 and still checks k1's receipts.
	rotated, err := NewKeyring(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	if err := rotated.Verify("wf-1", delta, r); err != nil {
		t.Fatalf("old receipt after rotation: %v", err)
	}
	if got := rotated.Sign("wf-1", delta); got.KeyID != "k2" || bytes.Equal(got.MAC, r.MAC) {
		t.Fatalf("rotated ring signs with %q", got.KeyID)
	}
	// Retired key: refused as unknown.
	retired, _ := NewKeyring(k2)
	if err := retired.Verify("wf-1", delta, r); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("retired key: %v", err)
	}
}

func TestVerifyRefusesEveryChange(t *testing.T) {
	ring, _ := NewKeyring(mustKey(t, "k"))
	delta := []byte("some delta")
	r := ring.Sign("wf", delta)
	cases := map[string]func() error{
		"other workflow":  func() error { return ring.Verify("wf2", delta, r) },
		"prefix workflow": func() error { return ring.Verify("w", append([]byte("f"), delta...), r) },
		"other bytes":     func() error { return ring.Verify("wf", []byte("some delte"), r) },
		"truncated bytes": func() error { return ring.Verify("wf", delta[:5], r) },
		"short MAC":       func() error { return ring.Verify("wf", delta, Receipt{KeyID: "k", MAC: r.MAC[:8]}) },
		"flipped MAC bit": func() error {
			m := bytes.Clone(r.MAC)
			m[3] ^= 1
			return ring.Verify("wf", delta, Receipt{KeyID: "k", MAC: m})
		},
		"other key secret": func() error { o, _ := NewKeyring(mustKey(t, "k")); return o.Verify("wf", delta, r) },
	}
	for name, verify := range cases {
		if err := verify(); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: %v, want ErrMismatch", name, err)
		}
	}
}

func TestNewKeyringChecks(t *testing.T) {
	good := mustKey(t, "ok")
	for name, keys := range map[string][]Key{
		"none":         nil,
		"short secret": {{ID: "a", Secret: make([]byte, 31)}},
		"empty id":     {{ID: "", Secret: good.Secret}},
		"long id":      {{ID: "abcdefghijklmnopq", Secret: good.Secret}},
		"bad id":       {{ID: "a b", Secret: good.Secret}},
		"duplicate":    {good, good},
	} {
		if _, err := NewKeyring(keys...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestKeyFile(t *testing.T) {
	k1, k2 := mustKey(t, "k1"), mustKey(t, "k2")
	file := "# rotated 2026-12\n" + FormatKey(k2) + "\n" + FormatKey(k1)
	keys, err := ParseKeyFile([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != "k2" || !bytes.Equal(keys[1].Secret, k1.Secret) {
		t.Fatalf("parsed %+v", keys)
	}
	for _, bad := range []string{"", "# only a comment\n", "k1\n", "k1 not-base64!\n"} {
		if _, err := ParseKeyFile([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func BenchmarkSign1KiB(b *testing.B) {
	k, _ := NewKey("k")
	ring, _ := NewKeyring(k)
	delta := make([]byte, 1024)
	b.SetBytes(int64(len(delta)))
	b.ReportAllocs()
	for b.Loop() {
		ring.Sign("workflow-id", delta)
	}
}
