package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/postgres"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/storage/storagetest"
)

// Snapshots that trimmed VacuumAfter rows vacuum the log, and Close waits
// for that vacuum; fewer trims do not.
func TestTrimsVacuumTheLog(t *testing.T) {
	s := open(t, pgtest.Schema(t))
	ctx := context.Background()
	_, deltas := storagetest.Edits(t, "r1", postgres.VacuumAfter+10)
	trim := func(wf string, rows []storage.Delta) {
		if err := s.Append(ctx, wf, rows); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Snapshot(ctx, wf, workflow.New()); err != nil {
			t.Fatal(err)
		}
	}
	trim("wf-a", deltas[:postgres.VacuumAfter-1])
	s.Close()
	if n := postgres.VacuumRuns(s); n != 0 {
		t.Fatalf("%d vacuums after %d trimmed rows, want 0", n, postgres.VacuumAfter-1)
	}
	s = open(t, pgtest.Schema(t))
	for i := 0; i < len(deltas); i += 500 {
		trim(fmt.Sprint("wf-", i), deltas[i:min(i+500, len(deltas))])
	}
	s.Close()
	if n := postgres.VacuumRuns(s); n != 1 {
		t.Fatalf("%d vacuums after %d trimmed rows, want 1", n, len(deltas))
	}
}
