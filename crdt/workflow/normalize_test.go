package workflow

import (
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// normalizeByRunes is NormalizeName's definition, rune by rune: the ASCII
// fast path must agree with it on every name.
func normalizeByRunes(name string) string {
	var sb strings.Builder
	for _, r := range strings.ToLower(name) {
		if r == '.' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v' || r == '\u00a0' {
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

func TestNormalizeNameMatchesDefinition(t *testing.T) {
	for _, name := range []string{"", " ", "Agent 1", "agent1", "A.B\tC\nD\rE\fF\vG", "ÀGENT 1", "a\u00a0b", "\xff", "LOOP", "..."} {
		if got, want := NormalizeName(name), normalizeByRunes(name); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", name, got, want)
		}
		if got, want := string(appendNormalName([]byte("prefix"), name)), "prefix"+normalizeByRunes(name); got != want {
			t.Errorf("appendNormalName(%q) = %q, want %q", name, got, want)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		name := rapid.StringOf(rapid.SampledFrom([]rune("aZ .\t\n\v\f\r9_-É\u00a0İ"))).Draw(t, "name")
		if got, want := NormalizeName(name), normalizeByRunes(name); got != want {
			t.Fatalf("NormalizeName(%q) = %q, want %q", name, got, want)
		}
		if got, want := string(appendNormalName(nil, name)), normalizeByRunes(name); got != want {
			t.Fatalf("appendNormalName(%q) = %q, want %q", name, got, want)
		}
	})
}
