package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/server"
	"github.com/flowsync/flowsync/sync/session"
)

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := server.ReadSecretFile(write("ok", "  "+adminSecret+"\n"))
	if err != nil || string(got) != adminSecret {
		t.Fatalf("got %q, %v", got, err)
	}
	for name, content := range map[string]string{"empty": " \n", "big": strings.Repeat("x", 5000)} {
		if _, err := server.ReadSecretFile(write(name, content)); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), "xxxx") {
			t.Errorf("%s: the error holds the contents", name)
		}
	}
	if _, err := server.ReadSecretFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

// The wiring server.go uses compiles and serves: a real session handler as
// the RoleChanger.
func TestRegistryAdminDeps(t *testing.T) {
	store := memory.New()
	defer store.Close()
	var reg *rooms.Registry
	locked := func(id string) bool { return reg.Locked(id) }
	reg, err := rooms.NewRegistry(rooms.Config{Admit: rooms.Admissions(rooms.LockAdmission(locked), rooms.AuditAdmission(nil))}, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := session.NewHandler(session.Config{}, reg, session.DevAuthenticator{Role: protocol.RoleAdmin}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.NewAdminHandler(server.AdminConfig{Secret: []byte(adminSecret)}, server.RegistryAdminDeps(reg, sh))
	if err != nil {
		t.Fatal(err)
	}
	e := &adminEnv{t: t}
	e.srv = newTestServer(h)
	defer e.srv.Close()
	e.expect(e.do("PUT", "/admin/v1/users/u1/roles", `{"workflowId": "wf1", "role": "none"}`), 200, "")
	e.expect(e.do("POST", "/admin/v1/workflows/wf1/operations", ops("null", addA)), 200, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sh.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := reg.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
