package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/postgres"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
)

// Workflows lists what the tables hold per workflow (created, logged,
// snapshotted; deleted ones apart) with row counts and sizes, and counts
// log rows whose key no longer matches their bytes.
func TestWorkflowsListing(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	s := open(t, url)
	defer s.Close()
	clock := crdt.NewClock("r1")
	add := func(id string, blocks ...string) *workflow.Doc {
		doc := workflow.New()
		for _, b := range blocks {
			d, err := doc.Apply(clock.Now(time.Now().UnixMilli()), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: b, Type: "agent", Name: b}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Append(ctx, id, []storage.Delta{storage.NewDelta(d.Encode())}); err != nil {
				t.Fatal(err)
			}
		}
		return doc
	}
	add("logged", "a", "b")
	if _, err := s.Snapshot(ctx, "snapped", add("snapped", "c")); err != nil {
		t.Fatal(err)
	}
	add("gone", "d")
	if err := s.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	infos, tombs, err := s.Workflows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 || infos[0].ID != "empty" || infos[1].ID != "logged" || infos[2].ID != "snapped" {
		t.Fatalf("workflows: %+v", infos)
	}
	if w := infos[0]; w.Bytes() != 0 || w.LogRows != 0 || w.SnapshotVersion != 0 {
		t.Errorf("empty: %+v", w)
	}
	if w := infos[1]; w.LogRows != 2 || w.LogBytes == 0 || w.SnapshotBytes != 0 || w.SnapshotVersion != 0 || w.BadLogRows != 0 {
		t.Errorf("logged: %+v", w)
	}
	if w := infos[2]; w.LogRows != 0 || w.SnapshotBytes == 0 || w.SnapshotVersion != 1 {
		t.Errorf("snapped: %+v", w)
	}
	if len(tombs) != 1 || tombs[0].ID != "gone" || time.Since(tombs[0].DeletedAt) > time.Minute {
		t.Fatalf("tombstones: %+v", tombs)
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// One byte of one log row changes at rest.
	if _, err := conn.Exec(ctx, `UPDATE flowsync_log SET delta = set_byte(delta, octet_length(delta) - 1, get_byte(delta, octet_length(delta) - 1) # 1)
		WHERE workflow_id = 'logged' AND delta_hash = (SELECT delta_hash FROM flowsync_log WHERE workflow_id = 'logged' ORDER BY delta_hash LIMIT 1)`); err != nil {
		t.Fatal(err)
	}
	infos, _, err = s.Workflows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if infos[1].BadLogRows != 1 || infos[2].BadLogRows != 0 {
		t.Fatalf("after damage: %+v", infos)
	}
}

// A read-only store reads, refuses every write in the server, and does not
// create or migrate tables: on a database without them it fails with
// ErrSchema and leaves it empty.
func TestReadOnlyOpen(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	if _, err := postgres.Open(ctx, postgres.Config{URL: url, ReadOnly: true}); !errors.Is(err, postgres.ErrSchema) {
		t.Fatalf("read-only open of an empty schema: %v", err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("a read-only open created %d tables (%v)", tables, err)
	}

	rw := open(t, url)
	if err := rw.Create(ctx, "wf"); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	ro, err := postgres.Open(ctx, postgres.Config{URL: url, ReadOnly: true, MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if ok, err := ro.Exists(ctx, "wf"); err != nil || !ok {
		t.Fatalf("read-only Exists: %v %v", ok, err)
	}
	if err := ro.Create(ctx, "other"); err == nil {
		t.Fatal("a read-only store wrote")
	}

	if _, err := conn.Exec(ctx, `INSERT INTO flowsync_schema_migrations (version, name) VALUES (9999, '9999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, postgres.Config{URL: url, ReadOnly: true}); !errors.Is(err, postgres.ErrSchema) {
		t.Fatalf("read-only open of a newer layout: %v", err)
	}
}

// What the listing's transaction holds blocks no writer: with one open (a
// long listing of a large database), Create, Append, Snapshot and Delete
// of a listed workflow all commit.
func TestListingBlocksNoWriter(t *testing.T) {
	ctx := context.Background()
	url := pgtest.Schema(t)
	s := open(t, url)
	defer s.Close()
	doc := workflow.New()
	d, err := doc.Apply(crdt.NewClock("r1").Now(time.Now().UnixMilli()), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "a", Type: "agent", Name: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, "wf", []storage.Delta{storage.NewDelta(d.Encode())}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshot(ctx, "wf", doc); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, q := range []string{postgres.WorkflowsSQL, postgres.TombstonesSQL} {
		rows, err := tx.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}

	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d2, err := doc.Apply(crdt.NewClock("r2").Now(time.Now().UnixMilli()), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b", Type: "agent", Name: "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(wctx, "other"); err != nil {
		t.Fatalf("Create beside an open listing: %v", err)
	}
	if err := s.Append(wctx, "wf", []storage.Delta{storage.NewDelta(d2.Encode())}); err != nil {
		t.Fatalf("Append beside an open listing: %v", err)
	}
	if _, err := s.Snapshot(wctx, "wf", doc); err != nil {
		t.Fatalf("Snapshot beside an open listing: %v", err)
	}
	if err := s.Delete(wctx, "wf"); err != nil {
		t.Fatalf("Delete beside an open listing: %v", err)
	}
}
