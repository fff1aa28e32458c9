package server_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/postgres"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/sync/cluster/clustertest"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/server"
)

// seedPostgres writes seedStore's workflows into a fresh schema and
// returns its URL.
func seedPostgres(t *testing.T) (string, time.Time) {
	t.Helper()
	url := pgtest.Schema(t)
	s, err := postgres.Open(context.Background(), postgres.Config{URL: url, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return url, seedStore(t, s)
}

func pgExec(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
}

// Inspect on Postgres reports what it reports on a data directory; a
// snapshot failing its checksum and a log row whose bytes changed at rest
// are each reported on their workflow, and Inspect fails.
func TestInspectPostgres(t *testing.T) {
	ctx := context.Background()
	url, at := seedPostgres(t)
	src := server.Source{PostgresURL: url}
	inv, err := server.Inspect(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]server.WorkflowSummary{}
	for _, w := range inv.Workflows {
		got[w.ID] = w
	}
	want := at.Format(time.RFC3339Nano)
	if w := got["logged"]; inv.Store != server.StorePostgres || len(inv.Workflows) != 3 || w.LogRows != 2 || w.Blocks != 2 || w.Bytes == 0 || w.SnapshotVersion != 0 || w.LastChange != want {
		t.Fatalf("logged: %+v (of %+v)", w, inv)
	}
	if w := got["snapped"]; w.LogRows != 0 || w.SnapshotVersion != 1 || w.Blocks != 1 || w.Bytes == 0 || w.LastChange != want {
		t.Fatalf("snapped: %+v", w)
	}
	if w := got["empty"]; w.Bytes != 0 || w.Blocks != 0 || w.LastChange != "" || w.Error != "" {
		t.Fatalf("empty: %+v", w)
	}
	if len(inv.Deleted) != 1 || inv.Deleted[0].ID != "gone" || inv.Deleted[0].DeletedAt.IsZero() {
		t.Fatalf("deleted: %+v", inv.Deleted)
	}

	flipLast := func(table, col, where string) {
		pgExec(t, url, `UPDATE `+table+` SET `+col+` = set_byte(`+col+`, octet_length(`+col+`) - 1, get_byte(`+col+`, octet_length(`+col+`) - 1) # 255) WHERE `+where)
	}
	flipLast("flowsync_snapshot", "state", "workflow_id = 'snapped'")
	flipLast("flowsync_log", "delta", "workflow_id = 'logged' AND delta_hash = (SELECT delta_hash FROM flowsync_log WHERE workflow_id = 'logged' ORDER BY delta_hash LIMIT 1)")
	inv, err = server.Inspect(ctx, src)
	if err == nil || inv == nil || len(inv.Workflows) != 3 {
		t.Fatalf("Inspect of a damaged database: %v, %+v", err, inv)
	}
	for _, w := range inv.Workflows {
		switch w.ID {
		case "snapped":
			if !strings.Contains(w.Error, "checksum") {
				t.Errorf("snapped: %q", w.Error)
			}
		case "logged":
			if !strings.Contains(w.Error, "1 of 2 log rows do not match their SHA-256 key") {
				t.Errorf("logged: %q", w.Error)
			}
		default:
			if w.Error != "" {
				t.Errorf("%s: %q", w.ID, w.Error)
			}
		}
	}
	if err := server.Export(ctx, &bytes.Buffer{}, src, "snapped", server.FormatJSON); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("export of the damaged workflow: %v", err)
	}
}

// The read-only tools neither create nor migrate tables: on a database
// without them they fail with postgres.ErrSchema, and a bad URL names
// itself without its password.
func TestPostgresToolsOnEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	if _, err := server.Inspect(ctx, server.Source{PostgresURL: url}); !errors.Is(err, postgres.ErrSchema) {
		t.Fatalf("inspect of an empty schema: %v", err)
	}
	if err := server.Export(ctx, &bytes.Buffer{}, server.Source{PostgresURL: url}, "wf", server.FormatJSON); !errors.Is(err, postgres.ErrSchema) {
		t.Fatalf("export from an empty schema: %v", err)
	}
	_, err := server.Inspect(ctx, server.Source{PostgresURL: "postgres://u:secret@127.0.0.1:1/x?connect_timeout=1"})
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable database: %v", err)
	}
}

