package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/server"
	"github.com/flowsync/flowsync/sync/webhook"
)

// historyNode is a dev server with the admin API on, checkpoints on a
// memory store, webhooks to a receiver and its logs captured.
type historyNode struct {
	t      testing.TB
	srv    *server.Server
	hs     *httptest.Server
	logs   *syncBuffer
	mu     sync.Mutex
	events []webhook.Event
}

func startHistoryNode(t testing.TB, hist ...server.HistoryConfig) *historyNode {
	t.Helper()
	n := &historyNode{t: t, logs: &syncBuffer{}}
	secret := []byte(strings.Repeat("w", 32))
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev webhook.Event
		if err := webhook.Verify(secret, body, r.Header.Get(webhook.HeaderSignature), 0, time.Now()); err != nil || json.Unmarshal(body, &ev) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n.mu.Lock()
		n.events = append(n.events, ev)
		n.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	var hc server.HistoryConfig
	if len(hist) > 0 {
		hc = hist[0]
	}
	srv, err := server.New(server.Config{Dev: true, AdminSecret: []byte(adminSecret), History: hc,
		Store: server.StoreConfig{Kind: server.StoreMemory},
		Webhooks: server.WebhookConfig{URLs: []string{rc.URL}, Secret: secret,
			QueuePath: filepath.Join(t.TempDir(), "q.db"), Quiet: time.Hour}},
		slog.New(slog.NewJSONHandler(n.logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	n.srv, n.hs = srv, httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		n.hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx, nil); err != nil {
			t.Error(err)
		}
	})
	return n
}

// do sends an admin request and returns the status and the JSON answer.
func (n *historyNode) do(method, path, body string) (int, map[string]any) {
	n.t.Helper()
	req, _ := http.NewRequest(method, n.hs.URL+"/admin/v1"+path, strings.NewReader(body))
	req.Header.Set("X-Api-Key", adminSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		n.t.Fatalf("%s %s: %d %q", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, m
}

// ok is do, failing the test unless the answer is 200.
func (n *historyNode) ok(method, path, body string) map[string]any {
	n.t.Helper()
	status, m := n.do(method, path, body)
	if status != 200 {
		n.t.Fatalf("%s %s: %d %v", method, path, status, m)
	}
	return m
}

// refused is do, failing the test unless the answer is status with code.
func (n *historyNode) refused(method, path, body string, status int, code string) {
	n.t.Helper()
	got, m := n.do(method, path, body)
	if got != status || m["code"] != code {
		n.t.Fatalf("%s %s: %d %v, want %d %s", method, path, got, m, status, code)
	}
}

// viewJSON returns the workflow's live view, paint order left out.
func (n *historyNode) viewJSON(id string) string {
	n.t.Helper()
	return canonicalView(n.t, n.ok("GET", "/workflows/"+id, "")["view"])
}

// canonicalView is the JSON of a view as the API answers it, without its
// paint order (which a checkpoint's view also has, but restores need not
// keep: it follows the hybrid times of the adds).
func canonicalView(t testing.TB, v any) string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("view %v is not an object", v)
	}
	delete(m, "order")
	b, _ := json.Marshal(m)
	return string(b)
}

func id(m map[string]any, key string) int64 {
	cp, _ := m[key].(map[string]any)
	f, _ := cp["id"].(float64)
	return int64(f)
}

