package protocol

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestProtocolDocCodeTables checks the error-code and close-code tables of
// docs/PROTOCOL.md (§5 and §6) against Codes() and CloseCodes(): the same
// codes in the same order, each with its name (or reason) and retry (or
// reconnect) column as the code says. The meaning column is the doc's own.
// A code added, renamed or made retryable without the doc fails here.
func TestProtocolDocCodeTables(t *testing.T) {
	raw, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	var codes, closes []string
	for _, c := range Codes() {
		codes = append(codes, fmt.Sprintf("%d | `%s` | %s", c, c, yesNo(c.Retryable())))
	}
	for _, c := range CloseCodes() {
		closes = append(closes, fmt.Sprintf("%d | %s | %s", c, c, yesNo(c.ShouldReconnect())))
	}
	for _, tc := range []struct {
		section string
		want    []string
	}{{"## 5. Error codes", codes}, {"## 6. Close codes", closes}} {
		got := tableRows(t, doc, tc.section)
		if !slices.Equal(got, tc.want) {
			t.Errorf("docs/PROTOCOL.md %q: rows (code | name | retry) differ from the code:\n got:\n  %s\n want:\n  %s",
				tc.section, strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
		}
	}
}

// tableRows returns the first three columns of the rows of the table under
// heading whose first column is a number.
func tableRows(t *testing.T, doc, heading string) []string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("docs/PROTOCOL.md has no %q", heading)
	}
	section := doc[i+len(heading)+2:]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	row := regexp.MustCompile(`(?m)^\| (\d+) \| ([^|]+?) \| ([^|]+?) \|`)
	var rows []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		rows = append(rows, m[1]+" | "+m[2]+" | "+m[3])
	}
	if len(rows) == 0 {
		t.Fatalf("docs/PROTOCOL.md %q has no table rows", heading)
	}
	return rows
}
