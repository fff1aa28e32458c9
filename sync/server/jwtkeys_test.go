package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadJWTKeys(t *testing.T) {
	secret := strings.Repeat("s", 32)
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "keys")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keys, err := ReadJWTKeys(write("# rotated 2026-11\n2026-11:" + secret + "\n\n" + secret + "x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != "2026-11" || string(keys[0].Secret) != secret || keys[1].ID != "" || string(keys[1].Secret) != secret+"x" {
		t.Fatalf("keys = %+v", keys)
	}
	for name, body := range map[string]string{"short": "too-short\n", "empty": "# nothing\n", "short kid secret": "k:" + secret[:10] + "\n"} {
		if _, err := ReadJWTKeys(write(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ReadJWTKeys(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
}