// The admin API end to end: a named checkpoint and the deployed event's,
// list, a checkpoint's view, a diff with the live state, "revert to
// deployed" (audited, a workflow.restored webhook, the live view back to
// the deployed one), its undo by restoring the before-restore checkpoint,
// and the refusals.
func TestCheckpointsAdminAPI(t *testing.T) {
	n := startHistoryNode(t)
	addB := `{"operation": "add", "target": "block", "payload": {"id": "b", "type": "api", "name": "B", "position": {"x": 9, "y": 9}}}`
	edgeAB := `{"operation": "add", "target": "edge", "payload": {"id": "e1", "source": "a", "target": "b"}}`
	n.ok("POST", "/workflows/wf/operations", ops(user, addA, addVar))
	first := n.ok("POST", "/workflows/wf/checkpoints", `{"name": "first draft", "actor": {"userId": "u2", "name": "Bo"}}`)
	if cp := first["checkpoint"].(map[string]any); cp["name"] != "first draft" || !slices.Equal(toStrings(cp["authors"]), []string{"u1", "u2"}) {
		t.Fatalf("named checkpoint %v", cp)
	}
	n.ok("POST", "/workflows/wf/operations", ops(user, addB, edgeAB))
	dep := n.ok("POST", "/workflows/wf/events", `{"kind": "deployed", "message": "v7"}`)
	depID := id(dep, "checkpoint")
	if depID <= id(first, "checkpoint") {
		t.Fatalf("the deployed event answered %v", dep)
	}
	deployedView := n.viewJSON("wf")
	n.ok("POST", "/workflows/wf/operations", ops(user, moveA,
		`{"operation": "remove", "target": "block", "payload": {"id": "b"}}`,
		`{"operation": "variable-update", "target": "variable", "payload": {"variableId": "v1", "field": "value", "value": "other"}}`))
	editedView := n.viewJSON("wf")

	list := n.ok("GET", "/workflows/wf/checkpoints", "")["checkpoints"].([]any)
	if len(list) != 2 || list[1].(map[string]any)["name"] != "deployed" {
		t.Fatalf("list %v", list)
	}
	sum := list[1].(map[string]any)["summary"].(map[string]any)
	if b := sum["blocks"].(map[string]any); b["added"] != 1.0 || sum["edges"].(map[string]any)["added"] != 1.0 {
		t.Fatalf("deployed checkpoint's summary %v", sum)
	}
	got := n.ok("GET", fmt.Sprintf("/workflows/wf/checkpoints/%d", depID), "")
	if v := canonicalView(t, got["view"]); v != deployedView {
		t.Fatalf("checkpoint view\n%s\nwant\n%s", v, deployedView)
	}
	diff := n.ok("GET", fmt.Sprintf("/workflows/wf/diff?from=%d", depID), "")["diff"].(map[string]any)
	if d := diff["blocks"].(map[string]any); !slices.Equal(toStrings(d["removed"]), []string{"b"}) || !slices.Equal(toStrings(d["changed"]), []string{"a"}) ||
		!slices.Equal(toStrings(diff["edges"].(map[string]any)["removed"]), []string{"e1"}) ||
		!slices.Equal(toStrings(diff["variables"].(map[string]any)["changed"]), []string{"v1"}) {
		t.Fatalf("diff deployed → live: %v", diff)
	}

	// Revert to deployed.
	res := n.ok("POST", "/workflows/wf/restore", `{"name": "deployed", "actor": {"userId": "u9", "name": "Ops"}}`)
	if id(res, "restored") != depID {
		t.Fatalf("restore answered %v", res)
	}
	if v := n.viewJSON("wf"); v != deployedView {
		t.Fatalf("after the restore:\n%s\nwant\n%s", v, deployedView)
	}
	if !strings.Contains(n.logs.String(), `"action":"workflow.restore"`) || !strings.Contains(n.logs.String(), `"actor":"u9"`) {
		t.Fatalf("no audit record of the restore:\n%s", n.logs.String())
	}
	testutil.WaitFor(t, "the workflow.restored webhook", func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return slices.ContainsFunc(n.events, func(e webhook.Event) bool {
			return e.Type == webhook.TypeRestored && e.WorkflowID == "wf" && slices.Equal(e.Users, []string{"u9"})
		})
	})
	// Undo it: restore what it replaced.
	n.ok("POST", "/workflows/wf/restore", fmt.Sprintf(`{"checkpoint": %d}`, id(res, "before")))
	if v := n.viewJSON("wf"); v != editedView {
		t.Fatalf("after undoing the restore:\n%s\nwant\n%s", v, editedView)
	}

	n.refused("POST", "/workflows/wf/restore", `{"checkpoint": 999}`, 404, "UNKNOWN_ENTITY")
	n.refused("POST", "/workflows/wf/restore", `{"name": "nope"}`, 404, "UNKNOWN_ENTITY")
	n.refused("POST", "/workflows/wf/restore", `{"checkpoint": 1, "name": "deployed"}`, 400, "INVALID_OPERATION")
	n.refused("GET", "/workflows/wf/checkpoints/x", "", 400, "INVALID_OPERATION")
	n.refused("GET", "/workflows/wf/diff?from=1&to=yesterday", "", 400, "INVALID_OPERATION")
	n.refused("GET", "/workflows/nothing/checkpoints", "", 404, "UNKNOWN_WORKFLOW")
	n.refused("POST", "/workflows/wf/checkpoints", `{"name": "`+strings.Repeat("n", 200)+`"}`, 400, "INVALID_OPERATION")
	n.refused("POST", "/workflows/wf/checkpoints", `{}`, 400, "INVALID_OPERATION")
	before := n.viewJSON("wf")
	n.ok("POST", "/workflows/wf/lock", "")
	n.refused("POST", "/workflows/wf/restore", fmt.Sprintf(`{"checkpoint": %d}`, depID), 423, "WORKFLOW_LOCKED")
	if v := n.viewJSON("wf"); v != before {
		t.Fatal("a refused restore changed the workflow")
	}
}

