package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxSecretFileBytes caps a secret file: a secret is a line, not a
// document.
const maxSecretFileBytes = 4 << 10

// ReadSecretFile reads a secret (the JWT key of --jwt-secret-file, the admin
// secret of --admin-secret-file) from path, without surrounding whitespace
// (a trailing newline, say). It fails for a missing, empty or oversized
// file. The error names the path, never the contents.
func ReadSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("flowsync: secret file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("flowsync: secret file %s: %w", path, err)
	}
	if len(b) > maxSecretFileBytes {
		return nil, fmt.Errorf("flowsync: secret file %s is over %d bytes", path, maxSecretFileBytes)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("flowsync: secret file " + path + " is empty")
	}
	return b, nil
}
