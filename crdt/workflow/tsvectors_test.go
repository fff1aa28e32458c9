package workflow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// TestTSVectors is the TypeScript → Go half of the cross-language conformance
// check (the Go → TypeScript half is golden_test.go and the SDK's
// conformance tests). The SDK's test/ts_vectors.test.ts drives several
// TypeScript replicas through seeded scenarios and commits what it saw to
// clients/js/test/vectors/ts-vectors.json; here every recorded step is
// replayed in Go and must produce the same bytes:
//
//   - an operation step is parsed with ParseOp from its wire form and applied
//     at the recorded timestamp: Go must accept or refuse it as TypeScript
//     did, and its delta must encode to the recorded bytes;
//   - every recorded delta must decode and re-encode to itself, so a delta a
//     browser sends is one the server reads back unchanged;
//   - merge and deltaSince steps are replayed between the Go replicas;
//   - at the end each replica's Encode() and json.Marshal(View()) must equal
//     what TypeScript recorded.
//
// The file is required: a missing file fails the test rather than skipping
// it, so the check cannot silently stop running.
func TestTSVectors(t *testing.T) {
	path := filepath.Join("..", "..", "clients", "js", "test", "vectors", "ts-vectors.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (regenerate it with UPDATE_VECTORS=1 npx vitest run test/ts_vectors in clients/js)", path, err)
	}
	var file tsvFile
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if file.Version != 1 {
		t.Fatalf("%s: version %d, this test reads version 1", path, file.Version)
	}
	if len(file.Cases) == 0 {
		t.Fatalf("%s holds no cases", path)
	}
	for _, c := range file.Cases {
		t.Run(c.Name, func(t *testing.T) { tsvReplay(t, c) })
	}
}

type tsvFile struct {
	Version int       `json:"version"`
	Cases   []tsvCase `json:"cases"`
}

type tsvCase struct {
	Name     string              `json:"name"`
	Replicas []string            `json:"replicas"`
	Steps    []tsvStep           `json:"steps"`
	Final    map[string]tsvFinal `json:"final"`
}

// tsvStep is one of: an operation (Replica, TS, Op, and Delta or Error), a
// full-state merge (Merge) or a catch-up exchange (DeltaSince and Delta).
type tsvStep struct {
	Replica    string   `json:"replica,omitempty"`
	TS         *tsvTS   `json:"ts,omitempty"`
	Op         *tsvOp   `json:"op,omitempty"`
	Delta      string   `json:"delta,omitempty"`
	Error      string   `json:"error,omitempty"`
	Merge      *tsvPair `json:"merge,omitempty"`
	DeltaSince *tsvPair `json:"deltaSince,omitempty"`
}

type tsvTS struct {
	Wall    int64  `json:"wall"`
	Logical uint32 `json:"logical"`
}

type tsvOp struct {
	Name    string         `json:"name"`
	Target  string         `json:"target"`
	Payload map[string]any `json:"payload"`
}

type tsvPair struct {
	From string `json:"from"`
	Into string `json:"into"`
}

type tsvFinal struct {
	Doc  string          `json:"doc"`
	View json.RawMessage `json:"view"`
}

// tsvErrorCodes names the sentinel errors the way the TypeScript SDK's
// WorkflowError codes do: the Go name without "Err".
var tsvErrorCodes = []struct {
	code string
	err  error
}{
	{"Invalid", ErrInvalid},
	{"UnknownBlock", ErrUnknownBlock},
	{"UnknownEdge", ErrUnknownEdge},
	{"UnknownVariable", ErrUnknownVariable},
	{"Exists", ErrExists},
	{"Locked", ErrLocked},
	{"NameConflict", ErrNameConflict},
	{"EdgeRejected", ErrEdgeRejected},
	{"NotContainer", ErrNotContainer},
	{"Precondition", ErrPrecondition},
	{"NoEffect", ErrNoEffect},
}

func tsvErrorCode(err error) string {
	for _, e := range tsvErrorCodes {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return "unclassified: " + err.Error()
}

// tsvDecodeDelta decodes a recorded delta and checks that Go re-encodes it to
// the very bytes TypeScript produced.
func tsvDecodeDelta(t *testing.T, where, b64 string) *Doc {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("%s: delta is not base64: %v", where, err)
	}
	d, err := Decode(b, DocLimits)
	if err != nil {
		t.Fatalf("%s: Go cannot decode the TypeScript delta: %v", where, err)
	}
	if re := d.Encode(); !bytes.Equal(re, b) {
		t.Fatalf("%s: TypeScript delta re-encodes differently in Go\n ts: %x\n go: %x", where, b, re)
	}
	return d
}

