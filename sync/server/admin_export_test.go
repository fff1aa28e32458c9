package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// GET …/export answers the live document in the three formats of
// `flowsync export`: the binary one decodes to a document holding the
// edit, the reference one is the reference's state shape; a bad format
// and an unknown workflow are refused.
func TestAdminExport(t *testing.T) {
	e := newAdminEnv(t)
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/operations", ops(user, addA, addVar)), 200, "")
	get := func(path string) (int, []byte) {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, bin := get("/admin/v1/workflows/wf1/export?format=binary")
	if code != 200 {
		t.Fatalf("binary export: %d %s", code, bin)
	}
	doc, err := workflow.Decode(bin, workflow.DocLimits)
	if err != nil {
		t.Fatalf("binary export does not decode: %v", err)
	}
	if v := doc.View(); v.Blocks["a"] == nil || v.Variables["v1"] == nil {
		t.Fatalf("binary export lacks the edit: %+v", v)
	}
	code, ref := get("/admin/v1/workflows/wf1/export?format=reference")
	var state struct {
		Blocks    map[string]json.RawMessage `json:"blocks"`
		Variables map[string]json.RawMessage `json:"variables"`
	}
	if code != 200 || json.Unmarshal(ref, &state) != nil || state.Blocks["a"] == nil || state.Variables["v1"] == nil {
		t.Fatalf("reference export: %d %s", code, ref)
	}
	code, js := get("/admin/v1/workflows/wf1/export")
	var wrapped struct {
		WorkflowID string          `json:"workflowId"`
		View       json.RawMessage `json:"view"`
	}
	if code != 200 || json.Unmarshal(js, &wrapped) != nil || wrapped.WorkflowID != "wf1" || len(wrapped.View) == 0 {
		t.Fatalf("json export: %d %s", code, js)
	}
	e.expect(e.do("GET", "/admin/v1/workflows/wf1/export?format=yaml", ""), 400, "INVALID_OPERATION")
	e.expect(e.do("GET", "/admin/v1/workflows/nope/export", ""), 404, "UNKNOWN_WORKFLOW")
}
