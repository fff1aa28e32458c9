package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/server"
	"github.com/flowsync/flowsync/sync/webhook"
)

// A node with webhooks on reports an admin API edit as one debounced,
// signed change event naming its user and summarizing it, then the lock
// and the delete as lifecycle events, to a real HTTP receiver.
func TestWebhooksEndToEnd(t *testing.T) {
	secret := []byte(strings.Repeat("w", 32))
	var mu sync.Mutex
	var got []webhook.Event
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, body, r.Header.Get(webhook.HeaderSignature), 0, time.Now()); err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev webhook.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("receiver: %v", err)
		}
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	}))
	defer rc.Close()
	admin := strings.Repeat("a", 32)
	srv, err := server.New(server.Config{Dev: true, AdminSecret: []byte(admin),
		Store: server.StoreConfig{Kind: server.StoreMemory},
		Webhooks: server.WebhookConfig{URLs: []string{rc.URL}, Secret: secret,
			QueuePath: filepath.Join(t.TempDir(), "q.db"), Quiet: 500 * time.Millisecond}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx, nil); err != nil {
			t.Error(err)
		}
	}()
	do := func(method, path, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		req.Header.Set("X-Api-Key", admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	events := func() []webhook.Event {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
	do("POST", "/admin/v1/workflows/wf/operations", ops(user, addA, addVar))
	do("POST", "/admin/v1/workflows/wf/operations", ops(user, moveA))
	testutil.WaitReason(t, testutil.DefaultWait, "the change event", func() string {
		if len(events()) == 0 {
			return "none yet"
		}
		return ""
	})
	ev := events()[0]
	if ev.Type != webhook.TypeChanged || ev.WorkflowID != "wf" || !slices.Equal(ev.Users, []string{"u1"}) || ev.Summary == nil ||
		ev.Summary.Totals != (webhook.Totals{Blocks: 1, Variables: 1}) {
		t.Fatalf("change event %+v (summary %+v)", ev, ev.Summary)
	}
	do("POST", "/admin/v1/workflows/wf/lock", `{"actor": `+user+`}`)
	do("DELETE", "/admin/v1/workflows/wf", "")
	testutil.WaitReason(t, testutil.DefaultWait, "the lifecycle events", func() string {
		var types []string
		for _, e := range events() {
			types = append(types, e.Type)
		}
		if !slices.Contains(types, webhook.TypeLocked) || !slices.Contains(types, webhook.TypeDeleted) {
			return strings.Join(types, ",")
		}
		return ""
	})
	if n := len(events()); n != 3 {
		t.Fatalf("%d events, want one change (two edits within the quiet period), lock, delete: %+v", n, events())
	}
	// The receiver has the third event before the sender counts its 2xx.
	testutil.WaitReason(t, testutil.DefaultWait, "the 3 deliveries in the metrics", func() string {
		if _, metrics := get(t, hs.URL+"/metrics"); !strings.Contains(metrics, `flowsync_webhook_deliveries_total{result="ok"} 3`) {
			return metrics
		}
		return ""
	})
}
