package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage/postgres"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/server"
)

// pgClient returns the path of a Postgres client program (pg_dump,
// pg_restore); without it the test is skipped, or fails under CI.
func pgClient(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed: %v", name, err)
		}
		t.Skipf("%s is not installed: %v", name, err)
	}
	return path
}

func runProgram(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// cliRunner runs the flowsync command line in-process and fails the test
// on a non-zero exit.
func cliRunner(t *testing.T, getenv func(string) string) func(stdin []byte, args ...string) string {
	return func(stdin []byte, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := runWithInput(context.Background(), args, getenv, bytes.NewReader(stdin), &out, &errb); code != 0 {
			t.Fatalf("flowsync %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.String()
	}
}

// writeWorkflows runs a server on the Postgres database at url that
// writes three workflows (one with a loop container and a variable) and
// deletes a fourth, then stops.
func writeWorkflows(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	srv, err := server.New(server.Config{Dev: true, Store: server.StoreConfig{Kind: server.StorePostgres, PostgresURL: url}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := rooms.Identity{UserID: "ops", Role: protocol.RoleAdmin}
	apply := func(id string, ops ...workflow.Op) {
		t.Helper()
		res, err := srv.Rooms().Apply(ctx, id, admin, ops)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-res.Durable; err != nil {
			t.Fatal(err)
		}
	}
	apply("wf-a", workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{
		{ID: "start", Type: "starter", Name: "Start", Position: &workflow.Position{X: 0, Y: 0}},
		{ID: "l1", Type: "loop", Name: "Loop 1", Position: &workflow.Position{X: 200, Y: 0}},
		{ID: "agent", Type: "agent", Name: "Summarize", Position: &workflow.Position{X: 20, Y: 40}, Data: map[string]any{"parentId": "l1", "extent": "parent"},
			SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "Summarize {{input}}"}}},
	}, Edges: []workflow.EdgeInput{{ID: "e1", Source: "start", Target: "l1"}}},
		workflow.AddVariable{ID: "v1", VarName: "limit", Type: "number", Value: 3.0})
	apply("wf-b", workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b1", Type: "agent", Name: "B"}}})
	apply("wf-c", workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "c1", Type: "api", Name: "C"}}})
	apply("wf-gone", workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "g1", Type: "agent", Name: "G"}}})
	if err := srv.Rooms().DeleteWorkflow(ctx, "wf-gone"); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx, nil); err != nil {
		t.Fatal(err)
	}
}

// sameStores fails unless the Postgres databases at a and b list the same
// workflows and tombstones and every workflow loads to the same document.
func sameStores(t *testing.T, a, b string) {
	t.Helper()
	ctx := context.Background()
	open := func(url string) *postgres.Store {
		s, err := postgres.Open(ctx, postgres.Config{URL: url, ReadOnly: true, MaxConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	sa, sb := open(a), open(b)
	wa, ta, err := sa.Workflows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wb, tb, err := sb.Workflows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(wa) == 0 || !reflect.DeepEqual(wa, wb) || !reflect.DeepEqual(ta, tb) {
		t.Fatalf("listings differ:\n%+v %+v\n%+v %+v", wa, ta, wb, tb)
	}
	for _, w := range wa {
		da, err := sa.Load(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		db, err := sb.Load(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !da.Equal(db) {
			t.Fatalf("workflow %s loads differently after the restore", w.ID)
		}
	}
}

// The Postgres backup and restore recipe of docs/DEPLOYMENT.md, literally:
// a server writes workflows; pg_dump of the whole database and of the
// flowsync tables alone, each restored with pg_restore into a new
// database, holds the same rows and loads the same documents; `flowsync
// inspect` verifies the restored database and a server started on it
// serves the workflows. Then the per-workflow recipe: export (binary and
// reference) from the old database, import into another one.
func TestPostgresBackupRestoreRecipe(t *testing.T) {
	pgDump, pgRestore := pgClient(t, "pg_dump"), pgClient(t, "pg_restore")
	src := pgtest.Database(t)
	writeWorkflows(t, src)
	dir := t.TempDir()
	none := func(string) string { return "" }
	cli := cliRunner(t, none)

	for _, tc := range []struct {
		name string
		dump []string
	}{
		{"database", nil},
		{"tables", []string{"--table=flowsync_*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.name+".dump")
			runProgram(t, pgDump, append(append([]string{"--format=custom", "--file=" + file}, tc.dump...), src)...)
			dst := pgtest.Database(t) // the recipe's createdb
			runProgram(t, pgRestore, "--no-owner", "--exit-on-error", "--dbname="+dst, file)
			sameStores(t, src, dst)

			table := cli(nil, "inspect", "--postgres-url", dst)
			for _, s := range []string{"3 workflows, 1 deleted", "wf-a", "wf-b", "wf-c", "wf-gone"} {
				if !strings.Contains(table, s) {
					t.Fatalf("inspect of the restored database, no %q:\n%s", s, table)
				}
			}
			if strings.Contains(table, "ERROR") || strings.Contains(table, "xxxxx") {
				t.Fatalf("inspect:\n%s", table)
			}
			srv, err := server.New(server.Config{Dev: true, Store: server.StoreConfig{Kind: server.StorePostgres, PostgresURL: dst}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			v, err := srv.Rooms().View(context.Background(), "wf-a")
			if err != nil || len(v.Blocks) != 3 || v.Blocks["agent"] == nil || v.Loops["l1"] == nil || len(v.Variables) != 1 {
				t.Fatalf("served after the restore: %+v, %v", v, err)
			}
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx, nil); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("per-workflow", func(t *testing.T) {
		dst := pgtest.Database(t)
		view := cli(nil, "export", "--postgres-url", src, "--workflow", "wf-a")
		bin := cli(nil, "export", "--postgres-url", src, "--workflow", "wf-a", "--format", "binary")
		file := filepath.Join(dir, "wf-a.bin")
		if err := os.WriteFile(file, []byte(bin), 0o600); err != nil {
			t.Fatal(err)
		}
		cli(nil, "import", "--postgres-url", dst, "--workflow", "wf-a", "--in", file) // creates the tables
		cli([]byte(bin), "import", "--postgres-url", dst, "--workflow", "wf-a")       // again, from stdin: a join
		if got := cli(nil, "export", "--postgres-url", dst, "--workflow", "wf-a"); got != view {
			t.Fatalf("restored view:\n%s\nwant:\n%s", got, view)
		}
		ref := cli(nil, "export", "--postgres-url", src, "--workflow", "wf-a", "--format", "reference")
		cli([]byte(ref), "import", "--postgres-url", dst, "--workflow", "wf-a-copy", "--format", "reference")
		if got := cli(nil, "export", "--postgres-url", dst, "--workflow", "wf-a-copy", "--format", "reference"); got != ref {
			t.Fatalf("reference state imported under another id:\n%s\nwant:\n%s", got, ref)
		}
		getenv := func(k string) string {
			if k == "FLOWSYNC_POSTGRES_URL" {
				return dst
			}
			return ""
		}
		table := cliRunner(t, getenv)(nil, "inspect")
		if !strings.Contains(table, "2 workflows, 0 deleted") {
			t.Fatalf("inspect through FLOWSYNC_POSTGRES_URL:\n%s", table)
		}
	})
}
