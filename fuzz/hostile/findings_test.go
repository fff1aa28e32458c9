package hostile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestFindings replays the inputs under testdata/findings: what campaigns
// found on code whose fixes were not merged yet (each NAME has NAME.txt
// beside it, saying what the campaign saw). It runs with -known-defects
// only, until those fixes are in; then the inputs move to the regression
// corpus, testdata/fuzz/FuzzHostileRoom.
func TestFindings(t *testing.T) {
	if !*runKnown {
		t.Skip("replays defects not fixed on this branch yet; run with -known-defects")
	}
	names, err := filepath.Glob(filepath.Join("testdata", "findings", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if strings.HasSuffix(name, ".txt") {
			continue
		}
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := readCorpusFile(name)
			if err != nil {
				t.Fatal(err)
			}
			out := runRoom(t, data)
			if found := append(out.faults, out.stalls...); len(found) > 0 {
				t.Errorf("input %x:\n%s", data, strings.Join(found, "\n"))
			}
		})
	}
}

// readCorpusFile reads a one-[]byte input in the fuzzer's corpus format.
func readCorpusFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
		!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		return nil, os.ErrInvalid
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	return []byte(s), err
}
