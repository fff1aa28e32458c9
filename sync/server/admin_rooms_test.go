package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/server"
)

// GET /admin/v1/rooms lists each live room's members, as its editors see
// them, in the API's JSON spelling: two editors connected over websockets
// show up with their ids, names, roles and join times.
func TestAdminRoomsListsConnectedMembers(t *testing.T) {
	admin := strings.Repeat("a", 32)
	srv, err := server.New(server.Config{Dev: true, DevRole: "write", AdminSecret: []byte(admin),
		Store: server.StoreConfig{Kind: server.StoreMemory}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, nil)
	}()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/sync"
	for _, name := range []string{"ann", "bob"} {
		startEditor(t, name, "wf-rooms", url, nil).waitLive(t)
	}
	type member struct {
		SessionID  string          `json:"sessionId"`
		UserID     string          `json:"userId"`
		Name       string          `json:"name"`
		Role       string          `json:"role"`
		JoinedAtMs int64           `json:"joinedAtMs"`
		Cursor     json.RawMessage `json:"cursor"`
	}
	var got struct {
		Rooms []struct {
			WorkflowID string   `json:"workflowId"`
			Members    []member `json:"members"`
		} `json:"rooms"`
	}
	var raw map[string]any
	testutil.WaitReason(t, testutil.DefaultWait, "two members listed", func() string {
		req, _ := http.NewRequest("GET", hs.URL+"/admin/v1/rooms", nil)
		req.Header.Set("X-Api-Key", admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
			return string(body)
		}
		_ = json.Unmarshal(body, &raw)
		if len(got.Rooms) != 1 || len(got.Rooms[0].Members) != 2 {
			return string(body)
		}
		return ""
	})
	room := got.Rooms[0]
	if room.WorkflowID != "wf-rooms" {
		t.Fatalf("room %q", room.WorkflowID)
	}
	// encoding/json matches keys case-insensitively: check the spelling
	// on the raw object.
	for _, m := range raw["rooms"].([]any)[0].(map[string]any)["members"].([]any) {
		keys := m.(map[string]any)
		for _, k := range []string{"sessionId", "userId", "name", "role", "joinedAtMs", "lastActivityMs", "cursor", "selection"} {
			if _, ok := keys[k]; !ok {
				t.Errorf("member without %q: %v", k, keys)
			}
		}
	}
	users := map[string]member{}
	for _, m := range room.Members {
		users[m.UserID] = m
	}
	for _, name := range []string{"ann", "bob"} {
		m, ok := users[name]
		if !ok || m.SessionID == "" || m.Name != name || m.Role != "write" || m.JoinedAtMs <= 0 || string(m.Cursor) != "null" {
			t.Errorf("member %s: %+v (listed: %+v)", name, m, room.Members)
		}
	}
}