func tsvReplay(t *testing.T, c tsvCase) {
	docs := make(map[string]*Doc, len(c.Replicas))
	for _, r := range c.Replicas {
		docs[r] = New()
	}
	replica := func(where, id string) *Doc {
		t.Helper()
		d := docs[id]
		if d == nil {
			t.Fatalf("%s: replica %q is not in the case's replicas %v", where, id, c.Replicas)
		}
		return d
	}
	for i, s := range c.Steps {
		where := "step " + strconv.Itoa(i)
		switch {
		case s.Op != nil:
			where += " (" + s.Replica + " " + s.Op.Target + "/" + s.Op.Name + ")"
			doc := replica(where, s.Replica)
			if s.TS == nil {
				t.Fatalf("%s: operation step without a timestamp", where)
			}
			ts := crdt.Timestamp{Wall: s.TS.Wall, Logical: s.TS.Logical, Replica: crdt.ReplicaID(s.Replica)}
			payload := s.Op.Payload
			if payload == nil {
				payload = map[string]any{}
			}
			op, err := ParseOp(s.Op.Name, s.Op.Target, payload)
			var delta *Doc
			if err == nil {
				delta, err = doc.Apply(ts, op)
			}
			if s.Error != "" {
				if err == nil {
					t.Fatalf("%s: TypeScript refused it with %s, Go accepted it", where, s.Error)
				}
				if got := tsvErrorCode(err); got != s.Error {
					t.Fatalf("%s: TypeScript refused it with %s, Go with %s (%v)", where, s.Error, got, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: TypeScript accepted it, Go refused it: %v", where, err)
			}
			recorded := tsvDecodeDelta(t, where, s.Delta)
			if got, want := delta.Encode(), recorded.Encode(); !bytes.Equal(got, want) {
				t.Fatalf("%s: delta differs\n ts: %x\n go: %x", where, want, got)
			}
		case s.Merge != nil:
			where += " (merge " + s.Merge.From + " → " + s.Merge.Into + ")"
			from, into := replica(where, s.Merge.From), replica(where, s.Merge.Into)
			into.Merge(from.Clone())
		case s.DeltaSince != nil:
			where += " (deltaSince " + s.DeltaSince.From + " → " + s.DeltaSince.Into + ")"
			from, into := replica(where, s.DeltaSince.From), replica(where, s.DeltaSince.Into)
			delta := from.DeltaSince(into.Context())
			recorded := tsvDecodeDelta(t, where, s.Delta)
			if got, want := delta.Encode(), recorded.Encode(); !bytes.Equal(got, want) {
				t.Fatalf("%s: delta differs\n ts: %x\n go: %x", where, want, got)
			}
			into.Merge(recorded)
		default:
			t.Fatalf("%s: step is neither an operation, a merge nor a deltaSince", where)
		}
	}

	names := make([]string, 0, len(c.Final))
	for r := range c.Final {
		names = append(names, r)
	}
	slices.Sort(names)
	if len(names) != len(c.Replicas) {
		t.Fatalf("final holds replicas %v, the case has %v", names, c.Replicas)
	}
	for _, r := range names {
		f := c.Final[r]
		doc := replica("final", r)
		want, err := base64.StdEncoding.DecodeString(f.Doc)
		if err != nil {
			t.Fatalf("final %s: doc is not base64: %v", r, err)
		}
		if got := doc.Encode(); !bytes.Equal(got, want) {
			t.Fatalf("final %s: document differs\n ts: %x\n go: %x", r, want, got)
		}
		decoded, err := Decode(want, DocLimits)
		if err != nil {
			t.Fatalf("final %s: Go cannot decode the TypeScript document: %v", r, err)
		}
		if !decoded.Equal(doc) {
			t.Fatalf("final %s: decoded TypeScript document is not the replayed state", r)
		}
		goJSON, err := json.Marshal(doc.View())
		if err != nil {
			t.Fatalf("final %s: marshal view: %v", r, err)
		}
		var got, exp any
		if err := json.Unmarshal(goJSON, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(f.View, &exp); err != nil {
			t.Fatalf("final %s: recorded view is not JSON: %v", r, err)
		}
		if !reflect.DeepEqual(got, exp) {
			t.Fatalf("final %s: view differs\n ts: %s\n go: %s", r, f.View, goJSON)
		}
	}
}
