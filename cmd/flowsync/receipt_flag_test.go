package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsync/flowsync/sync/receipt"
)

func TestReceiptKeysFileFlag(t *testing.T) {
	none := func(string) string { return "" }
	k1, _ := receipt.NewKey("k1")
	k2, _ := receipt.NewKey("k2")
	dir := t.TempDir()
	good := filepath.Join(dir, "keys")
	if err := os.WriteFile(good, []byte(receipt.FormatKey(k2)+receipt.FormatKey(k1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := parseServe([]string{"--dev", "--receipt-keys-file", good}, none, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.ReceiptKeys) != 2 || cfg.ReceiptKeys[0].ID != "k2" {
		t.Fatalf("keys %+v", cfg.ReceiptKeys)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("k1 not-base64!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing")} {
		if _, _, err := parseServe([]string{"--dev", "--receipt-keys-file", path}, none, &bytes.Buffer{}); err == nil {
			t.Errorf("%s accepted", path)
		}
	}
}
