package server

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/flowsync/flowsync/sync/session"
)

// ReadJWTKeys reads the HS256 secrets of --jwt-secret-file: one per line,
// either the secret alone or "kid:secret" so that tokens select it by their
// kid header (several lines rotate keys). Blank lines and lines starting
// with # are ignored; every secret is at least session.MinJWTSecretBytes.
// Secrets come from a file so that they never appear in argv or the
// process list.
func ReadJWTKeys(path string) ([]session.JWTKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("flowsync: --jwt-secret-file: %w", err)
	}
	var keys []session.JWTKey
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k := session.JWTKey{Secret: []byte(line)}
		// A line is "kid:secret" when what follows the first colon is long
		// enough to be a secret on its own; otherwise the colon is part of
		// the secret.
		if kid, secret, ok := strings.Cut(line, ":"); ok && kid != "" && len(secret) >= session.MinJWTSecretBytes {
			k = session.JWTKey{ID: kid, Secret: []byte(secret)}
		}
		if len(k.Secret) < session.MinJWTSecretBytes {
			return nil, fmt.Errorf("flowsync: --jwt-secret-file line %d: a secret must be at least %d bytes", n, session.MinJWTSecretBytes)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("flowsync: --jwt-secret-file %s holds no secret", path)
	}
	return keys, nil
}