// An import into the Postgres database of a running, clustered server
// reaches the open room on its periodic store reload (members receive it
// as a remote delta), and the room's own later edits and snapshots keep
// it: nothing the import wrote or the room wrote is lost.
func TestImportIntoLivePostgres(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	ns := clustertest.StartNATS(t, nil)
	cfg := server.Config{
		Dev: true, ShutdownTimeout: 5 * time.Second,
		Store:   server.StoreConfig{Kind: server.StorePostgres, PostgresURL: url},
		Cluster: server.ClusterConfig{NATSURL: ns.ClientURL(), NodeID: "n1"},
		Rooms:   rooms.Config{StoreRefreshInterval: 100 * time.Millisecond, SnapshotInterval: 50 * time.Millisecond},
	}
	srv, err := server.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() {
		stop()
		<-served
	}()
	apply := func(ops ...workflow.Op) {
		t.Helper()
		res, err := srv.Rooms().Apply(ctx, "live", backend, ops)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-res.Durable; err != nil {
			t.Fatal(err)
		}
	}
	apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "server-block", Type: "agent", Name: "Server"}}})
	member := joinRaw(t, "ws://"+ln.Addr().String()+"/v1/sync", "alice", "live")

	// A binary export of another replica's edit, joined in.
	other := workflow.New()
	if _, err := other.Apply(crdt.NewClock("offline").Now(time.Now().UnixMilli()), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "imported", Type: "api", Name: "Imported"}}}); err != nil {
		t.Fatal(err)
	}
	if err := server.Import(ctx, bytes.NewReader(other.Encode()), server.Source{PostgresURL: url}, "live", server.FormatBinary); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := srv.Rooms().View(ctx, "live")
		if err != nil {
			t.Fatal(err)
		}
		if v.Blocks["imported"] != nil && v.Blocks["server-block"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live room never merged the import: %v", v.Blocks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	member.until(func(f protocol.Frame) bool {
		rd, ok := f.(*protocol.RemoteDelta)
		if !ok {
			return false
		}
		d, err := workflow.Decode(rd.Delta, workflow.DeltaLimits)
		return err == nil && d.View().Blocks["imported"] != nil
	})
	apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "after", Type: "agent", Name: "After"}}})
	stop() // a graceful shutdown: the room's last snapshot
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	served <- nil
	var out bytes.Buffer
	if err := server.Export(ctx, &out, server.Source{PostgresURL: url}, "live", server.FormatReference); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{`"server-block"`, `"imported"`, `"after"`} {
		if !strings.Contains(out.String(), id) {
			t.Fatalf("stored after shutdown, no %s:\n%s", id, out.String())
		}
	}
}

// Without a cluster a room does not re-read the store on its own: an
// import shows once the workflow is loaded again (here: after the room
// went idle and unloaded).
func TestImportSeenOnNextLoadWithoutCluster(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	srv, err := server.New(server.Config{
		Dev: true, ShutdownTimeout: 5 * time.Second,
		Store: server.StoreConfig{Kind: server.StorePostgres, PostgresURL: url},
		Rooms: rooms.Config{IdleTimeout: 50 * time.Millisecond},
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx, nil)
	}()
	if v, err := srv.Rooms().View(ctx, "quiet"); err != nil || len(v.Blocks) != 0 {
		t.Fatalf("view: %+v %v", v, err)
	}
	ref := `{"blocks": {"b1": {"id": "b1", "type": "agent", "name": "Imported", "position": {"x": 1, "y": 2}}}, "edges": []}`
	if err := server.Import(ctx, strings.NewReader(ref), server.Source{PostgresURL: url}, "quiet", server.FormatReference); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.Rooms().Room("quiet") != nil {
		if time.Now().After(deadline) {
			t.Fatal("the idle room never unloaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, err := srv.Rooms().View(ctx, "quiet"); err != nil || v.Blocks["b1"] == nil || v.Blocks["b1"].Name != "Imported" {
		t.Fatalf("view after the next load: %+v %v", v, err)
	}
}

// The recipe for a node without a cluster: after an import, the admin
// API's "updated" event (Registry.SendEvent) makes the open room re-read
// the store, so its members receive the imported change right after the
// Event, as PROTOCOL.md promises for workflow-updated.
func TestUpdatedEventBringsImportToLiveRoom(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	srv, err := server.New(server.Config{
		Dev: true, ShutdownTimeout: 5 * time.Second,
		Store: server.StoreConfig{Kind: server.StorePostgres, PostgresURL: url},
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, ln) }()
	defer func() {
		stop()
		<-served
	}()
	member := joinRaw(t, "ws://"+ln.Addr().String()+"/v1/sync", "alice", "solo")
	ref := `{"blocks": {"b1": {"id": "b1", "type": "agent", "name": "Imported", "position": {"x": 1, "y": 2}}}}`
	if err := server.Import(ctx, strings.NewReader(ref), server.Source{PostgresURL: url}, "solo", server.FormatReference); err != nil {
		t.Fatal(err)
	}
	if n, live := srv.Rooms().SendEvent(ctx, "solo", protocol.EventWorkflowUpdated, "imported"); !live || n != 1 {
		t.Fatalf("event: %d members, live %v", n, live)
	}
	member.until(func(f protocol.Frame) bool {
		e, ok := f.(*protocol.Event)
		return ok && e.Kind == protocol.EventWorkflowUpdated
	})
	member.until(func(f protocol.Frame) bool {
		rd, ok := f.(*protocol.RemoteDelta)
		if !ok {
			return false
		}
		d, err := workflow.Decode(rd.Delta, workflow.DeltaLimits)
		return err == nil && d.View().Blocks["b1"] != nil
	})
}
