package pgstats

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
)

func TestDiff(t *testing.T) {
	a := Snapshot{Database: "d", XactCommit: 100, TupInserted: 10, TupUpdated: 5, WALBytes: 1000, HasWAL: true, Backends: 1}
	b := Snapshot{Database: "d", XactCommit: 111, TupInserted: 30, TupUpdated: 15, TupDeleted: 5, WALBytes: 5000, HasWAL: true, Backends: 1}
	w := Diff(a, b, 20)
	// 11 commits, one of them the "after" read's own.
	if w.Transactions != 10 || w.TxPer1kOps != 500 || w.RowsPer1kOps != 1750 || w.WALBytes != 4000 || w.WALBytesPerOp != 200 {
		t.Fatalf("Diff = %+v", w)
	}
	if w.WritesPer1kOps != w.TxPer1kOps {
		t.Errorf("writes per 1k ops %v, want the commits' %v", w.WritesPer1kOps, w.TxPer1kOps)
	}
}

// TestReadCountsWrites checks against a real Postgres that a committed
// insert shows in the counters once its backend has exited.
func TestReadCountsWrites(t *testing.T) {
	url := pgtest.Schema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, err := Read(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"CREATE TABLE pgstats_probe (v int)", "INSERT INTO pgstats_probe SELECT generate_series(1, 50)"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx) // the backend publishes its counters as it exits
	var after Snapshot
	testutil.WaitFor(t, "Postgres to publish the inserts", func() bool {
		if after, err = Read(ctx, url); err != nil {
			t.Fatal(err)
		}
		return after.TupInserted-before.TupInserted >= 50
	})
	w := Diff(before, after, 50)
	if w.RowsInserted < 50 || w.Transactions < 2 || (after.HasWAL && w.WALBytes <= 0) {
		t.Fatalf("after 50 inserts in 2 transactions: %+v", w)
	}
}
