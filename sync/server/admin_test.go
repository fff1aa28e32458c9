package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/server"
	"github.com/flowsync/flowsync/sync/session"
)

const adminSecret = "test-admin-secret-0123456789abcdef-xyz"

type fakeRoles struct {
	mu     sync.Mutex
	calls  []string
	grants session.Grants
	err    error
}

func (f *fakeRoles) SetRole(_ context.Context, user, wf string, role protocol.Role) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("SetRole %s %s %q", user, wf, role))
	return 2, f.err
}

func (f *fakeRoles) SetGrants(_ context.Context, user string, g session.Grants) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "SetGrants "+user)
	f.grants = g
	return 1, f.err
}

type adminEnv struct {
	t     *testing.T
	srv   *httptest.Server
	reg   *rooms.Registry
	roles *fakeRoles
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	return newAdminEnvWith(t, nil)
}

// newAdminEnvWith is newAdminEnv with tweak applied to the rooms' Config.
func newAdminEnvWith(t *testing.T, tweak func(*rooms.Config)) *adminEnv {
	t.Helper()
	e := &adminEnv{t: t, roles: &fakeRoles{}, logs: &syncBuffer{}}
	store := memory.New()
	logger := slog.New(slog.NewJSONHandler(e.logs, nil))
	admit := rooms.Admissions(rooms.LockAdmission(func(id string) bool { return e.reg.Locked(id) }), rooms.AuditAdmission(logger))
	rcfg := rooms.Config{Admit: admit}
	if tweak != nil {
		tweak(&rcfg)
	}
	reg, err := rooms.NewRegistry(rcfg, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.reg = reg
	h, err := server.NewAdminHandler(server.AdminConfig{
		Secret:           []byte(adminSecret),
		OperationTimeout: 5 * time.Second,
		Logger:           logger,
	}, server.AdminDeps{Rooms: reg, Roles: e.roles, Locks: reg})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = newTestServer(h)
	t.Cleanup(func() {
		e.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := reg.Close(ctx); err != nil {
			t.Error(err)
		}
		store.Close()
		if strings.Contains(e.logs.String(), adminSecret) {
			t.Error("the admin secret was logged")
		}
	})
	return e
}

func newTestServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }

