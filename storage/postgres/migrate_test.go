package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/postgres"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/storage/storagetest"
)

// A log written before rows became batches (layout 5: one row per
// operation, no ops column) must load after the upgrade, take batch rows
// next to its own, and be trimmed by a snapshot like them.
func TestMigrationKeepsPerOperationLog(t *testing.T) {
	url := pgtest.Schema(t)
	ctx := context.Background()
	if err := postgres.MigrateTo(ctx, url, 5); err != nil {
		t.Fatal(err)
	}
	want, deltas := storagetest.Edits(t, "r1", 10)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, d := range deltas[:6] {
		h := d.Hash()
		if _, err := conn.Exec(ctx, `INSERT INTO flowsync_log (workflow_id, delta_hash, delta) VALUES ('wf', $1, $2)`, h[:], d.Bytes()); err != nil {
			t.Fatalf("writing a row of the old shape: %v", err)
		}
	}

	s := open(t, url) // applies 0006
	defer s.Close()
	var ops []int32
	rows, err := conn.Query(ctx, `SELECT ops FROM flowsync_log WHERE workflow_id = 'wf'`)
	if err != nil {
		t.Fatalf("reading the ops column after the upgrade: %v", err)
	}
	if ops, err = pgx.CollectRows(rows, pgx.RowTo[int32]); err != nil {
		t.Fatal(err)
	}
	if len(ops) != 6 {
		t.Fatalf("%d rows after the upgrade, want 6", len(ops))
	}
	for _, n := range ops {
		if n != 1 {
			t.Fatalf("an old row covers %d operations after the upgrade, want 1", n)
		}
	}
	if err := s.Append(ctx, "wf", []storage.Delta{storagetest.Batch(t, deltas[6:])}); err != nil {
		t.Fatal(err)
	}
	var batchOps int32
	if err := conn.QueryRow(ctx, `SELECT max(ops) FROM flowsync_log WHERE workflow_id = 'wf'`).Scan(&batchOps); err != nil || batchOps != 4 {
		t.Fatalf("the batch row covers %d operations (err %v), want 4", batchOps, err)
	}
	got, err := s.Load(ctx, "wf")
	if err != nil || !got.Equal(want) {
		t.Fatalf("old and batch rows do not load as their operations (err %v)", err)
	}
	if _, err := s.Snapshot(ctx, "wf", got); err != nil {
		t.Fatal(err)
	}
	if n, _ := count(t, s, "wf"); n != 0 {
		t.Fatalf("%d log rows after a snapshot, want 0", n)
	}
	if got, err := s.Load(ctx, "wf"); err != nil || !got.Equal(want) {
		t.Fatalf("the snapshot over old and batch rows lost something (err %v)", err)
	}
}
