package workflow

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// The golden vectors pin the byte encoding of documents, deltas, contexts,
// canonical values and chunks, and the view, so that the TypeScript replica
// in clients/js (test/conformance*.test.ts) can prove it is byte-identical to
// this package. The file is regenerated in memory on every run and compared
// with the committed one, so a change to the encoding or to an operation
// cannot silently leave the other language behind: rerun with -update, and
// the TypeScript conformance tests then show whether the port still agrees.
//
//	go test -run Golden ./crdt/workflow -update

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden/vectors.json instead of comparing against it")

const goldenPath = "testdata/golden/vectors.json"

type goldenFile struct {
	Version  int             `json:"version"`
	Cases    []*goldenCase   `json:"cases"`
	Values   []goldenValue   `json:"values"`
	Contexts []goldenContext `json:"contexts"`
	Chunks   []goldenChunks  `json:"chunks"`
	// Decode holds mutated encodings (truncated, bytes changed, inserted or
	// removed) with Go's verdict, so the TypeScript decoder can prove it
	// accepts and refuses exactly the same inputs.
	Decode []goldenDecode `json:"decode"`
	// CapDecode holds deltas at and one past small caps, with Go's verdict
	// under those caps (DecodeCapped with DeltaLimits): "" or the reason.
	CapDecode []goldenCapDecode `json:"capDecode"`
	// InvalidUTF8 holds documents whose string values are not valid UTF-8
	// (written cell by cell, as a raw delta from any client could), with Go's
	// view JSON and the outcome of operations whose name checks read them.
	InvalidUTF8 []goldenInvalid `json:"invalidUtf8"`
}

// goldenInvalid is a document holding invalid UTF-8 in values, and what Go
// makes of it: View is json.Marshal(doc.View()) (encoding/json turns each
// invalid byte into U+FFFD); Normalized maps each block id to
// NormalizeName(name) (strings.ToLower likewise replaces each invalid byte);
// Ops are operations applied to Doc, each on a fresh copy. The invalid bytes
// appear only inside base64, so the file stays valid UTF-8.
type goldenInvalid struct {
	Name       string            `json:"name"`
	Doc        string            `json:"doc"`
	View       json.RawMessage   `json:"view"`
	Normalized map[string]string `json:"normalized"`
	Ops        []goldenStep      `json:"ops"`
}

// goldenDecode is one input to Decode (with DocLimits): refused with Error
// ("FormatVersion" or "Malformed"), or accepted, Doc being the decoded
// document's Encode (always the input itself: only canonical encodings are
// accepted).
type goldenDecode struct {
	Bytes string `json:"bytes"`
	Error string `json:"error,omitempty"`
	Doc   string `json:"doc,omitempty"`
}

type goldenCase struct {
	Name     string                 `json:"name"`
	Replicas []string               `json:"replicas"`
	Steps    []goldenStep           `json:"steps"`
	Final    map[string]goldenFinal `json:"final"`
}

type goldenTS struct {
	Wall    int64  `json:"wall"`
	Logical uint32 `json:"logical"`
}

type goldenOp struct {
	Name    string          `json:"name"`
	Target  string          `json:"target"`
	Payload json.RawMessage `json:"payload"`
}

type goldenFromInto struct {
	From string `json:"from"`
	Into string `json:"into"`
}

// goldenStep is one of: an operation (replica, ts, op, then delta or error),
// a whole-document merge, or a deltaSince transfer (with its delta).
type goldenStep struct {
	Replica    string          `json:"replica,omitempty"`
	TS         *goldenTS       `json:"ts,omitempty"`
	Op         *goldenOp       `json:"op,omitempty"`
	Merge      *goldenFromInto `json:"merge,omitempty"`
	DeltaSince *goldenFromInto `json:"deltaSince,omitempty"`
	Delta      string          `json:"delta,omitempty"`
	Error      string          `json:"error,omitempty"`
}

type goldenFinal struct {
	Doc  string          `json:"doc"`
	View json.RawMessage `json:"view"`
}

// goldenValue is a canonical value. JSON is absent for values JSON cannot
// carry exactly (bin, integers beyond ±2^53); those are checked by a byte
// round trip (decode, re-encode) and Note says what they hold.
type goldenValue struct {
	JSON      json.RawMessage `json:"json,omitempty"`
	Canonical string          `json:"canonical"`
	Note      string          `json:"note,omitempty"`
}

type goldenContext struct {
	Ranges map[string][][2]uint64 `json:"ranges"`
	Bytes  string                 `json:"bytes"`
}

type goldenChunks struct {
	Doc    string      `json:"doc"`
	Limit  int         `json:"limit"`
	Caps   *goldenCaps `json:"caps,omitempty"` // absent: DeltaCaps
	Chunks []string    `json:"chunks"`
}

// goldenCaps is a workflow.Caps (0: no cap).
type goldenCaps struct {
	MaxValues     int `json:"maxValues"`
	MaxReplicas   int `json:"maxReplicas"`
	MaxRanges     int `json:"maxRanges"`
	MaxValueNodes int `json:"maxValueNodes"`
}

func (c goldenCaps) caps() Caps {
	return Caps{MaxValues: c.MaxValues, MaxReplicas: c.MaxReplicas, MaxRanges: c.MaxRanges, MaxValueNodes: c.MaxValueNodes}
}

// goldenCapDecode is one delta decoded under Caps: Reason is "" when it is
// admitted, else the TypeScript DecodeReason of Go's sentinel.
type goldenCapDecode struct {
	Bytes  string     `json:"bytes"`
	Caps   goldenCaps `json:"caps"`
	Reason string     `json:"reason"`
}

func goldenB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// goldenSentinels names every operation error by its Go sentinel without Err,
// which is the TypeScript WorkflowError code.
var goldenSentinels = []struct {
	err  error
	name string
}{
	{ErrInvalid, "Invalid"}, {ErrUnknownBlock, "UnknownBlock"}, {ErrUnknownEdge, "UnknownEdge"},
	{ErrUnknownVariable, "UnknownVariable"}, {ErrExists, "Exists"}, {ErrLocked, "Locked"},
	{ErrNameConflict, "NameConflict"}, {ErrEdgeRejected, "EdgeRejected"},
	{ErrNotContainer, "NotContainer"}, {ErrPrecondition, "Precondition"}, {ErrNoEffect, "NoEffect"},
}

func goldenSentinelName(err error) string {
	for _, s := range goldenSentinels {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return ""
}

// scenario recorder

type goldenGen struct {
	t    *testing.T
	c    *goldenCase
	docs map[string]*Doc
	wall int64
	// succeeded records which (target, operation) pairs applied at least once.
	succeeded map[[2]string]bool
	// errorsSeen records which sentinels some step was refused with.
	errorsSeen map[string]bool
}

func (g *goldenGen) newCase(name string, replicas ...string) *goldenCase {
	c := &goldenCase{Name: name, Replicas: replicas, Final: map[string]goldenFinal{}}
	g.c = c
	g.docs = map[string]*Doc{}
	for _, r := range replicas {
		g.docs[r] = New()
	}
	g.wall = 1_700_000_000_000
	return c
}

// parsePayload decodes payload the way JSON.parse does in the browser: every
// number a float64. ParseOp accepts that, and canonical values written from
// it match what the TypeScript side writes from the same JSON.
func (g *goldenGen) parsePayload(payload string) (json.RawMessage, map[string]any) {
	g.t.Helper()
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(payload)); err != nil {
		g.t.Fatalf("case %q: payload %s: %v", g.c.Name, payload, err)
	}
	var m map[string]any
	if err := json.Unmarshal(compact.Bytes(), &m); err != nil {
		g.t.Fatalf("case %q: payload %s: %v", g.c.Name, payload, err)
	}
	return json.RawMessage(compact.Bytes()), m
}

// apply runs one operation at the next wall time (one second later, logical 0)
// and records it; want is "" for success or the expected error name.
func (g *goldenGen) apply(replica, name, target, payload, want string) {
	g.t.Helper()
	g.wall += 1000
	g.applyAt(replica, g.wall, 0, name, target, payload, want)
}

func (g *goldenGen) applyAt(replica string, wall int64, logical uint32, name, target, payload, want string) {
	g.t.Helper()
	doc := g.docs[replica]
	if doc == nil {
		g.t.Fatalf("case %q: unknown replica %q", g.c.Name, replica)
	}
	raw, m := g.parsePayload(payload)
	step := goldenStep{Replica: replica, TS: &goldenTS{wall, logical}, Op: &goldenOp{name, target, raw}}
	op, err := ParseOp(name, target, m)
	var delta *Doc
	if err == nil {
		delta, err = doc.Apply(crdt.Timestamp{Wall: wall, Logical: logical, Replica: crdt.ReplicaID(replica)}, op)
	}
	key := [2]string{target, name}
	if err != nil {
		got := goldenSentinelName(err)
		if got == "" || got != want {
			g.t.Fatalf("case %q: %s/%s by %s: got %v, want %q", g.c.Name, target, name, replica, err, want)
		}
		step.Error = got
		g.errorsSeen[got] = true
	} else {
		if want != "" {
			g.t.Fatalf("case %q: %s/%s by %s succeeded, want %s", g.c.Name, target, name, replica, want)
		}
		step.Delta = goldenB64(delta.Encode())
		g.succeeded[key] = true
	}
	g.c.Steps = append(g.c.Steps, step)
}

func (g *goldenGen) ok(replica, name, target, payload string) {
	g.t.Helper()
	g.apply(replica, name, target, payload, "")
}

func (g *goldenGen) fail(replica, name, target, payload, want string) {
	g.t.Helper()
	g.apply(replica, name, target, payload, want)
}

// merge joins the whole document of from into into.
func (g *goldenGen) merge(from, into string) {
	g.docs[into].Merge(g.docs[from].Clone())
	g.c.Steps = append(g.c.Steps, goldenStep{Merge: &goldenFromInto{from, into}})
}