type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func (e *adminEnv) do(method, path, body string, auth ...string) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if auth == nil {
		auth = []string{"Authorization", "Bearer " + adminSecret}
	}
	for i := 0; i+1 < len(auth); i += 2 {
		req.Header.Set(auth[i], auth[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		e.t.Fatalf("%s %s: %d %q is not a JSON object", method, path, resp.StatusCode, raw)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: m}
}

func (e *adminEnv) expect(r reply, status int, code string) {
	e.t.Helper()
	if r.status != status || (code != "" && r.body["code"] != code) {
		e.t.Fatalf("got %d %v, want %d %s", r.status, r.body, status, code)
	}
	if r.header.Get("X-Robots-Tag") != "noindex, nofollow" {
		e.t.Fatal("missing X-Robots-Tag")
	}
}

// view returns the JSON of the workflow's view.
func (e *adminEnv) view(id string) string {
	e.t.Helper()
	r := e.do("GET", "/admin/v1/workflows/"+id, "")
	e.expect(r, 200, "")
	b, _ := json.Marshal(r.body["view"])
	return string(b)
}

func ops(actor string, items ...string) string {
	return `{"actor": ` + actor + `, "operations": [` + strings.Join(items, ",") + `]}`
}

const (
	addA   = `{"operation": "add", "target": "block", "payload": {"id": "a", "type": "agent", "name": "Agent A", "position": {"x": 1, "y": 2}}}`
	lockA  = `{"operation": "batch-toggle-locked", "target": "blocks", "payload": {"blockIds": ["a"], "previousStates": {}}}`
	moveA  = `{"operation": "update-position", "target": "block", "payload": {"id": "a", "position": {"x": 5, "y": 6}, "commit": true}}`
	addVar = `{"operation": "add", "target": "variable", "payload": {"id": "v1", "name": "apiKey", "type": "plain", "value": "s3cr3t-value"}}`
	user   = `{"userId": "u1", "name": "Ann"}`
)

func TestAdminAuth(t *testing.T) {
	if _, err := server.NewAdminHandler(server.AdminConfig{Secret: []byte("short")}, server.AdminDeps{}); err == nil {
		t.Fatal("a short secret was accepted")
	}
	e := newAdminEnv(t)
	e.expect(e.do("GET", "/admin/v1/rooms", "", "X-Other", "x"), 401, "AUTHENTICATION_FAILED")
	e.expect(e.do("GET", "/admin/v1/rooms", "", "Authorization", "Bearer wrong"), 401, "AUTHENTICATION_FAILED")
	e.expect(e.do("GET", "/admin/v1/rooms", "", "X-Api-Key", adminSecret+"x"), 401, "AUTHENTICATION_FAILED")
	e.expect(e.do("GET", "/admin/v1/rooms", "", "Authorization", "Basic "+adminSecret), 401, "AUTHENTICATION_FAILED")
	e.expect(e.do("GET", "/admin/v1/rooms", "", "X-Api-Key", adminSecret), 200, "")
	e.expect(e.do("GET", "/admin/v1/rooms", "", "Authorization", "bearer "+adminSecret), 200, "")
	e.expect(e.do("GET", "/admin/v1/nope", ""), 404, "NOT_FOUND")
}

func TestAdminWorkflowIDs(t *testing.T) {
	e := newAdminEnv(t)
	for _, id := range []string{"a%2Fb", "a%00b", "%2E%2E", "a%5Cb", strings.Repeat("w", 257)} {
		e.expect(e.do("GET", "/admin/v1/workflows/"+id, ""), 400, "INVALID_OPERATION")
	}
	// The longest id passes the checks: never created, it is unknown;
	// created, it has a view.
	long := strings.Repeat("w", 256)
	e.expect(e.do("GET", "/admin/v1/workflows/"+long, ""), 404, "UNKNOWN_WORKFLOW")
	e.expect(e.do("PUT", "/admin/v1/workflows/"+long, ""), 200, "")
	e.expect(e.do("GET", "/admin/v1/workflows/"+long, ""), 200, "")
}

// GET of a workflow that never existed (no snapshot, no log, not in the
// catalog) is 404 UNKNOWN_WORKFLOW, without --require-existing-workflows
// too, and loads no room; one created, or written (stored or still
// pending in its live room), has a view, even when its blocks are gone.
func TestAdminGetUnknownWorkflow(t *testing.T) {
	e := newAdminEnv(t)
	e.expect(e.do("GET", "/admin/v1/workflows/never", ""), 404, "UNKNOWN_WORKFLOW")
	if live := e.reg.LiveWorkflows(); len(live) != 0 {
		t.Fatalf("a 404 loaded rooms %v", live)
	}
	e.expect(e.do("PUT", "/admin/v1/workflows/created", ""), 200, "")
	e.expect(e.do("GET", "/admin/v1/workflows/created", ""), 200, "")
	e.expect(e.do("POST", "/admin/v1/workflows/written/operations", ops("null", addA)), 200, "")
	e.expect(e.do("GET", "/admin/v1/workflows/written", ""), 200, "")
	e.expect(e.do("POST", "/admin/v1/workflows/written/operations",
		ops("null", `{"operation": "remove", "target": "block", "payload": {"id": "a"}}`)), 200, "")
	e.expect(e.do("GET", "/admin/v1/workflows/written", ""), 200, "")
}

func TestAdminOperations(t *testing.T) {
	e := newAdminEnv(t)
	r := e.do("POST", "/admin/v1/workflows/wf1/operations", ops("null", addA, addVar))
	e.expect(r, 200, "")
	results := r.body["results"].([]any)
	for i, res := range results {
		if m := res.(map[string]any); m["status"] != "applied" || m["durable"] != true {
			t.Fatalf("result %d: %v", i, m)
		}
	}
	v := e.view("wf1")
	if !strings.Contains(v, `"Agent A"`) {
		t.Fatalf("view lacks the block: %s", v)
	}

	// A write user may not toggle locks; nothing changes.
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/operations", ops(user, lockA)), 403, "PERMISSION_DENIED")
	// Malformed: nothing is applied, not even the valid first operation.
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/operations",
		ops(user, moveA, `{"operation": "explode", "target": "block", "payload": {}}`)), 400, "INVALID_OPERATION")
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/operations", `{"operations": [], "bogus": 1}`), 400, "INVALID_OPERATION")
	if got := e.view("wf1"); got != v {
		t.Fatalf("a refused request changed the view:\n%s\n%s", v, got)
	}

	// An admin user locks the block; then the user's edit is refused and
	// later operations of the request are skipped.
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/operations", `{"actor": `+user+`, "role": "admin", "operations": [`+lockA+`]}`), 200, "")
	v = e.view("wf1")
	r = e.do("POST", "/admin/v1/workflows/wf1/operations", ops(user, moveA, addVar))
	e.expect(r, 423, "BLOCK_LOCKED")
	results = r.body["results"].([]any)
	if results[0].(map[string]any)["status"] != "refused" || results[1].(map[string]any)["status"] != "skipped" {
		t.Fatalf("results: %v", results)
	}
	if got := e.view("wf1"); got != v {
		t.Fatal("a refused operation changed the view")
	}

	logs := e.logs.String()
	for _, want := range []string{`"action":"variable.add"`, `"action":"block.lock"`, `"actor":"u1"`, `"actor":"system"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("audit log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "s3cr3t-value") {
		t.Error("a variable value reached the log")
	}
}

func TestAdminLock(t *testing.T) {
	e := newAdminEnv(t)
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/operations", ops("null", addA)), 200, "")
	r := e.do("POST", "/admin/v1/workflows/wf1/lock", `{"actor": `+user+`}`)
	e.expect(r, 200, "")
	if r.body["changed"] != true || !e.reg.Locked("wf1") {
		t.Fatalf("lock: %v", r.body)
	}
	if r := e.do("POST", "/admin/v1/workflows/wf1/lock", ""); r.body["changed"] != false {
		t.Fatalf("second lock: %v", r.body)
	}
	v := e.view("wf1")
	// Locked: even the system is refused.
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/operations", ops("null", moveA)), 423, "WORKFLOW_LOCKED")
	if e.view("wf1") != v {
		t.Fatal("a locked workflow changed")
	}
	if r := e.do("GET", "/admin/v1/workflows/wf1", ""); r.body["locked"] != true {
		t.Fatalf("GET: %v", r.body)
	}
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/unlock", ""), 200, "")
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/operations", ops("null", moveA)), 200, "")
	logs := e.logs.String()
	if strings.Count(logs, `"action":"workflow.lock"`) != 1 || !strings.Contains(logs, `"action":"workflow.unlock"`) ||
		!strings.Contains(logs, `"audit":true`) {
		t.Fatalf("audit log:\n%s", logs)
	}
}

func TestAdminEventsAndDelete(t *testing.T) {
	e := newAdminEnv(t)
	if r := e.do("POST", "/admin/v1/workflows/wf1/events", `{"kind": "updated"}`); r.status != 200 || r.body["delivered"] != false {
		t.Fatalf("no live room: %v", r.body)
	}
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/operations", ops("null", addA)), 200, "")
	if r := e.do("POST", "/admin/v1/workflows/wf1/events", `{"kind": "deployed", "message": "v2"}`); r.body["delivered"] != true {
		t.Fatalf("live room: %v", r.body)
	}
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/events", `{"kind": "exploded"}`), 400, "INVALID_OPERATION")
	e.expect(e.do("DELETE", "/admin/v1/workflows/wf1", ""), 200, "")
	e.expect(e.do("GET", "/admin/v1/workflows/wf1", ""), 404, "WORKFLOW_DELETED")
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/operations", ops("null", moveA)), 404, "WORKFLOW_DELETED")
	// kind "deleted" deletes, as DELETE does.
	e.expect(e.do("POST", "/admin/v1/workflows/wf2/events", `{"kind": "deleted"}`), 200, "")
	e.expect(e.do("GET", "/admin/v1/workflows/wf2", ""), 404, "WORKFLOW_DELETED")
}

func TestAdminRoles(t *testing.T) {
	e := newAdminEnv(t)
	e.expect(e.do("PUT", "/admin/v1/users/u1/roles", `{"workflowId": "wf1", "role": "read"}`), 200, "")
	e.expect(e.do("PUT", "/admin/v1/users/u1/roles", `{"workflowId": "wf1", "role": "none"}`), 200, "")
	r := e.do("PUT", "/admin/v1/users/u1/roles", `{"grants": {"all": "write", "workflows": {"wf2": "admin", "wf3": "none"}}}`)
	e.expect(r, 200, "")
	if r.body["sessions"] != 1.0 {
		t.Fatalf("sessions: %v", r.body)
	}
	want := []string{`SetRole u1 wf1 "read"`, `SetRole u1 wf1 ""`, "SetGrants u1"}
	if fmt.Sprint(e.roles.calls) != fmt.Sprint(want) {
		t.Fatalf("calls %q, want %q", e.roles.calls, want)
	}
	if g := e.roles.grants; g.All != protocol.RoleWrite || g.Role("wf2") != protocol.RoleAdmin || g.Role("wf3") != "" {
		t.Fatalf("grants %+v", g)
	}
	e.expect(e.do("PUT", "/admin/v1/users/u1/roles", `{"workflowId": "wf1"}`), 400, "INVALID_OPERATION")
	e.expect(e.do("PUT", "/admin/v1/users/u1/roles", `{"workflowId": "wf1", "role": "read", "grants": {}}`), 400, "INVALID_OPERATION")
	e.roles.err = fmt.Errorf("%w: role %q", session.ErrInvalidGrants, "owner")
	e.expect(e.do("PUT", "/admin/v1/users/u1/roles", `{"workflowId": "wf1", "role": "owner"}`), 400, "INVALID_OPERATION")
	if !strings.Contains(e.logs.String(), `"action":"user.role"`) {
		t.Fatal("role change not audited")
	}
}

func TestAdminRooms(t *testing.T) {
	e := newAdminEnv(t)
	r := e.do("GET", "/admin/v1/rooms", "")
	e.expect(r, 200, "")
	if rs := r.body["rooms"].([]any); len(rs) != 0 {
		t.Fatalf("rooms: %v", rs)
	}
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/operations", ops("null", addA)), 200, "")
	if _, err := e.reg.SetLocked(context.Background(), "wf1", true); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/admin/v1/rooms", "")
	rs := r.body["rooms"].([]any)
	if len(rs) != 1 || rs[0].(map[string]any)["workflowId"] != "wf1" || rs[0].(map[string]any)["locked"] != true {
		t.Fatalf("rooms: %v", rs)
	}
}

// PUT /admin/v1/workflows/{id} creates a workflow, idempotently; with
// RequireExisting only created (or written) workflows load.
func TestAdminCreateWorkflow(t *testing.T) {
	e := newAdminEnvWith(t, func(c *rooms.Config) { c.RequireExisting = true })
	e.expect(e.do("GET", "/admin/v1/workflows/wf-new", ""), 404, "UNKNOWN_WORKFLOW")
	for range 2 {
		r := e.do("PUT", "/admin/v1/workflows/wf-new", "")
		e.expect(r, 200, "")
		if r.body["exists"] != true {
			t.Fatalf("PUT answered %v", r.body)
		}
	}
	e.view("wf-new")
	e.expect(e.do("POST", "/admin/v1/workflows/wf-new/operations", ops("null", addA)), 200, "")
	e.expect(e.do("DELETE", "/admin/v1/workflows/wf-new", ""), 200, "")
	e.expect(e.do("PUT", "/admin/v1/workflows/wf-new", ""), 404, "WORKFLOW_DELETED")
	e.expect(e.do("GET", "/admin/v1/workflows/wf-new", ""), 404, "WORKFLOW_DELETED")
}