// The server wires the rooms' durable edits to the checkpoints: an edit
// through the admin API makes an automatic checkpoint after the quiet
// period, naming its author.
func TestAutomaticCheckpointThroughServer(t *testing.T) {
	n := startHistoryNode(t, server.HistoryConfig{Quiet: 20 * time.Millisecond})
	n.ok("POST", "/workflows/wf/operations", ops(user, addA))
	var list []any
	testutil.WaitFor(t, "an automatic checkpoint", func() bool {
		list = n.ok("GET", "/workflows/wf/checkpoints", "")["checkpoints"].([]any)
		return len(list) > 0
	})
	cp := list[0].(map[string]any)
	if cp["name"] != nil || !slices.Equal(toStrings(cp["authors"]), []string{"u1"}) || cp["bytes"].(float64) <= 0 {
		t.Fatalf("automatic checkpoint %v", cp)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// A restore while two clients keep adding blocks converges: both clients
// and the server end with the same view, in which every block, edge and
// variable of the checkpoint is as checkpointed and every other block is
// one the clients added concurrently.
func TestRestoreConvergesUnderConcurrentEdits(t *testing.T) {
	seed := testutil.Seed(t, 0)
	rng := rand.New(rand.NewPCG(seed, 0))
	n := startHistoryNode(t)
	n.ok("PUT", "/workflows/wf", "")
	url := "ws" + strings.TrimPrefix(n.hs.URL, "http") + "/v1/sync"
	eds := []*editor{startEditor(t, "ann", "wf", url, nil), startEditor(t, "bob", "wf", url, nil)}
	var wall sync.Mutex
	add := func(e *editor, id string) {
		t.Helper()
		wall.Lock()
		defer wall.Unlock()
		op := workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: id,
			Position: &workflow.Position{X: float64(rng.IntN(1000)), Y: float64(rng.IntN(1000))}}}}
		if _, err := e.c.Apply(op); err != nil {
			t.Errorf("%s: %v", e.name, err)
		}
	}
	for _, e := range eds {
		e.waitLive(t)
		for i := range 5 {
			add(e, fmt.Sprintf("%s-%d", e.name, i))
		}
	}
	n.ok("POST", "/workflows/wf/operations", ops(user, addVar))
	waitRestoreConverged(t, n, eds)
	cp := n.ok("POST", "/workflows/wf/checkpoints", `{"name": "base"}`)
	want := n.ok("GET", fmt.Sprintf("/workflows/wf/checkpoints/%d", id(cp, "checkpoint")), "")["view"].(map[string]any)
	for _, e := range eds { // edits to the checkpointed content, which the restore undoes
		wall.Lock()
		if _, err := e.c.Apply(workflow.RemoveBlock{ID: e.name + "-0"}); err != nil {
			t.Fatal(err)
		}
		wall.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, e := range eds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				add(e, fmt.Sprintf("x-%s-%d", e.name, i))
				time.Sleep(time.Millisecond) // an editor's pace, not a condition wait
			}
		}()
	}
	n.ok("POST", "/workflows/wf/restore", fmt.Sprintf(`{"checkpoint": %d}`, id(cp, "checkpoint")))
	close(stop)
	wg.Wait()
	final := waitRestoreConverged(t, n, eds)
	got := final["blocks"].(map[string]any)
	concurrent := 0
	for bid := range got {
		if strings.HasPrefix(bid, "x-") {
			concurrent++
		}
	}
	t.Logf("seed %d: %d blocks added concurrently with the restore survive it", seed, concurrent)
	for bid, b := range want["blocks"].(map[string]any) {
		if g, _ := json.Marshal(got[bid]); string(g) != mustJSON(b) {
			t.Errorf("block %s after the restore: %s, checkpointed %s", bid, g, mustJSON(b))
		}
	}
	for bid := range got {
		if _, ok := want["blocks"].(map[string]any)[bid]; !ok && !strings.HasPrefix(bid, "x-") {
			t.Errorf("block %s is neither checkpointed nor added concurrently", bid)
		}
	}
	if mustJSON(final["variables"]) != mustJSON(want["variables"]) || mustJSON(final["edges"]) != mustJSON(want["edges"]) {
		t.Errorf("variables or edges differ from the checkpoint: %s %s", mustJSON(final["variables"]), mustJSON(final["edges"]))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// waitRestoreConverged waits until every client's view is the server's, and
// returns that view (as the API answers it).
func waitRestoreConverged(t *testing.T, n *historyNode, eds []*editor) map[string]any {
	t.Helper()
	var last map[string]any
	testutil.WaitReason(t, testutil.DefaultWait, "clients and server converged", func() string {
		last = n.ok("GET", "/workflows/wf", "")["view"].(map[string]any)
		s := mustJSON(last)
		for _, e := range eds {
			var m map[string]any
			b, _ := json.Marshal(e.c.View())
			_ = json.Unmarshal(b, &m)
			if mustJSON(m) != s {
				return e.name + " differs from the server"
			}
		}
		return ""
	})
	return last
}

// A restore whose replace-state is larger than one delta (the 1 MiB of a
// log row) is written as several deltas, the chunks of that edit: it
// restores, in the live room as in the store. (It was refused with
// TOO_LARGE; this test saw that on the old code.)
func TestRestoreLargerThanADelta(t *testing.T) {
	n := startHistoryNode(t)
	big := strings.Repeat("p", 4000)
	for b := range 3 {
		var items []string
		for i := b * 100; i < (b+1)*100; i++ {
			items = append(items, fmt.Sprintf(`{"operation": "add", "target": "block", "payload": {"id": "blk-%03d", "type": "agent", "name": "Agent %d", "position": {"x": %d, "y": 1}, "subBlocks": {"prompt": {"id": "prompt", "type": "long-input", "value": %q}}}}`, i, i, i, big))
		}
		n.ok("POST", "/workflows/wf/operations", ops(user, items...))
	}
	cp := n.ok("POST", "/workflows/wf/checkpoints", `{"name": "big"}`)
	want := n.viewJSON("wf")
	n.ok("POST", "/workflows/wf/operations", ops(user, `{"operation": "remove", "target": "block", "payload": {"id": "blk-001"}}`,
		`{"operation": "update-name", "target": "block", "payload": {"id": "blk-002", "name": "Renamed"}}`))
	n.ok("POST", "/workflows/wf/restore", fmt.Sprintf(`{"checkpoint": %d}`, id(cp, "checkpoint")))
	if got := n.viewJSON("wf"); got != want {
		t.Fatal("the live view is not the checkpoint's after the restore")
	}
	doc, err := n.srv.Store().Load(context.Background(), "wf")
	if err != nil {
		t.Fatal(err)
	}
	v := doc.View()
	if b, ok := v.Blocks["blk-001"]; !ok || v.Blocks["blk-002"].Name != "Agent 2" || b.SubBlocks["prompt"].Value == nil {
		t.Fatal("the store does not hold the restore")
	}
}

// The size: a 5,000-block checkpoint restores (its replace-state
// is several deltas).
func TestRestoreFiveThousandBlocks(t *testing.T) {
	// Under a loaded machine (and -race) the restore's megabytes take more
	// than the default 10 s wait: this test is about size, not speed.
	n := startHistoryNode(t, server.HistoryConfig{RestoreTimeout: 10 * time.Minute})
	for b := range 50 {
		var items []string
		for i := b * 100; i < (b+1)*100; i++ {
			items = append(items, fmt.Sprintf(`{"operation": "add", "target": "block", "payload": {"id": "blk-%04d", "type": "agent", "name": "Agent %d", "position": {"x": %d, "y": %d}, "subBlocks": {"prompt": {"id": "prompt", "type": "long-input", "value": "You are agent %d: answer the ticket politely."}}}}`, i, i, i%100*10, i/100*10, i))
		}
		n.ok("POST", "/workflows/wf/operations", ops(user, items...))
	}
	cp := n.ok("POST", "/workflows/wf/checkpoints", `{"name": "5k"}`)
	want := n.viewJSON("wf")
	var rm []string
	for i := 0; i < 5000; i += 50 {
		rm = append(rm, fmt.Sprintf(`{"operation": "remove", "target": "block", "payload": {"id": "blk-%04d"}}`, i))
	}
	n.ok("POST", "/workflows/wf/operations", ops(user, rm...))
	n.ok("POST", "/workflows/wf/restore", fmt.Sprintf(`{"checkpoint": %d}`, id(cp, "checkpoint")))
	if got := n.viewJSON("wf"); got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("the live view is not the checkpoint's after the restore: from byte %d, got %.300q, want %.300q", i, got[max(0, i-100):], want[max(0, i-100):])
	}
	doc, err := n.srv.Store().Load(context.Background(), "wf")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := doc.Text(workflow.TextTarget{BlockID: "blk-0050", SubBlockID: "prompt"})
	if got := len(doc.View().Blocks); got != 5000 || p != "You are agent 50: answer the ticket politely." {
		t.Fatalf("the store holds %d blocks after the restore (want 5000), blk-0050's prompt %q", got, p)
	}
}