// since sends into what it lacks of from, computed from into's context.
func (g *goldenGen) since(from, into string) {
	delta := g.docs[from].DeltaSince(g.docs[into].Context())
	g.c.Steps = append(g.c.Steps, goldenStep{DeltaSince: &goldenFromInto{from, into}, Delta: goldenB64(delta.Encode())})
	g.docs[into].Merge(delta)
}

// sync makes every replica hold everything, by deltaSince both ways between
// the first replica and each other one.
func (g *goldenGen) sync() {
	first := g.c.Replicas[0]
	for _, r := range g.c.Replicas[1:] {
		g.since(r, first)
	}
	for _, r := range g.c.Replicas[1:] {
		g.since(first, r)
	}
}

func (g *goldenGen) finish(converged bool) {
	g.t.Helper()
	for _, r := range g.c.Replicas {
		d := g.docs[r]
		view, err := json.Marshal(d.View())
		if err != nil {
			g.t.Fatalf("case %q: view of %s: %v", g.c.Name, r, err)
		}
		// The encoding must round-trip, or the vector would pin a bug.
		back, err := Decode(d.Encode(), DocLimits)
		if err != nil || !back.Equal(d) || !bytes.Equal(back.Encode(), d.Encode()) {
			g.t.Fatalf("case %q: %s does not round-trip: %v", g.c.Name, r, err)
		}
		g.c.Final[r] = goldenFinal{Doc: goldenB64(d.Encode()), View: view}
	}
	if converged {
		first := g.docs[g.c.Replicas[0]]
		for _, r := range g.c.Replicas[1:] {
			if !g.docs[r].Equal(first) {
				g.t.Fatalf("case %q: %s and %s did not converge", g.c.Name, g.c.Replicas[0], r)
			}
		}
	}
}

// Payload builders. Payloads are JSON text, as the reference sends them.

// goldenJSON marshals a payload built in code; it cannot fail.
func goldenJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// gobj is a JSON object under construction.
type gobj = map[string]any

// gBlock is a block record with the fields every add needs.
func gBlock(id, typ, name string, x, y float64) gobj {
	return gobj{"id": id, "type": typ, "name": name, "position": gobj{"x": x, "y": y}}
}

