package text

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// trace is a recorded editing history (testdata/README.md).
type trace struct {
	StartContent string `json:"startContent"`
	EndContent   string `json:"endContent"`
	Txns         []struct {
		Patches []patch `json:"patches"`
	} `json:"txns"`
}

// patch is [pos, delete count, inserted text], in code points.
type patch struct {
	Pos int
	Del int
	Ins string
}

func (p *patch) UnmarshalJSON(b []byte) error {
	var a [3]json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	if err := json.Unmarshal(a[0], &p.Pos); err != nil {
		return err
	}
	if err := json.Unmarshal(a[1], &p.Del); err != nil {
		return err
	}
	return json.Unmarshal(a[2], &p.Ins)
}

var traceCache sync.Map

// loadTrace reads testdata/name.json.gz once per test binary.
func loadTrace(tb testing.TB, name string) *trace {
	tb.Helper()
	if v, ok := traceCache.Load(name); ok {
		return v.(*trace)
	}
	tr := readTrace(tb, name)
	traceCache.Store(name, tr)
	return tr
}

// readTrace reads testdata/name.json.gz.
func readTrace(tb testing.TB, name string) *trace {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".json.gz"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var tr trace
	if err := json.NewDecoder(zr).Decode(&tr); err != nil {
		tb.Fatal(err)
	}
	return &tr
}

// patches flattens a trace's transactions.
func (tr *trace) patches() []patch {
	var ps []patch
	for _, tx := range tr.Txns {
		ps = append(ps, tx.Patches...)
	}
	return ps
}

var traceNames = []string{"automerge-paper", "seph-blog1"}

// replay applies every patch of tr as one local edit of replica "a" and
// returns the text and, when keep is set, the deltas.
func replay(tb testing.TB, tr *trace, ps []patch, keep bool) (*Text, []Delta) {
	t := New()
	var deltas []Delta
	if tr.StartContent != "" {
		d, err := t.Insert("a", 0, tr.StartContent)
		if err != nil {
			tb.Fatal(err)
		}
		if keep {
			deltas = append(deltas, d)
		}
	}
	for i := range ps {
		p := &ps[i]
		if p.Del > 0 {
			d, err := t.Delete(p.Pos, p.Del)
			if err != nil {
				tb.Fatalf("patch %d: %v", i, err)
			}
			if keep {
				deltas = append(deltas, d)
			}
		}
		if p.Ins != "" {
			d, err := t.Insert("a", p.Pos, p.Ins)
			if err != nil {
				tb.Fatalf("patch %d: %v", i, err)
			}
			if keep {
				deltas = append(deltas, d)
			}
		}
	}
	return t, deltas
}

// TestTraces replays the real traces locally, remotely (every delta merged
// into an empty replica in order) and as one whole state, and checks each
// ends with the recorded final text.
func TestTraces(t *testing.T) {
	for _, name := range traceNames {
		t.Run(name, func(t *testing.T) {
			tr := loadTrace(t, name)
			local, deltas := replay(t, tr, tr.patches(), true)
			if got := local.String(); got != tr.EndContent {
				t.Fatalf("local replay: %d code points, want %d; first difference at byte %d", local.Len(), len([]rune(tr.EndContent)), firstDiff(got, tr.EndContent))
			}
			remote := New()
			for i, d := range deltas {
				if err := remote.Merge(d); err != nil {
					t.Fatalf("delta %d: %v", i, err)
				}
			}
			if got := remote.String(); got != tr.EndContent {
				t.Fatalf("remote replay differs at byte %d", firstDiff(got, tr.EndContent))
			}
			whole := New()
			if err := whole.Merge(local.DeltaSince(nil)); err != nil {
				t.Fatal(err)
			}
			if got := whole.String(); got != tr.EndContent {
				t.Fatalf("state merge differs at byte %d", firstDiff(got, tr.EndContent))
			}
			if !whole.Context().Equal(local.Context()) || !whole.Deleted().Equal(local.Deleted()) {
				t.Fatal("state merge: contexts differ")
			}
			t.Logf("%d patches, %d deltas, %d spans locally, %d remotely, %d runs in the state", len(tr.patches()), len(deltas), local.numSpans(), remote.numSpans(), len(local.DeltaSince(nil).Runs))
		})
	}
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func (t *Text) numSpans() int {
	n := 0
	t.walk(func(*span) { n++ })
	return n
}
