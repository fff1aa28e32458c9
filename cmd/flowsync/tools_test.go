package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/server"
)

// The backup and restore recipe of docs/DEPLOYMENT.md, per workflow: a
// server writes a workflow and stops; `flowsync inspect` lists it,
// `flowsync export --format binary` saves it, `flowsync import` restores
// it into another data directory, where `flowsync export` (JSON) shows the
// same view and a server started on it serves it.
func TestBackupRestoreRecipe(t *testing.T) {
	ctx := context.Background()
	none := func(string) string { return "" }
	src, dst := t.TempDir(), t.TempDir()
	srv, err := server.New(server.Config{Dev: true, Store: server.StoreConfig{Kind: server.StoreBolt, DataDir: src}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ops := []workflow.Op{workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b1", Type: "agent", Name: "Summarize"}}}}
	res, err := srv.Rooms().Apply(ctx, "wf-backup", rooms.Identity{UserID: "ops", Role: protocol.RoleAdmin}, ops)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-res.Durable; err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx, nil); err != nil {
		t.Fatal(err)
	}

	cli := func(stdin []byte, args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := runWithInput(ctx, args, none, bytes.NewReader(stdin), &out, &errb); code != 0 {
			t.Fatalf("flowsync %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.String(), errb.String()
	}
	table, _ := cli(nil, "inspect", "--data-dir", src)
	if !strings.Contains(table, "wf-backup") || !strings.Contains(table, "1 workflows") {
		t.Fatalf("inspect:\n%s", table)
	}
	view, _ := cli(nil, "export", "--data-dir", src, "--workflow", "wf-backup")
	if !strings.Contains(view, `"Summarize"`) {
		t.Fatalf("export json:\n%s", view)
	}
	backup, _ := cli(nil, "export", "--data-dir", src, "--workflow", "wf-backup", "--format", "binary")
	file := filepath.Join(t.TempDir(), "wf-backup.bin")
	if err := os.WriteFile(file, []byte(backup), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(nil, "import", "--data-dir", dst, "--workflow", "wf-backup", "--in", file)
	cli([]byte(backup), "import", "--data-dir", dst, "--workflow", "wf-backup") // stdin, again: a join
	if restored, _ := cli(nil, "export", "--data-dir", dst, "--workflow", "wf-backup"); restored != view {
		t.Fatalf("restored:\n%s\nwant:\n%s", restored, view)
	}
	srv, err = server.New(server.Config{Dev: true, Store: server.StoreConfig{Kind: server.StoreBolt, DataDir: dst}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := srv.Rooms().View(ctx, "wf-backup")
	if err != nil || len(v.Blocks) != 1 || v.Blocks["b1"] == nil {
		t.Fatalf("served after restore: %+v, %v", v, err)
	}
	if err := srv.Shutdown(sctx, nil); err != nil {
		t.Fatal(err)
	}
}

func TestToolFlags(t *testing.T) {
	none := func(string) string { return "" }
	for _, args := range [][]string{
		{"export", "--data-dir", t.TempDir()},            // no --workflow
		{"import", "--data-dir", t.TempDir(), "--bogus"}, // unknown flag
		{"inspect", "extra"},
		{"inspect", "--data-dir", t.TempDir(), "--postgres-url", "postgres://127.0.0.1:1/x"}, // two stores
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, none, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"inspect", "--data-dir", t.TempDir()}, none, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no store") {
		t.Errorf("inspect of an empty directory: exit %d, %s", code, errb.String())
	}
	// FLOWSYNC_POSTGRES_URL with an explicit --data-dir names two stores too.
	pgEnv := func(k string) string {
		if k == "FLOWSYNC_POSTGRES_URL" {
			return "postgres://127.0.0.1:1/x"
		}
		return ""
	}
	errb.Reset()
	if code := run(context.Background(), []string{"export", "--workflow", "w", "--data-dir", t.TempDir()}, pgEnv, &out, &errb); code != 2 || !strings.Contains(errb.String(), "two stores") {
		t.Errorf("--data-dir with FLOWSYNC_POSTGRES_URL: exit %d, %s", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"import", "--workflow", "w", "--format", "xml", "--data-dir", t.TempDir()}, none, &out, &errb); code != 1 || !strings.Contains(errb.String(), "not binary or reference") {
		t.Errorf("import --format xml: exit %d, %s", code, errb.String())
	}
}