// gWith returns a copy of m with the given key, value pairs set.
func gWith(m gobj, kv ...any) gobj {
	out := gobj{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// gBlocks is a batch-add-blocks payload of bs.
func gBlocks(bs ...gobj) string {
	list := make([]any, len(bs))
	for i, b := range bs {
		list[i] = b
	}
	return goldenJSON(gobj{"blocks": list})
}

// gEdge is an edge record; kv adds handles or a type.
func gEdge(id, source, target string, kv ...any) gobj {
	return gWith(gobj{"id": id, "source": source, "target": target}, kv...)
}

func goldenCases(t *testing.T) ([]*goldenCase, *goldenGen) {
	g := &goldenGen{t: t, succeeded: map[[2]string]bool{}, errorsSeen: map[string]bool{}}
	var cases []*goldenCase
	add := func(c *goldenCase, converged bool) {
		g.finish(converged)
		cases = append(cases, c)
	}

	// 1. Single replica, the block vocabulary.
	c := g.newCase("single block fields", "alice")
	g.ok("alice", "batch-add-blocks", "blocks", gBlocks(
		gWith(gBlock("a1", "agent", "Agent 1", 100, 200), "subBlocks", gobj{
			"model":  gobj{"id": "model", "type": "combobox", "value": "gpt-4o"},
			"prompt": gobj{"id": "prompt", "type": "long-input", "value": "Hello"},
		}, "outputs", gobj{"content": gobj{"type": "string"}}),
		gBlock("s1", "starter", "Start", 0, 0),
	))
	g.ok("alice", "update-position", "block", `{"id":"a1","position":{"x":150.5,"y":-20.25},"commit":true}`)
	g.fail("alice", "update-position", "block", `{"id":"a1","position":{"x":1,"y":2},"commit":false}`, "NoEffect")
	g.ok("alice", "update-name", "block", `{"id":"a1","name":"Writer"}`)
	g.fail("alice", "update-name", "block", `{"id":"a1","name":"start"}`, "NameConflict")
	g.fail("alice", "update-name", "block", `{"id":"a1","name":"Loop"}`, "NameConflict")
	g.ok("alice", "toggle-enabled", "block", `{"id":"a1"}`)
	g.ok("alice", "toggle-enabled", "block", `{"id":"a1"}`)
	g.ok("alice", "update-advanced-mode", "block", `{"id":"a1","advancedMode":true}`)
	g.ok("alice", "update-error-enabled", "block", `{"id":"a1","errorEnabled":true}`)
	g.ok("alice", "update-retry", "block", `{"id":"a1","retry":{"enabled":true,"maxAttempts":3,"backoffMs":1500.5}}`)
	g.ok("alice", "update-canonical-mode", "block", `{"id":"a1","canonicalId":"credential","canonicalMode":"advanced"}`)
	g.fail("alice", "update-canonical-mode", "block", `{"id":"a1","canonicalId":"credential","canonicalMode":"expert"}`, "Invalid")
	g.ok("alice", "replace-canonical-modes", "block", `{"id":"a1","data":{"canonicalModes":{"model":"basic","tools":"advanced"}}}`)
	g.ok("alice", "toggle-handles", "block", `{"id":"a1","horizontalHandles":false}`)
	g.ok("alice", "update-wide", "block", `{"id":"a1","isWide":true}`)
	g.ok("alice", "update-trigger-mode", "block", `{"id":"a1","triggerMode":true}`)
	g.ok("alice", "subblock-update", "subblock", `{"blockId":"a1","subblockId":"prompt","value":"Write a haiku"}`)
	g.fail("alice", "subblock-update", "subblock", `{"blockId":"zz","subblockId":"prompt","value":"x"}`, "UnknownBlock")
	g.fail("alice", "update-name", "block", `{"id":"nope","name":"X"}`, "UnknownBlock")
	g.fail("alice", "update-name", "block", `{"name":"X"}`, "Invalid")
	g.fail("alice", "no-such-op", "block", `{"id":"a1"}`, "Invalid")
	add(c, true)

	// 2. Legacy single add/remove/duplicate with auto-connect edge.
	c = g.newCase("legacy add duplicate remove", "alice")
	g.ok("alice", "add", "block", goldenJSON(gWith(gBlock("s1", "starter", "Start", 0, 0))))
	g.ok("alice", "add", "block", goldenJSON(gWith(gBlock("b1", "function", "Fn", 300, 0),
		"autoConnectEdge", gEdge("e1", "s1", "b1", "sourceHandle", "source", "targetHandle", "target"),
		"subBlocks", gobj{"code": gobj{"type": "code", "value": "return 1"}})))
	g.fail("alice", "add", "block", goldenJSON(gBlock("b1", "function", "Fn again", 0, 0)), "Exists")
	g.fail("alice", "add", "block", goldenJSON(gBlock("b2", "function", "", 0, 0)), "Invalid")
	g.ok("alice", "duplicate", "block", `{"sourceId":"b1","id":"b1copy","name":"Fn copy","position":{"x":300,"y":150}}`)
	g.fail("alice", "duplicate", "block", `{"sourceId":"missing","id":"b9"}`, "UnknownBlock")
	g.fail("alice", "duplicate", "block", `{"sourceId":"b1","id":"b1copy"}`, "Exists")
	g.ok("alice", "remove", "block", `{"id":"b1"}`)
	g.fail("alice", "remove", "block", `{"id":"b1"}`, "UnknownBlock")
	add(c, true)

	// 3. Edges, legacy handles, graph rules.
	c = g.newCase("edges and legacy handles", "alice", "bob")
	g.ok("alice", "batch-add-blocks", "blocks", goldenJSON(gobj{
		"blocks": []any{gBlock("s", "starter", "Start", 0, 0), gBlock("a", "agent", "A", 200, 0),
			gBlock("b", "agent", "B", 400, 0), gBlock("n", "note", "Note", 0, 300), gBlock("c", "condition", "Cond", 600, 0)},
		"edges": []any{gEdge("e-sa", "s", "a", "sourceHandle", "source-right", "targetHandle", "target-left")},
	}))
	g.merge("alice", "bob")
	g.ok("alice", "add", "edge", goldenJSON(gEdge("e-ab", "a", "b", "sourceHandle", "source-bottom", "targetHandle", "target-top", "type", "workflowEdge")))
	g.fail("alice", "add", "edge", goldenJSON(gEdge("e-aa", "a", "a")), "EdgeRejected")
	g.fail("alice", "add", "edge", goldenJSON(gEdge("e-ba", "b", "a")), "EdgeRejected")
	g.fail("alice", "add", "edge", goldenJSON(gEdge("e-nb", "n", "b")), "EdgeRejected")
	g.fail("alice", "add", "edge", goldenJSON(gEdge("e-xb", "x", "b")), "UnknownBlock")
	g.fail("alice", "add", "edge", goldenJSON(gEdge("e-ab", "s", "c")), "Exists")
	g.ok("bob", "batch-add-edges", "edges", goldenJSON(gobj{"edges": []any{
		gEdge("e-bc", "b", "c", "sourceHandle", "source"),
		gEdge("e-ac", "a", "c", "sourceHandle", "condition-if", "targetHandle", "target-left"),
	}}))
	g.fail("bob", "remove", "edge", `{"id":"e-none"}`, "UnknownEdge")
	g.ok("bob", "remove", "edge", `{"id":"e-sa"}`)
	g.merge("alice", "bob")
	g.merge("bob", "alice")
	g.ok("alice", "batch-remove-edges", "edges", `{"ids":["e-ab","e-missing"]}`)
	g.fail("alice", "batch-remove-edges", "edges", `{"ids":["e-missing"]}`, "NoEffect")
	g.sync()
	add(c, true)

	// 4. Remove vs concurrent edit: the edit of a removed block does not
	// resurrect it; an add concurrent with a remove survives.
	c = g.newCase("remove vs concurrent edits", "alice", "bob")
	g.ok("alice", "batch-add-blocks", "blocks", gBlocks(gBlock("a", "agent", "Agent", 0, 0), gBlock("b", "api", "Api", 100, 0)))
	g.merge("alice", "bob")
	g.ok("alice", "batch-remove-blocks", "blocks", `{"ids":["a","ghost"]}`)
	g.ok("bob", "update-name", "block", `{"id":"a","name":"Renamed"}`)
	g.ok("bob", "subblock-update", "subblock", `{"blockId":"a","subblockId":"prompt","value":{"text":"hi","n":[1,2,3]}}`)
	g.ok("bob", "add", "edge", goldenJSON(gEdge("e1", "a", "b")))
	g.merge("bob", "alice")
	g.merge("alice", "bob")
	g.fail("alice", "batch-remove-blocks", "blocks", `{"ids":["ghost"]}`, "NoEffect")
	add(c, true)

	// 5. LWW ties broken by replica id: same wall and logical time.
	c = g.newCase("lww tie broken by replica", "alice", "bob", "carol")
	g.ok("alice", "add", "block", goldenJSON(gBlock("a", "agent", "Agent", 0, 0)))
	g.merge("alice", "bob")
	g.merge("alice", "carol")
	for _, r := range []string{"alice", "bob", "carol"} {
		g.applyAt(r, 1_700_000_100_000, 7, "subblock-update", "subblock", fmt.Sprintf(`{"blockId":"a","subblockId":"prompt","value":"from %s"}`, r), "")
		g.applyAt(r, 1_700_000_100_000, 7, "update-position", "block", fmt.Sprintf(`{"id":"a","position":{"x":%d,"y":1}}`, len(r)*10), "")
	}
	g.merge("carol", "bob")
	g.merge("alice", "bob")
	g.merge("bob", "alice")
	g.merge("bob", "carol")
	add(c, true)

	// 6. HLC order beats replica order; logical counter breaks a wall tie.
	c = g.newCase("lww hybrid time order", "zed", "amy")
	g.ok("zed", "add", "block", goldenJSON(gBlock("a", "agent", "Agent", 0, 0)))
	g.merge("zed", "amy")
	g.applyAt("zed", 1_700_000_200_000, 1, "update-name", "block", `{"id":"a","name":"Zed wins"}`, "")
	g.applyAt("amy", 1_700_000_200_000, 0, "update-name", "block", `{"id":"a","name":"Amy loses"}`, "")
	g.applyAt("amy", 1_700_000_300_000, 0, "update-advanced-mode", "block", `{"id":"a","advancedMode":true}`, "")
	g.applyAt("zed", 1_700_000_250_000, 4294967295, "update-advanced-mode", "block", `{"id":"a","advancedMode":false}`, "")
	g.merge("amy", "zed")
	g.merge("zed", "amy")
	add(c, true)

	// 7. Containers with children, subflow ops.
	c = g.newCase("loops and parallels", "alice", "bob")
	g.ok("alice", "batch-add-blocks", "blocks", goldenJSON(gobj{
		"blocks": []any{
			gBlock("loop1", "loop", "Loop 1", 0, 0),
			gWith(gBlock("c1", "agent", "Inner", 50, 50), "data", gobj{"parentId": "loop1", "extent": "parent"}),
			gBlock("par1", "parallel", "Parallel 1", 600, 0),
			gBlock("x", "function", "Outside", 0, 500),
		},
		"loops":          gobj{"loop1": gobj{"loopType": "forEach", "forEachItems": []any{"a", "b", 3}, "iterations": 2}},
		"parallels":      gobj{"par1": gobj{"parallelType": "collection", "distribution": "<start.items>", "batchSize": 50.7}},
		"subBlockValues": gobj{"c1": gobj{"prompt": "inside the loop", "temperature": 0.7}},
	}))
	g.merge("alice", "bob")
	g.ok("alice", "update", "subflow", `{"id":"loop1","type":"loop","config":{"iterations":10,"loopType":"while","whileCondition":"<x.ok> == true"}}`)
	g.fail("alice", "update", "subflow", `{"id":"x","type":"loop","config":{"iterations":1}}`, "NotContainer")
	g.fail("alice", "update", "subflow", `{"id":"loop1","type":"loop","config":{"loopType":"forever"}}`, "Invalid")
	g.fail("alice", "update", "subflow", `{"id":"ghost","type":"loop","config":{}}`, "UnknownBlock")
	g.ok("bob", "update-parent", "block", `{"id":"x","parentId":"par1","extent":"parent"}`)
	g.fail("bob", "update-parent", "block", `{"id":"x","parentId":"c1","extent":"parent"}`, "NotContainer")
	g.ok("bob", "batch-update-parent", "blocks", `{"updates":[{"id":"c1","parentId":null,"position":{"x":10,"y":700}},{"id":"ghost","parentId":null}]}`)
	g.ok("alice", "add", "subflow", goldenJSON(gWith(gBlock("loop2", "loop", "Loop 2", 1200, 0), "config", gobj{"loopType": "doWhile", "doWhileCondition": "<i> < 3"})))
	g.fail("alice", "add", "subflow", goldenJSON(gBlock("nl", "agent", "Not a loop", 0, 0)), "NotContainer")
	g.ok("alice", "duplicate-with-children", "subflow", `{"sourceId":"loop1","id":"loop1b","idMap":{"c1":"c1b"},"position":{"x":0,"y":900}}`)
	g.merge("bob", "alice")
	g.merge("alice", "bob")
	g.ok("bob", "remove", "subflow", `{"id":"par1"}`)
	g.fail("bob", "remove", "subflow", `{"id":"c1"}`, "NotContainer")
	g.sync()
	add(c, true)

	// 8. Locked blocks.
	c = g.newCase("locked blocks", "admin", "editor")
	g.ok("admin", "batch-add-blocks", "blocks", goldenJSON(gobj{
		"blocks": []any{
			gBlock("p", "parallel", "Par", 0, 0),
			gWith(gBlock("k", "agent", "Kid", 10, 10), "data", gobj{"parentId": "p", "extent": "parent"}),
			gBlock("free", "api", "Free", 500, 0),
		},
	}))
	g.ok("admin", "batch-toggle-locked", "blocks", `{"blockIds":["p"],"previousStates":{"p":false}}`)
	g.merge("admin", "editor")
	g.fail("editor", "update-name", "block", `{"id":"k","name":"Renamed kid"}`, "Locked")
	g.fail("editor", "update-name", "block", `{"id":"p","name":"Renamed par"}`, "Locked")
	g.fail("editor", "batch-update-positions", "blocks", `{"updates":[{"id":"k","position":{"x":1,"y":1}}]}`, "Locked")
	g.ok("editor", "batch-update-positions", "blocks", `{"updates":[{"id":"k","position":{"x":1,"y":1}},{"id":"free","position":{"x":-5.5,"y":1e3}}]}`)
	g.fail("editor", "batch-remove-blocks", "blocks", `{"ids":["p"]}`, "Locked")
	g.fail("editor", "add", "edge", goldenJSON(gEdge("e1", "free", "k")), "EdgeRejected")
	g.fail("editor", "batch-toggle-locked", "blocks", `{"blockIds":["ghost"]}`, "NoEffect")
	g.ok("admin", "batch-toggle-locked", "blocks", `{"blockIds":["p","free"],"previousStates":{"p":true,"free":false}}`)
	g.merge("admin", "editor")
	g.ok("editor", "update-name", "block", `{"id":"k","name":"Renamed kid"}`)
	g.merge("editor", "admin")
	add(c, true)

	// 9. Batch toggles.
	c = g.newCase("batch toggles", "alice", "bob")
	g.ok("alice", "batch-add-blocks", "blocks", gBlocks(gBlock("a", "agent", "A", 0, 0), gBlock("b", "agent", "B", 1, 1), gBlock("c", "agent", "C", 2, 2)))
	g.merge("alice", "bob")
	g.ok("alice", "batch-toggle-enabled", "blocks", `{"blockIds":["a","b","nope"],"previousStates":{"a":true,"b":true}}`)
	g.ok("bob", "batch-toggle-handles", "blocks", `{"blockIds":["b","c"],"previousStates":{"b":true,"c":true}}`)
	g.ok("bob", "batch-toggle-enabled", "blocks", `{"blockIds":["a"]}`)
	g.fail("bob", "batch-toggle-handles", "blocks", `{"blockIds":["nope"]}`, "NoEffect")
	g.merge("bob", "alice")
	g.merge("alice", "bob")
	add(c, true)

	// 10. Variables.
	c = g.newCase("variables", "alice", "bob")
	g.ok("alice", "add", "variable", `{"id":"v1","name":"apiKey","type":"string","value":"secret"}`)
	g.ok("alice", "add", "variable", `{"id":"v2","name":"limits","type":"object","value":{"max":100,"ratio":0.25,"tags":["a","b"]}}`)
	g.fail("alice", "add", "variable", `{"id":"v1","name":"again","type":"string","value":""}`, "Exists")
	g.merge("alice", "bob")
	g.ok("bob", "variable-update", "variable", `{"variableId":"v1","field":"value","value":"rotated"}`)
	g.ok("alice", "variable-update", "variable", `{"variableId":"v1","field":"name","value":"API_KEY"}`)
	g.fail("alice", "variable-update", "variable", `{"variableId":"v1","field":"color","value":"red"}`, "Invalid")
	g.fail("alice", "variable-update", "variable", `{"variableId":"v9","field":"value","value":1}`, "UnknownVariable")
	g.ok("alice", "duplicate", "variable", `{"sourceId":"v2","id":"v3"}`)
	g.fail("alice", "duplicate", "variable", `{"sourceId":"v2","id":"v1"}`, "Exists")
	g.ok("bob", "remove", "variable", `{"variableId":"v2"}`)
	g.fail("bob", "remove", "variable", `{"variableId":"v2"}`, "UnknownVariable")
	g.merge("alice", "bob")
	g.merge("bob", "alice")
	add(c, true)

	// 11. Sub-block batch updates with compare-and-set.
	c = g.newCase("subblock batch cas", "alice", "bob")
	g.ok("alice", "add", "block", goldenJSON(gWith(gBlock("a", "agent", "A", 0, 0), "subBlocks", gobj{"p": gobj{"type": "long-input", "value": "v0"}})))
	g.merge("alice", "bob")
	g.ok("alice", "subblock-batch-update", "subblock", `{"updates":[{"blockId":"a","subblockId":"p","value":"v1","expectedValue":"v0"},{"blockId":"a","subblockId":"q","value":[1,2.5,-3]}]}`)
	g.fail("alice", "subblock-batch-update", "subblock", `{"updates":[{"blockId":"a","subblockId":"p","value":"v2","expectedValue":"v0"}]}`, "Precondition")
	g.ok("bob", "subblock-batch-update", "subblock", `{"updates":[{"blockId":"a","subblockId":"p","value":"b1","expectedValue":"v0"}]}`)
	g.fail("bob", "subblock-batch-update", "subblock", `{"updates":[{"blockId":"ghost","subblockId":"p","value":"b1"}]}`, "UnknownBlock")
	g.merge("alice", "bob")
	g.merge("bob", "alice")
	add(c, true)

	// 12. Replace state.
	c = g.newCase("replace state", "alice", "bob")
	g.ok("alice", "batch-add-blocks", "blocks", gBlocks(gBlock("old", "agent", "Old", 0, 0)))
	g.merge("alice", "bob")
	g.ok("bob", "subblock-update", "subblock", `{"blockId":"old","subblockId":"p","value":"concurrent"}`)
	g.ok("alice", "replace-state", "workflow", goldenJSON(gobj{"state": gobj{
		"blocks": gobj{
			"n1": gWith(gBlock("n1", "starter", "Start", 0, 0), "enabled", true),
			"n2": gWith(gBlock("n2", "loop", "Loop", 300, 0), "data", gobj{"width": 500, "height": 300}),
			"n3": gWith(gBlock("n3", "agent", "Agent", 20, 20), "data", gobj{"parentId": "n2", "extent": "parent"},
				"subBlocks", gobj{"model": gobj{"type": "combobox", "value": "claude"}}),
		},
		"edges": []any{gEdge("e1", "n1", "n2", "sourceHandle", "source", "targetHandle", "target")},
		"loops": gobj{"n2": gobj{"loopType": "for", "iterations": 3}},
	}}))
	g.fail("alice", "replace-state", "workflow", `{"state":{"blocks":{"n1":{"id":"n1","type":"agent","name":"X"}}}}`, "Invalid")
	g.merge("bob", "alice")
	g.merge("alice", "bob")
	add(c, true)

	// 13. Unicode names, ids, keys and replica ids whose UTF-8 order differs
	// from their UTF-16 order (U+FF5A sorts before U+1D49C in UTF-8 and after
	// it in UTF-16).
	c = g.newCase("unicode everywhere", "\uff5a", "\U0001d49c", "é")
	g.ok("\uff5a", "batch-add-blocks", "blocks", goldenJSON(gobj{
		"blocks": []any{
			gWith(gBlock("blk-\U0001F600", "agent", "Agent 😀 Ünïcödé", 0, 0), "data", gobj{"\uff21": 1, "\U0001F600": 2, "z": 3, "é": 4, "": 5}),
			gBlock("blk-\uff21", "agent", "全角ブロック", 10, 10),
			gBlock("blk-\u00e9", "agent", "Caf\u00e9 \u2603", 20, 20),
		},
		"subBlockValues": gobj{"blk-\U0001F600": gobj{"\uff21": "fullwidth", "\U0001F600": "emoji", "a": gobj{"\U0001F600": 1, "\uff21": 2, "b": []any{"\u0000", "\u007f"}}}},
	}))
	g.ok("\U0001d49c", "add", "variable", `{"id":"var-\ud83d\ude00","name":"表情","type":"string","value":"𝒜𝒝"}`)
	g.ok("é", "add", "block", goldenJSON(gBlock("é-block", "api", "Ｚ api", 0, 50)))
	g.fail("é", "update-name", "block", `{"id":"é-block","name":" . "}`, "NameConflict")
	g.merge("\U0001d49c", "\uff5a")
	g.merge("é", "\uff5a")
	g.merge("\uff5a", "\U0001d49c")
	g.merge("\uff5a", "é")
	g.ok("\U0001d49c", "update-name", "block", `{"id":"blk-\uff21","name":"ＡＢＣ 𝒳"}`)
	g.fail("é", "update-name", "block", `{"id":"blk-\u00e9","name":"agent😀ünïcödé"}`, "NameConflict")
	g.sync()
	add(c, true)

	// 14. Numbers: ints, negatives, 2^53-1, floats, integral floats.
	c = g.newCase("numbers", "alice")
	g.ok("alice", "add", "block", goldenJSON(gBlock("n", "function", "Numbers", -1e6, 0.1)))
	numbers := []string{`0`, `1`, `-1`, `127`, `128`, `255`, `256`, `-32`, `-33`, `-128`, `-129`, `65535`, `65536`,
		`-32768`, `-32769`, `4294967295`, `4294967296`, `-2147483648`, `-2147483649`, `9007199254740991`,
		`-9007199254740991`, `1.5`, `-0.5`, `2.0`, `-0`, `1e3`, `1e300`, `3.141592653589793`, `5e-324`, `1e18`, `-1e18`}
	for i, n := range numbers {
		g.ok("alice", "subblock-update", "subblock", fmt.Sprintf(`{"blockId":"n","subblockId":"n%02d","value":%s}`, i, n))
	}
	g.ok("alice", "subblock-update", "subblock", `{"blockId":"n","subblockId":"mixed","value":{"ints":[1,-1,300,70000],"floats":[0.1,2.5e-7,-1e-300],"deep":{"a":{"b":{"c":[[[]],{}]}}},"t":true,"f":false,"nil":null}}`)
	g.ok("alice", "subblock-update", "subblock", `{"blockId":"n","subblockId":"n00","value":null}`)
	g.ok("alice", "update-position", "block", `{"id":"n","position":{"x":12345678.125,"y":-0.000001}}`)
	add(c, true)

	// 15. Long strings and maps beyond the fix forms (str8/16, array16, map16).
	c = g.newCase("long values", "alice")
	g.ok("alice", "add", "block", goldenJSON(gBlock("l", "function", "Long", 0, 0)))
	big := gobj{}
	for i := range 20 {
		big[fmt.Sprintf("key%02d", 19-i)] = i
	}
	arr := make([]any, 40)
	for i := range arr {
		arr[i] = i * i
	}
	g.ok("alice", "subblock-update", "subblock", goldenJSON(gobj{"blockId": "l", "subblockId": "s31", "value": strings.Repeat("x", 31)}))
	g.ok("alice", "subblock-update", "subblock", goldenJSON(gobj{"blockId": "l", "subblockId": "s32", "value": strings.Repeat("y", 32)}))
	g.ok("alice", "subblock-update", "subblock", goldenJSON(gobj{"blockId": "l", "subblockId": "s300", "value": strings.Repeat("z", 300)}))
	g.ok("alice", "subblock-update", "subblock", goldenJSON(gobj{"blockId": "l", "subblockId": "s66k", "value": strings.Repeat("w", 65536)}))
	g.ok("alice", "subblock-update", "subblock", goldenJSON(gobj{"blockId": "l", "subblockId": "map20", "value": big}))
	g.ok("alice", "subblock-update", "subblock", goldenJSON(gobj{"blockId": "l", "subblockId": "arr40", "value": arr}))
	g.ok("alice", "subblock-update", "subblock", goldenJSON(gobj{"blockId": strings.Repeat("l", 1), "subblockId": strings.Repeat("k", 40), "value": "long sub id"}))
	add(c, true)

	// 16. DeltaSince between diverged replicas, three ways.
	c = g.newCase("delta since diverged", "alice", "bob", "carol")
	g.ok("alice", "batch-add-blocks", "blocks", gBlocks(gBlock("a", "agent", "A", 0, 0), gBlock("b", "agent", "B", 0, 100), gBlock("c", "agent", "C", 0, 200)))
	g.since("alice", "bob")
	g.since("alice", "carol")
	g.ok("alice", "update-name", "block", `{"id":"a","name":"A by alice"}`)
	g.ok("alice", "batch-remove-blocks", "blocks", `{"ids":["c"]}`)
	g.ok("bob", "subblock-update", "subblock", `{"blockId":"c","subblockId":"p","value":"bob edits c"}`)
	g.ok("bob", "add", "edge", goldenJSON(gEdge("ab", "a", "b")))
	g.ok("carol", "add", "block", goldenJSON(gBlock("d", "api", "D", 500, 0)))
	g.ok("carol", "update-name", "block", `{"id":"a","name":"A by carol"}`)
	g.since("bob", "carol")
	g.since("carol", "alice")
	g.since("alice", "bob")
	g.since("bob", "alice")
	g.since("alice", "bob") // nothing left: an empty-but-context delta
	g.since("carol", "bob")
	g.since("bob", "carol")
	add(c, true)

	// 17. Same operations merged in different orders on three replicas.
	c = g.newCase("merge orders", "r1", "r2", "r3")
	g.ok("r1", "batch-add-blocks", "blocks", gBlocks(gBlock("a", "agent", "A", 0, 0)))
	g.merge("r1", "r2")
	g.merge("r1", "r3")
	g.ok("r1", "update-position", "block", `{"id":"a","position":{"x":1,"y":1}}`)
	g.ok("r2", "update-position", "block", `{"id":"a","position":{"x":2,"y":2}}`)
	g.ok("r3", "batch-remove-blocks", "blocks", `{"ids":["a"]}`)
	g.ok("r2", "add", "block", goldenJSON(gBlock("b", "agent", "B", 5, 5)))
	g.merge("r2", "r1")
	g.merge("r3", "r1")
	g.merge("r3", "r2")
	g.merge("r1", "r2")
	g.merge("r2", "r3")
	add(c, true)

	// 18. Concurrent same-name adds and moves into containers.
	c = g.newCase("concurrent names and parents", "alice", "bob")
	g.ok("alice", "batch-add-blocks", "blocks", gBlocks(gBlock("loop", "loop", "L", 0, 0), gBlock("x", "agent", "X", 500, 0)))
	g.merge("alice", "bob")
	g.ok("alice", "add", "block", goldenJSON(gBlock("a1", "agent", "Same", 0, 0)))
	g.ok("bob", "add", "block", goldenJSON(gBlock("b1", "agent", "same", 0, 0)))
	g.ok("alice", "update-parent", "block", `{"id":"x","parentId":"loop","extent":"parent"}`)
	g.ok("bob", "batch-remove-blocks", "blocks", `{"ids":["loop"]}`)
	g.merge("alice", "bob")
	g.merge("bob", "alice")
	add(c, true)

	// 19. Unsynced replicas: final states differ (not converged).
	c = g.newCase("partial sync", "alice", "bob")
	g.ok("alice", "add", "block", goldenJSON(gBlock("a", "agent", "A", 0, 0)))
	g.ok("bob", "add", "block", goldenJSON(gBlock("b", "agent", "B", 0, 0)))
	g.since("alice", "bob")
	g.ok("bob", "update-name", "block", `{"id":"a","name":"A2"}`)
	add(c, false)

	// 20. A larger document, for chunking.
	c = g.newCase("large document", "alice", "bob")
	var many []any
	for i := range 60 {
		many = append(many, gWith(gBlock(fmt.Sprintf("blk%03d", i), "agent", fmt.Sprintf("Agent %d", i), float64(i*10), float64(i%7)*33.3),
			"subBlocks", gobj{"prompt": gobj{"type": "long-input", "value": strings.Repeat("p", i*3)}}))
	}
	g.ok("alice", "batch-add-blocks", "blocks", goldenJSON(gobj{"blocks": many}))
	g.merge("alice", "bob")
	g.ok("bob", "batch-remove-blocks", "blocks", `{"ids":["blk003","blk017","blk040"]}`)
	g.ok("alice", "batch-update-positions", "blocks", `{"updates":[{"id":"blk001","position":{"x":1,"y":2}},{"id":"blk002","position":{"x":3,"y":4}}]}`)
	g.merge("bob", "alice")
	g.merge("alice", "bob")
	add(c, true)

	// 21. Atomic records: of concurrent adds of one id one record shows
	// whole; a re-added block shows nothing of the removed one, not even an
	// edge to it; an edge's losing add does not count.
	c = g.newCase("atomic records", "alice", "bob")
	g.ok("alice", "batch-add-blocks", "blocks", gBlocks(gBlock("a", "agent", "A", 0, 0), gBlock("b", "agent", "B", 100, 0),
		gBlock("c", "agent", "C", 200, 0)))
	g.merge("alice", "bob")
	g.ok("alice", "batch-add-blocks", "blocks", gBlocks(gWith(gBlock("x", "agent", "Alpha", 1, 2), "isWide", true, "height", 120,
		"subBlocks", gobj{"prompt": gobj{"id": "prompt", "type": "long-input", "value": "from alpha"}})))
	g.ok("bob", "batch-add-blocks", "blocks", gBlocks(gWith(gBlock("x", "api", "Beta", 3, 4), "enabled", false,
		"horizontalHandles", false, "subBlocks", gobj{"url": gobj{"id": "url", "type": "short-input", "value": "https://beta"}})))
	g.ok("alice", "add", "variable", `{"id":"v","name":"count","type":"number","value":3}`)
	g.ok("bob", "add", "variable", `{"id":"v","name":"label","type":"string"}`)
	g.ok("alice", "add", "edge", goldenJSON(gEdge("e", "a", "b")))
	g.ok("bob", "add", "edge", goldenJSON(gEdge("e", "b", "c")))
	g.merge("alice", "bob")
	g.merge("bob", "alice")
	g.ok("alice", "update-name", "block", `{"id":"c","name":"Alpha"}`) // the losing add's name is free
	g.ok("bob", "subblock-update", "subblock", `{"blockId":"x","subblockId":"url","value":"edited"}`)
	g.ok("bob", "update-wide", "block", `{"id":"x","isWide":true}`)
	g.ok("bob", "add", "edge", goldenJSON(gEdge("e2", "b", "x"))) // to the x alice is about to replace
	g.ok("alice", "batch-remove-blocks", "blocks", `{"ids":["x"]}`)
	g.ok("alice", "batch-add-blocks", "blocks", gBlocks(gBlock("x", "function", "Gamma", 5, 6)))
	g.ok("alice", "batch-remove-blocks", "blocks", `{"ids":["a"]}`) // an end of the losing edge add only
	g.merge("alice", "bob")
	g.merge("bob", "alice")
	add(c, true)

	// 22. The container tree, which operations and the view share: moves
	// that cross make a cycle, cut at its newest pointer, and removing,
	// toggling or locking a cycle end touches what the view shows under it
	// only; a move into a descendant 70 levels down is refused (no depth
	// cap); a block moved into a container removed concurrently stays at
	// the top level with its name; offline adds at one spot paint in one
	// order.
	c = g.newCase("container tree", "alice", "bob")
	g.ok("alice", "batch-add-blocks", "blocks", goldenJSON(gobj{"blocks": []any{
		gBlock("l1", "loop", "L1", 0, 0), gBlock("l2", "loop", "L2", 600, 0),
		gWith(gBlock("c", "agent", "C", 10, 10), "data", gobj{"parentId": "l2", "extent": "parent"}),
		gBlock("gone", "parallel", "Gone", 0, 900), gBlock("w", "agent", "Worker", 700, 900),
	}}))
	g.merge("alice", "bob")
	g.ok("alice", "update-parent", "block", `{"id":"l1","parentId":"l2","extent":"parent"}`)
	g.ok("bob", "update-parent", "block", `{"id":"l2","parentId":"l1","extent":"parent"}`)
	g.ok("alice", "batch-remove-blocks", "blocks", `{"ids":["gone"]}`)
	g.ok("bob", "batch-update-parent", "blocks", `{"updates":[{"id":"w","parentId":"gone","position":{"x":20,"y":30}}]}`)
	g.ok("alice", "add", "block", goldenJSON(gBlock("a4", "agent", "Agent 4", 100, 100)))
	g.ok("bob", "add", "block", goldenJSON(gBlock("b4", "agent", "Agent 4", 100, 100)))
	g.merge("alice", "bob")
	g.merge("bob", "alice")
	g.fail("alice", "add", "block", goldenJSON(gBlock("n1", "agent", "Worker", 0, 0)), "NameConflict")
	g.ok("alice", "batch-toggle-enabled", "blocks", `{"blockIds":["l1"]}`)
	g.ok("bob", "batch-toggle-locked", "blocks", `{"blockIds":["l1"]}`)
	g.fail("bob", "update-name", "block", `{"id":"l1","name":"X"}`, "Locked")
	g.ok("bob", "update-name", "block", `{"id":"l2","name":"Outer"}`)
	g.fail("alice", "update-parent", "block", `{"id":"l2","parentId":"l1","extent":"parent"}`, "Invalid")
	g.ok("alice", "batch-update-parent", "blocks", `{"updates":[{"id":"l1","parentId":"l2"}]}`)
	g.merge("bob", "alice")
	g.fail("alice", "batch-remove-blocks", "blocks", `{"ids":["l1"]}`, "Locked")
	g.ok("alice", "batch-toggle-locked", "blocks", `{"blockIds":["l1"]}`)
	g.ok("alice", "batch-remove-blocks", "blocks", `{"ids":["l1"]}`)
	var deep []any
	for i := range 70 {
		b := gBlock(fmt.Sprintf("d%02d", i), "loop", fmt.Sprintf("Deep %d", i), 0, 0)
		if i > 0 {
			b = gWith(b, "data", gobj{"parentId": fmt.Sprintf("d%02d", i-1), "extent": "parent"})
		}
		deep = append(deep, b)
	}
	g.ok("bob", "batch-add-blocks", "blocks", goldenJSON(gobj{"blocks": deep}))
	g.fail("bob", "update-parent", "block", `{"id":"d00","parentId":"d69","extent":"parent"}`, "Invalid")
	g.ok("bob", "batch-toggle-locked", "blocks", `{"blockIds":["d00"]}`)
	g.fail("bob", "update-position", "block", `{"id":"d69","position":{"x":1,"y":1}}`, "Locked")
	g.ok("bob", "batch-toggle-locked", "blocks", `{"blockIds":["d00"]}`)
	g.ok("bob", "batch-remove-blocks", "blocks", `{"ids":["d60"]}`)
	g.sync()
	add(c, true)

	// Text fields: two replicas type into one prompt at the same place
	// (neither's word is interleaved), a whole-value write becomes a splice,
	// deletes race inserts, a variable's text, a duplicate copies the text,
	// a removal drops it and a re-add starts a new one.
	c = g.newCase("text fields", "alice", "bob")
	g.ok("alice", "batch-add-blocks", "blocks", `{"blocks":[{"id":"t","type":"agent","name":"T","position":{"x":0,"y":0},"subBlocks":{"prompt":{"id":"prompt","type":"long-input","value":"Hi "},"code":{"id":"code","type":"code","value":null}}}]}`)
	g.ok("alice", "add", "variable", `{"id":"v","name":"greeting","type":"plain","value":"héllo"}`)
	g.merge("alice", "bob")
	g.ok("alice", "text-insert", "text", `{"blockId":"t","subblockId":"prompt","index":3,"text":"alice writes"}`)
	g.ok("bob", "text-insert", "text", `{"blockId":"t","subblockId":"prompt","index":3,"text":"BOB TYPES"}`)
	g.ok("bob", "text-delete", "text", `{"blockId":"t","subblockId":"prompt","index":0,"length":1}`)
	g.ok("alice", "text-insert", "text", `{"variableId":"v","index":5,"text":" 🙂"}`)
	g.fail("alice", "text-insert", "text", `{"blockId":"t","subblockId":"prompt","index":99,"text":"x"}`, "Invalid")
	g.fail("alice", "text-delete", "text", `{"blockId":"t","subblockId":"nope","index":0,"length":1}`, "Invalid")
	g.merge("alice", "bob")
	g.merge("bob", "alice")
	g.ok("bob", "subblock-update", "subblock", `{"blockId":"t","subblockId":"code","value":"print(1)"}`)
	g.ok("alice", "subblock-update", "subblock", `{"blockId":"t","subblockId":"prompt","value":"i alice writes!BOB TYPES"}`)
	g.ok("bob", "text-delete", "text", `{"blockId":"t","subblockId":"prompt","index":2,"length":6}`)
	g.merge("alice", "bob")
	g.merge("bob", "alice")
	g.ok("alice", "duplicate", "block", `{"sourceId":"t","id":"t2"}`)
	g.ok("bob", "text-insert", "text", `{"blockId":"t","subblockId":"code","index":0,"text":"# "}`)
	g.ok("alice", "remove", "block", `{"id":"t"}`)
	g.merge("bob", "alice")
	g.merge("alice", "bob")
	g.ok("bob", "subblock-update", "subblock", `{"blockId":"t2","subblockId":"prompt","value":42}`)
	g.sync()
	add(c, true)

	// 23-30. Random operation sequences with a fixed seed.
	for seed := uint64(1); seed <= 8; seed++ {
		cases = append(cases, goldenRandomCase(g, seed))
	}
	return cases, g
}

// randomCase builds a random run on three replicas from a fixed seed: ops
// drawn from a small pool of ids, so adds collide, removes race edits and
// many ops are refused; merges and deltaSince in random directions; a full
// sync at the end.
func goldenRandomCase(g *goldenGen, seed uint64) *goldenCase {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	replicas := []string{"r-a", "r-b", "r-c"}
	c := g.newCase(fmt.Sprintf("random seed %d", seed), replicas...)
	ids := []string{"b0", "b1", "b2", "b3", "loop", "par"}
	// Start from a shared document holding every id, so that most random
	// operations find their targets.
	g.ok("r-a", "batch-add-blocks", "blocks", gBlocks(gBlock("b0", "agent", "B0", 0, 0), gBlock("b1", "api", "B1", 0, 100),
		gBlock("b2", "function", "B2", 0, 200), gBlock("b3", "note", "B3", 0, 300), gBlock("loop", "loop", "Loop A", 500, 0),
		gBlock("par", "parallel", "Par A", 900, 0)))
	g.sync()
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	types := []string{"agent", "api", "function", "note", "starter"}
	values := []string{`"text"`, `42`, `-7`, `2.5`, `true`, `null`, `[1,"two",{"3":4}]`, `{"k":{"nested":[0.5]}}`, `9007199254740991`, `"😀"`}
	for i := range 40 {
		r := pick(replicas)
		var name, target, payload string
		id := pick(ids)
		switch rng.IntN(14) {
		case 0:
			typ := pick(types)
			if id == "loop" {
				typ = "loop"
			} else if id == "par" {
				typ = "parallel"
			}
			b := gBlock(id, typ, fmt.Sprintf("N%d", rng.IntN(6)), float64(rng.IntN(1000)), float64(rng.IntN(1000))/4)
			if id != "loop" && id != "par" && rng.IntN(2) == 0 {
				b = gWith(b, "data", gobj{"parentId": pick([]string{"loop", "par"}), "extent": "parent"})
			}
			name, target, payload = "batch-add-blocks", "blocks", gBlocks(b)
		case 2:
			name, target, payload = "batch-remove-blocks", "blocks", goldenJSON(gobj{"ids": []any{id, pick(ids)}})
		case 3:
			name, target, payload = "update-name", "block", goldenJSON(gobj{"id": id, "name": fmt.Sprintf("N%d", rng.IntN(6))})
		case 1, 4, 5:
			name, target, payload = "subblock-update", "subblock", fmt.Sprintf(`{"blockId":%q,"subblockId":"s%d","value":%s}`, id, rng.IntN(3), pick(values))
		case 6:
			name, target, payload = "add", "edge", goldenJSON(gEdge(fmt.Sprintf("e%d", rng.IntN(4)), id, pick(ids), "sourceHandle", pick([]string{"", "source", "source-right"})))
		case 7:
			name, target, payload = "batch-remove-edges", "edges", goldenJSON(gobj{"ids": []any{fmt.Sprintf("e%d", rng.IntN(4))}})
		case 8:
			name, target, payload = "update-parent", "block", goldenJSON(gobj{"id": id, "parentId": pick([]string{"loop", "par", ""}), "extent": "parent"})
		case 9:
			name, target, payload = "batch-toggle-locked", "blocks", goldenJSON(gobj{"blockIds": []any{id}})
		case 10:
			name, target, payload = "update-position", "block", goldenJSON(gobj{"id": id, "position": gobj{"x": rng.Float64() * 100, "y": float64(rng.IntN(50))}})
		case 11:
			name, target, payload = "add", "variable", goldenJSON(gobj{"id": fmt.Sprintf("v%d", rng.IntN(2)), "name": "x", "type": "number", "value": rng.IntN(100)})
		case 12:
			name, target, payload = "update", "subflow", goldenJSON(gobj{"id": pick([]string{"loop", "par"}), "config": gobj{"iterations": rng.IntN(9), "count": rng.IntN(9)}})
		default:
			from, into := pick(replicas), pick(replicas)
			if from != into {
				if rng.IntN(2) == 0 {
					g.merge(from, into)
				} else {
					g.since(from, into)
				}
			}
			continue
		}
		wall := int64(1_700_000_000_000 + i*1000 + rng.IntN(3)*1000)
		g.recordAny(r, wall, uint32(rng.IntN(2)), name, target, payload)
	}
	g.sync()
	g.finish(true)
	return c
}

// recordAny applies an operation and records whatever happens: randomly
// drawn operations are often refused, and the refusal is part of the vector.
func (g *goldenGen) recordAny(replica string, wall int64, logical uint32, name, target, payload string) {
	g.t.Helper()
	raw, m := g.parsePayload(payload)
	step := goldenStep{Replica: replica, TS: &goldenTS{wall, logical}, Op: &goldenOp{name, target, raw}}
	op, err := ParseOp(name, target, m)
	var delta *Doc
	if err == nil {
		delta, err = g.docs[replica].Apply(crdt.Timestamp{Wall: wall, Logical: logical, Replica: crdt.ReplicaID(replica)}, op)
	}
	if err != nil {
		step.Error = goldenSentinelName(err)
		if step.Error == "" {
			g.t.Fatalf("case %q: untyped error %v", g.c.Name, err)
		}
	} else {
		step.Delta = goldenB64(delta.Encode())
	}
	g.c.Steps = append(g.c.Steps, step)
}

func goldenValues(t *testing.T) []goldenValue {
	jsonValues := []string{
		`null`, `true`, `false`, `0`, `1`, `-1`, `127`, `128`, `255`, `256`, `-32`, `-33`, `-128`, `-129`,
		`65535`, `65536`, `-32768`, `-32769`, `4294967295`, `4294967296`, `-2147483648`, `-2147483649`,
		`9007199254740991`, `-9007199254740991`, `9007199254740992`, `1e18`, `-1e18`, `1e19`, `-9223372036854775808`,
		`1.5`, `-0.5`, `2.0`, `-0`, `0.1`, `1e300`, `-1e-300`, `5e-324`, `1.7976931348623157e308`,
		`""`, `"a"`, `"é"`, `"😀"`, `"\u0000"`, `"` + strings.Repeat("s", 31) + `"`, `"` + strings.Repeat("s", 32) + `"`,
		`"` + strings.Repeat("s", 255) + `"`, `"` + strings.Repeat("s", 256) + `"`, `"` + strings.Repeat("s", 65536) + `"`,
		`[]`, `{}`, `[1,[2,[3,[4]]]]`, `{"b":1,"a":2}`, `{"\uff21":1,"\ud835\udc9c":2,"a":3,"":4,"é":5}`,
		`{"aa":1,"a":2,"ab":3,"b":{"z":[],"y":{}}}`, `[1.0,2.5,-3.0,1e2]`,
	}
	var long []any
	for i := range 70 {
		long = append(long, i)
	}
	jsonValues = append(jsonValues, goldenJSON(long))
	bigMap := gobj{}
	for i := range 17 {
		bigMap[fmt.Sprintf("k%d", i)] = i
	}
	jsonValues = append(jsonValues, goldenJSON(bigMap))

	jsonValues = append(jsonValues, goldenRandomJSON(150)...)

	var out []goldenValue
	for _, s := range jsonValues {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatalf("value %s: %v", s, err)
		}
		b, err := msgpackx.Canonical(v)
		if err != nil {
			t.Fatalf("canonical %s: %v", s, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, []byte(s)); err != nil {
			t.Fatal(err)
		}
		out = append(out, goldenValue{JSON: compact.Bytes(), Canonical: goldenB64(b)})
	}
	nonJSON := []struct {
		v    any
		note string
	}{
		{[]byte{}, "empty bin"},
		{[]byte{0, 1, 2, 0xff}, "bin 00 01 02 ff"},
		{bytes.Repeat([]byte{7}, 300), "bin16 of 300 bytes 0x07"},
		{map[string]any{"data": []byte("hi"), "n": 1}, "map with bin 'hi' under data"},
		{uint64(math.MaxUint64), "uint64 2^64-1"},
		{uint64(1 << 63), "uint64 2^63"},
		{int64(math.MaxInt64), "int64 2^63-1"},
		{int64(math.MinInt64), "int64 -2^63"},
		{int64(1<<53 + 1), "int 2^53+1"},
		{int64(-(1<<53 + 1)), "int -(2^53+1)"},
		{[]any{uint64(math.MaxUint64), int64(math.MinInt64), 1.5}, "array of 2^64-1, -2^63, 1.5"},
	}
	for _, x := range nonJSON {
		b, err := msgpackx.Canonical(x.v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, goldenValue{Canonical: goldenB64(b), Note: x.note})
	}
	return out
}

// goldenRandomJSON draws n JSON texts with a fixed seed: nested arrays and
// objects, keys and strings mixing ASCII, Latin-1, CJK, fullwidth and astral
// characters (whose UTF-8 and UTF-16 orders differ), and numbers written as
// JSON text of every magnitude. Go and JavaScript both parse JSON numbers to
// the nearest float64, so both must then write the same canonical bytes.
func goldenRandomJSON(n int) []string {
	rng := rand.New(rand.NewPCG(7, 77))
	runes := []rune{'a', 'b', 'z', 'A', '0', ' ', '_', 'é', 'ß', 'ж', '中', '文', '\uff21', '\uff5a', '\ufffd',
		'😀', '𝒜', '\U0010FFFF', '\u0000', '\n', '"', '\\'}
	str := func(maxLen int) string {
		var sb strings.Builder
		for range rng.IntN(maxLen + 1) {
			sb.WriteRune(runes[rng.IntN(len(runes))])
		}
		b, _ := json.Marshal(sb.String())
		return string(b)
	}
	num := func() string {
		switch rng.IntN(6) {
		case 0:
			return fmt.Sprint(rng.IntN(300) - 150)
		case 1:
			return fmt.Sprint(rng.Int64N(1<<53) - 1<<52)
		case 2: // an integer written as a float, or with an exponent
			return fmt.Sprintf("%d.0e%d", rng.IntN(1000), rng.IntN(20))
		case 3:
			return fmt.Sprintf("%d.%de%d", rng.IntN(1000), rng.IntN(1000), rng.IntN(40)-20)
		case 4: // beyond 2^53 as text; 2^63 itself is avoided (Go's float→int conversion there is platform-defined)
			for {
				f := fmt.Sprintf("%d%018d", rng.IntN(100)+1, rng.Int64N(1e18))
				if v, _ := strconv.ParseFloat(f, 64); v != 1<<63 {
					return f
				}
			}
		}
		return fmt.Sprint(rng.Float64()*2e6 - 1e6)
	}
	var value func(depth int) string
	value = func(depth int) string {
		k := rng.IntN(8)
		if depth <= 0 {
			k = rng.IntN(5)
		}
		switch k {
		case 0:
			return []string{"null", "true", "false"}[rng.IntN(3)]
		case 1, 2:
			return num()
		case 3, 4:
			return str(8)
		case 5, 6:
			m := map[string]bool{}
			var parts []string
			for range rng.IntN(6) {
				key := str(4)
				if m[key] {
					continue
				}
				m[key] = true
				parts = append(parts, key+":"+value(depth-1))
			}
			return "{" + strings.Join(parts, ",") + "}"
		}
		var parts []string
		for range rng.IntN(5) {
			parts = append(parts, value(depth-1))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	out := make([]string, n)
	for i := range out {
		out[i] = value(4)
	}
	return out
}

func goldenContexts() []goldenContext {
	sets := []map[string][][2]uint64{
		{},
		{"a": {{1, 14}}},
		{"a": {{1, 14}}, "b": {{3, 3}, {15, 15}}},
		{"a": {{1, 1}}, "b": {{2, 5}, {7, 7}, {9, 200}, {1000, 70000}}},
		{"x": {{1, crdt.MaxCounter}}},
		{"x": {{crdt.MaxCounter, crdt.MaxCounter}}},
		{"x": {{5, 5}, {4294967296, 4294967300}}},
		{"\uff5a": {{1, 2}}, "\U0001d49c": {{3, 4}}, "é": {{1, 1}}, "Z": {{10, 20}}},
	}
	out := make([]goldenContext, 0, len(sets))
	for _, s := range sets {
		d := New()
		for r, rs := range s {
			for _, rg := range rs {
				d.ctx.AddRange(crdt.ReplicaID(r), crdt.Range{Lo: rg[0], Hi: rg[1]})
			}
		}
		out = append(out, goldenContext{Ranges: s, Bytes: goldenB64(d.Encode())})
	}
	return out
}

func goldenChunkSets(t *testing.T, cases []*goldenCase) []goldenChunks {
	var out []goldenChunks
	for _, name := range []string{"large document", "delta since diverged", "unicode everywhere", "loops and parallels"} {
		i := slices.IndexFunc(cases, func(c *goldenCase) bool { return c.Name == name })
		if i < 0 {
			t.Fatalf("no case %q", name)
		}
		c := cases[i]
		raw, _ := base64.StdEncoding.DecodeString(c.Final[c.Replicas[0]].Doc)
		d, err := Decode(raw, DocLimits)
		if err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int{300, 1024, 4096, 1 << 20} {
			var enc []string
			joined := New()
			for _, ch := range d.EncodeChunks(limit) {
				enc = append(enc, goldenB64(ch))
				cd, err := Decode(ch, DeltaLimits)
				if err != nil {
					t.Fatal(err)
				}
				joined.Merge(cd)
			}
			if !joined.Equal(d) {
				t.Fatalf("chunks of %q at %d do not join to the document", name, limit)
			}
			out = append(out, goldenChunks{Doc: goldenB64(raw), Limit: limit, Chunks: enc})
		}
		// Small caps, so that these documents are cut by counts.
		for _, gc := range []goldenCaps{
			{MaxValues: 5, MaxReplicas: 2, MaxRanges: 4, MaxValueNodes: 12},
			{MaxValues: 3},
			{MaxReplicas: 1, MaxRanges: 2},
			{MaxValueNodes: 8},
		} {
			for _, limit := range []int{1024, 1 << 20} {
				var enc []string
				joined := New()
				for _, ch := range d.EncodeChunksCapped(limit, gc.caps()) {
					enc = append(enc, goldenB64(ch))
					cd, err := DecodeCapped(ch, DeltaLimits, gc.caps())
					if err != nil && gc.MaxValueNodes == 0 {
						t.Fatalf("a chunk of %q under %+v: %v", name, gc, err)
					}
					if cd == nil {
						cd, _ = Decode(ch, DeltaLimits) // one value past the node cap: alone
					}
					joined.Merge(cd)
				}
				if !joined.Equal(d) {
					t.Fatalf("chunks of %q at %d under %+v do not join to the document", name, limit, gc)
				}
				c := gc
				out = append(out, goldenChunks{Doc: goldenB64(raw), Limit: limit, Caps: &c, Chunks: enc})
			}
		}
	}
	return out
}

// goldenCapDecodes records each cap's shape (capShapes) at and one past a
// small cap, and Go's verdict.
func goldenCapDecodes(t *testing.T) []goldenCapDecode {
	reasons := map[error]string{ErrTooManyValues: "TooManyValues", ErrTooManyReplicas: "TooManyReplicas", ErrTooManyRanges: "TooManyRanges", ErrTooManyValueNodes: "TooManyValueNodes"}
	gc := goldenCaps{MaxValues: 6, MaxReplicas: 3, MaxRanges: 5, MaxValueNodes: 10}
	var out []goldenCapDecode
	for _, s := range capShapes {
		n := s.cap(gc.caps())
		for _, k := range []int{n - 1, n, n + 1} {
			b := s.build(k)
			reason := ""
			if _, err := DecodeCapped(b, DeltaLimits, gc.caps()); err != nil {
				if reason = reasons[s.sentinel]; !errors.Is(err, s.sentinel) {
					t.Fatalf("%s, %d under %+v: %v", s.name, k, gc, err)
				}
			}
			if (reason != "") != (k > n) {
				t.Fatalf("%s, %d under %+v: reason %q", s.name, k, gc, reason)
			}
			out = append(out, goldenCapDecode{Bytes: goldenB64(b), Caps: gc, Reason: reason})
		}
	}
	// Far past the node cap: more nodes in all than any delta within the
	// caps holds, refused by the form check's walk before decoding.
	far := capShapes[3].build(200)
	if _, err := DecodeCapped(far, DeltaLimits, gc.caps()); !errors.Is(err, ErrTooManyNodes) {
		t.Fatalf("200 value nodes under %+v: %v, want ErrTooManyNodes", gc, err)
	}
	out = append(out, goldenCapDecode{Bytes: goldenB64(far), Caps: gc, Reason: "TooManyNodes"})
	return out
}

// goldenDecodes mutates the encodings of a few small documents and deltas
// with a fixed seed (byte-level and structure-aware mutations, mutant_test.go)
// and records what Decode makes of each, so that the TypeScript decoder can
// prove it accepts and refuses exactly the same inputs. Every accepted
// mutant re-encodes to itself (the canonical property).
func goldenDecodes(t *testing.T, cases []*goldenCase) []goldenDecode {
	var bases [][]byte
	for _, name := range []string{"legacy add duplicate remove", "lww hybrid time order", "variables", "delta since diverged"} {
		i := slices.IndexFunc(cases, func(c *goldenCase) bool { return c.Name == name })
		if i < 0 {
			t.Fatalf("no case %q", name)
		}
		c := cases[i]
		doc, _ := base64.StdEncoding.DecodeString(c.Final[c.Replicas[0]].Doc)
		bases = append(bases, doc)
		for _, s := range c.Steps {
			if s.Delta != "" && len(bases) < 12 {
				delta, _ := base64.StdEncoding.DecodeString(s.Delta)
				bases = append(bases, delta)
				break
			}
		}
	}
	rng := rand.New(rand.NewPCG(42, 4242))
	var out []goldenDecode
	for _, base := range bases {
		for range 80 {
			in, _ := mutate(rng, base)
			d, err := Decode(in, DocLimits)
			switch {
			case errors.Is(err, ErrFormatVersion):
				out = append(out, goldenDecode{Bytes: goldenB64(in), Error: "FormatVersion"})
			case errors.Is(err, ErrMalformed):
				out = append(out, goldenDecode{Bytes: goldenB64(in), Error: "Malformed"})
			case err != nil:
				t.Fatalf("Decode returned an untyped error: %v", err)
			default:
				if enc := d.Encode(); !bytes.Equal(enc, in) {
					t.Fatalf("accepted a mutant that re-encodes to other bytes:\n% x\n% x", in, enc)
				}
				out = append(out, goldenDecode{Bytes: goldenB64(in), Doc: goldenB64(in)})
			}
		}
	}
	return out
}

func buildGolden(t *testing.T) []byte {
	t.Helper()
	cases, g := goldenCases(t)
	for _, p := range Operations() {
		if !g.succeeded[p] {
			t.Errorf("golden vectors never apply %s/%s successfully", p[0], p[1])
		}
	}
	for _, s := range goldenSentinels {
		if !g.errorsSeen[s.name] {
			t.Errorf("golden vectors never refuse an operation with %s", s.name)
		}
	}
	f := goldenFile{Version: 1, Cases: cases, Values: goldenValues(t), Contexts: goldenContexts(), Chunks: goldenChunkSets(t, cases), Decode: goldenDecodes(t, cases), CapDecode: goldenCapDecodes(t), InvalidUTF8: goldenInvalidUTF8(t)}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGoldenVectors(t *testing.T) {
	got := buildGolden(t)
	if t.Failed() {
		return
	}
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", goldenPath, len(got))
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden ./crdt/workflow -update)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s is stale at line %d:\n got: %.200s\nwant: %.200s\nrerun with -update if the change is intended, then run the TypeScript conformance tests", goldenPath, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s is stale (%d lines generated, %d committed); rerun with -update", goldenPath, len(gl), len(wl))
	}
}

// TestGoldenVectorsDeterministic guards the comparison above: two builds in
// one process must be identical, or map iteration order leaked into the file.
func TestGoldenVectorsDeterministic(t *testing.T) {
	if !bytes.Equal(buildGolden(t), buildGolden(t)) {
		t.Fatal("golden vectors differ between two builds")
	}
}

// goldenRawPut writes v under k in d as replica at wall, the way a client
// that sends raw deltas could: no operation checks the value's shape or its
// UTF-8.
func goldenRawPut(d *Doc, replica string, wall int64, k Key, v Value) {
	b := &builder{doc: d, ts: crdt.Timestamp{Wall: wall, Replica: crdt.ReplicaID(replica)}, next: d.ctx.Max(crdt.ReplicaID(replica)) + 1, delta: &Doc{}}
	b.put(k, v)
	d.Merge(b.delta)
}

func goldenInvalidUTF8(t *testing.T) []goldenInvalid {
	t.Helper()
	const wall = 1_700_000_000_000
	mk := func() *Doc {
		d := New()
		ts := crdt.Timestamp{Wall: wall, Replica: "r1"}
		op, err := ParseOp("batch-add-blocks", "blocks", map[string]any{
			"blocks": []any{
				map[string]any{"id": "b1", "type": "agent", "name": "Agent", "position": map[string]any{"x": 0.0, "y": 0.0}},
				map[string]any{"id": "b2", "type": "agent", "name": "Two", "position": map[string]any{"x": 10.0, "y": 0.0}},
				map[string]any{"id": "b3", "type": "agent", "name": "Three", "position": map[string]any{"x": 20.0, "y": 0.0}},
				map[string]any{"id": "b4", "type": "agent", "name": "Four", "position": map[string]any{"x": 30.0, "y": 0.0}},
				map[string]any{"id": "b5", "type": "api", "name": "Five", "position": map[string]any{"x": 40.0, "y": 0.0}},
			},
			"edges": []any{map[string]any{"id": "e1", "source": "b1", "target": "b2"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Apply(ts, op); err != nil {
			t.Fatal(err)
		}
		op, err = ParseOp("add", "variable", map[string]any{"id": "v1", "name": "var", "type": "string", "value": "x"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Apply(crdt.Timestamp{Wall: wall + 1, Replica: "r1"}, op); err != nil {
			t.Fatal(err)
		}
		w := int64(wall + 1000)
		put := func(k Key, v Value) { w++; goldenRawPut(d, "r2", w, k, v) }
		str := func(s string) Value { return stringValue(s) }
		// Names: a truncated sequence mid-string, lone invalid bytes, a
		// surrogate encoding, an overlong form, a leading BOM (valid), and a
		// valid "\ufffd\ufffd" that normalizes like two invalid bytes.
		put(fieldKey("b1", FieldName), str("Ab\xe2\x82C"))
		put(fieldKey("b2", FieldName), str("\xff\xfe"))
		put(fieldKey("b3", FieldName), str("\xfe\xff"))
		put(fieldKey("b4", FieldName), str("\ufffd\ufffd"))
		put(fieldKey("b5", FieldName), str("\xef\xbb\xbfBom \xed\xa0\x80 \xc0\xaf"))
		put(fieldKey("b1", FieldType), str("ag\xe2\x82"))
		// Sub-block values: strings, a map whose keys collide once made
		// UTF-8 (Go keeps all three; JSON.parse keeps the last in byte order),
		// nested strings, and a top-level bin.
		put(subBlockKey("b1", "prompt"), str("\xe2\x82A\xf0\x9f\x98"))
		put(Key{KindSubBlockType, "b1", "prompt"}, str("long-input\xff"))
		m := msgpackx.AppendMapHeader(nil, 3)
		m = msgpackx.AppendString(m, "a\xef\xbf\xbd")
		m = msgpackx.AppendInt(m, 1)
		m = msgpackx.AppendString(m, "a\xfe")
		m = msgpackx.AppendInt(m, 2)
		m = msgpackx.AppendString(m, "a\xff")
		m = msgpackx.AppendArrayHeader(m, 3)
		m = msgpackx.AppendString(m, "\xed\xa0\x80")
		m = msgpackx.AppendString(m, "\xf4\x90\x80\x80")
		m = msgpackx.AppendString(m, "ok \xe2\x82\xac")
		put(subBlockKey("b1", "config"), Value(m))
		put(subBlockKey("b2", "raw"), Value(msgpackx.AppendBytes(nil, []byte("bin\xe2\x82\xff"))))
		put(fieldKey("b2", FieldDataPrefix+"label"), str("d\x80"))
		// Variables and an edge handle.
		put(variableFieldKey("v1", VarFieldName), str("v\xc0\xafar"))
		put(variableFieldKey("v1", VarFieldType), str("string\xe2"))
		put(variableFieldKey("v1", VarFieldValue), str("\xf0\x9f\x98\x80\xf0\x9f"))
		ev := msgpackx.AppendMapHeader(nil, 3)
		ev = msgpackx.AppendString(ev, "s")
		ev = msgpackx.AppendString(ev, "b1")
		ev = msgpackx.AppendString(ev, "sh")
		ev = msgpackx.AppendString(ev, "out\xe2\x82")
		ev = msgpackx.AppendString(ev, "t")
		ev = msgpackx.AppendString(ev, "b2")
		put(edgeKey("e1"), Value(ev))
		return d
	}
	d := mk()
	view, err := json.Marshal(d.View())
	if err != nil {
		t.Fatal(err)
	}
	norm := map[string]string{}
	for id, b := range d.View().Blocks {
		norm[id] = NormalizeName(b.Name)
	}
	c := goldenInvalid{Name: "invalid UTF-8 in names, values, variables and edges", Doc: goldenB64(d.Encode()), View: view, Normalized: norm}
	// Name checks read the invalid names the way NormalizeName sees them.
	ops := []struct{ name, target, payload, want string }{
		{"update-name", "block", `{"id":"b3","name":"AB\ufffd\ufffdC"}`, "NameConflict"},
		{"update-name", "block", `{"id":"b1","name":"\ufffd\ufffd"}`, "NameConflict"},
		{"update-name", "block", `{"id":"b2","name":"Fresh"}`, ""},
		{"variable-update", "variable", `{"variableId":"v1","field":"name","value":"v\ufffd\ufffdAR"}`, ""},
		{"subblock-update", "subblock", `{"blockId":"b1","subblockId":"prompt","value":"\ufffd"}`, ""},
		{"subblock-batch-update", "subblock", `{"updates":[{"blockId":"b1","subblockId":"prompt","value":"x","expectedValue":"\ufffd\ufffdA\ufffd\ufffd\ufffd"}]}`, "Precondition"},
	}
	for i, o := range ops {
		dd := mk()
		raw, m := (&goldenGen{t: t, c: &goldenCase{Name: c.Name}}).parsePayload(o.payload)
		step := goldenStep{Replica: "r3", TS: &goldenTS{wall + 10_000 + int64(i), 0}, Op: &goldenOp{o.name, o.target, raw}}
		op, err := ParseOp(o.name, o.target, m)
		var delta *Doc
		if err == nil {
			delta, err = dd.Apply(crdt.Timestamp{Wall: step.TS.Wall, Replica: "r3"}, op)
		}
		if got := goldenSentinelName(err); got != o.want || (err != nil && got == "") {
			t.Fatalf("invalid UTF-8: %s/%s %s: got %v, want %q", o.target, o.name, o.payload, err, o.want)
		}
		if err != nil {
			step.Error = goldenSentinelName(err)
		} else {
			step.Delta = goldenB64(delta.Encode())
		}
		c.Ops = append(c.Ops, step)
	}
	return []goldenInvalid{c}
}
