package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/server"
)

// exportedState is the reference shape as a test reads it back.
type exportedState struct {
	Blocks map[string]struct {
		Name      string         `json:"name"`
		Type      string         `json:"type"`
		Position  map[string]any `json:"position"`
		SubBlocks map[string]struct {
			Value any `json:"value"`
		} `json:"subBlocks"`
		Data map[string]any `json:"data"`
	} `json:"blocks"`
	Edges     []map[string]any          `json:"edges"`
	Loops     map[string]map[string]any `json:"loops"`
	Parallels map[string]map[string]any `json:"parallels"`
	Variables map[string]struct {
		Name  string `json:"name"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	} `json:"variables"`
	Order any `json:"order"`
}

func exportState(t *testing.T, src server.Source, id string) (exportedState, string) {
	t.Helper()
	var out bytes.Buffer
	if err := server.Export(context.Background(), &out, src, id, server.FormatReference); err != nil {
		t.Fatal(err)
	}
	var st exportedState
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	return st, out.String()
}

func importState(src server.Source, id, state string) error {
	return server.Import(context.Background(), strings.NewReader(state), src, id, server.FormatReference)
}

// A workflow state file of the reference system (here wrapped as
// {"version", "exportedAt", "state"}) imports as blocks with positions,
// sub-blocks and parents, edges, a parallel and variables; exported back
// in the reference shape it has the same content, and that export imports
// into another workflow unchanged.
func TestReferenceImportExport(t *testing.T) {
	src := server.Source{DataDir: t.TempDir()}
	file, err := os.ReadFile(filepath.Join("testdata", "reference-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := importState(src, "ref", string(file)); err != nil {
		t.Fatal(err)
	}
	st, raw := exportState(t, src, "ref")
	a1 := st.Blocks["a1"]
	if len(st.Blocks) != 3 || a1.Name != "Agent 1" || a1.Data["parentId"] != "p1" || a1.Position["x"] != 50.0 ||
		a1.SubBlocks["model"].Value != "gpt-4o" || st.Blocks["start"].SubBlocks["startWorkflow"].Value != "manual" {
		t.Fatalf("blocks:\n%s", raw)
	}
	if len(st.Edges) != 1 || st.Edges[0]["source"] != "start" || st.Edges[0]["target"] != "p1" {
		t.Fatalf("edges:\n%s", raw)
	}
	if p := st.Parallels["p1"]; p == nil || p["count"] != 3.0 || len(st.Loops) != 0 {
		t.Fatalf("subflows:\n%s", raw)
	}
	if v := st.Variables["v1"]; v.Name != "apiBase" || v.Value != "https://example.com" {
		t.Fatalf("variables:\n%s", raw)
	}
	if st.Order != nil {
		t.Fatalf("the reference shape carries the view's paint order:\n%s", raw)
	}
	if err := importState(src, "copy", raw); err != nil {
		t.Fatal(err)
	}
	if _, again := exportState(t, src, "copy"); again != raw {
		t.Fatalf("re-imported:\n%s\nwant:\n%s", again, raw)
	}
	// Export's JSON form ({"workflowId", "view"}) imports too.
	var view bytes.Buffer
	if err := server.Export(context.Background(), &view, src, "ref", server.FormatJSON); err != nil {
		t.Fatal(err)
	}
	if err := importState(src, "from-view", view.String()); err != nil {
		t.Fatal(err)
	}
	if _, again := exportState(t, src, "from-view"); again != raw {
		t.Fatalf("imported from the view:\n%s\nwant:\n%s", again, raw)
	}
}

// Importing a state into a workflow replaces its content: blocks and
// edges not in the file are removed, variables removed, added and changed
// to match; a file without "variables" leaves them alone. Importing the
// same state twice changes nothing more.
func TestReferenceImportReplaces(t *testing.T) {
	src := server.Source{DataDir: t.TempDir()}
	first := `{"blocks": {
	  "a": {"id": "a", "type": "agent", "name": "A", "position": {"x": 0, "y": 0}},
	  "b": {"id": "b", "type": "agent", "name": "B", "position": {"x": 1, "y": 0}}},
	 "edges": [{"id": "e", "source": "a", "target": "b"}],
	 "variables": {"keep": {"id": "keep", "name": "keep", "type": "string", "value": "old"},
	               "drop": {"id": "drop", "name": "drop", "type": "number", "value": 1}}}`
	if err := importState(src, "wf", first); err != nil {
		t.Fatal(err)
	}
	second := `{"blocks": {
	  "b": {"id": "b", "type": "agent", "name": "B renamed", "position": {"x": 5, "y": 6}},
	  "c": {"id": "c", "type": "api", "name": "C", "position": {"x": 2, "y": 0}}},
	 "edges": [{"id": "e2", "source": "b", "target": "c"}],
	 "variables": {"keep": {"id": "keep", "name": "keep", "type": "string", "value": "new"},
	               "add": {"id": "add", "name": "add", "type": "boolean", "value": true}}}`
	if err := importState(src, "wf", second); err != nil {
		t.Fatal(err)
	}
	st, raw := exportState(t, src, "wf")
	if len(st.Blocks) != 2 || st.Blocks["a"].Name != "" || st.Blocks["b"].Name != "B renamed" || st.Blocks["b"].Position["y"] != 6.0 || st.Blocks["c"].Type != "api" {
		t.Fatalf("blocks after the second import:\n%s", raw)
	}
	if len(st.Edges) != 1 || st.Edges[0]["id"] != "e2" {
		t.Fatalf("edges after the second import:\n%s", raw)
	}
	if len(st.Variables) != 2 || st.Variables["keep"].Value != "new" || st.Variables["add"].Value != true {
		t.Fatalf("variables after the second import:\n%s", raw)
	}
	var bin1 bytes.Buffer
	if err := server.Export(context.Background(), &bin1, src, "wf", server.FormatBinary); err != nil {
		t.Fatal(err)
	}
	if err := importState(src, "wf", `{"blocks": {}}`); err != nil {
		t.Fatal(err)
	}
	st, raw = exportState(t, src, "wf")
	if len(st.Blocks) != 0 || len(st.Edges) != 0 || len(st.Variables) != 2 {
		t.Fatalf("an empty graph without variables:\n%s", raw)
	}
	if err := importState(src, "wf", second); err != nil {
		t.Fatal(err)
	}
	if err := importState(src, "wf", second); err != nil {
		t.Fatal(err)
	}
	if _, again := exportState(t, src, "wf"); !strings.Contains(again, `"B renamed"`) || !strings.Contains(again, `"new"`) {
		t.Fatalf("after importing the state again:\n%s", again)
	}
}

// A state the replace refuses, a file that is not one, and a deleted
// workflow are typed errors that leave the store as it was.
func TestReferenceImportRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	seedDataDir(t, dir)
	src := server.Source{DataDir: dir}
	for _, tc := range []struct{ name, state string }{
		{"not json", `{"blocks": `},
		{"two values", `{"blocks": {}} {}`},
		{"no blocks", `{"edges": []}`},
		{"block without position", `{"blocks": {"a": {"id": "a", "type": "agent", "name": "A"}}}`},
		{"block under another id", `{"blocks": {"a": {"id": "b", "type": "agent", "position": {"x": 0, "y": 0}}}}`},
		{"variable of a bad shape", `{"blocks": {}, "variables": {"v": "x"}}`},
		{"variable name not a string", `{"blocks": {}, "variables": {"v": {"id": "v", "name": 3}}}`},
	} {
		err := importState(src, "fresh", tc.state)
		if !errors.Is(err, workflow.ErrInvalid) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if err := server.Export(ctx, &bytes.Buffer{}, src, "fresh", server.FormatJSON); !errors.Is(err, server.ErrNoWorkflow) {
		t.Fatalf("a refused import left workflow fresh behind: %v", err)
	}
	if err := importState(src, "gone", `{"blocks": {}}`); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("import into a deleted workflow: %v", err)
	}
	if err := server.Import(ctx, strings.NewReader("{}"), src, "x", "xml"); err == nil {
		t.Fatal("format xml accepted")
	}
}
