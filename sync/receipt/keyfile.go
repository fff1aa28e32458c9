package receipt

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
)

// ParseKeyFile reads keys from a key file: one key per line, "<id>
// <base64 secret>", the first line being the current key; blank lines and
// lines starting with # are ignored. Deployments whose nodes do not share a
// store (one Postgres per region) give every node the same file, so that a
// receipt made in one region checks in the other.
func ParseKeyFile(data []byte) ([]Key, error) {
	var keys []Key
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		id, enc, ok := strings.Cut(text, " ")
		if !ok {
			return nil, fmt.Errorf("receipt: key file line %d: want \"<id> <base64 secret>\"", line)
		}
		secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
		if err != nil {
			return nil, fmt.Errorf("receipt: key file line %d: %v", line, err)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("receipt: key file holds no key")
	}
	return keys, nil
}

// FormatKey returns k as a key file line.
func FormatKey(k Key) string {
	return k.ID + " " + base64.StdEncoding.EncodeToString(k.Secret) + "\n"
}
