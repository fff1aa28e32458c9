package postgres_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/postgres"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/storage/storagetest"
)

// urls remembers which schema each store of a test opened, for peers and
// row counts.
var urls sync.Map // *postgres.Store → string

func open(t testing.TB, url string) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, postgres.Config{URL: url, MaxConns: 4})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	urls.Store(s, url)
	return s
}

func count(t *testing.T, s storage.Store, wf string) (logRows, snapshots int) {
	t.Helper()
	u, _ := urls.Load(s)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u.(string))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM flowsync_log WHERE workflow_id = $1),
		(SELECT count(*) FROM flowsync_snapshot WHERE workflow_id = $1)`, wf).Scan(&logRows, &snapshots)
	if err != nil {
		t.Fatal(err)
	}
	return logRows, snapshots
}

func TestConformance(t *testing.T) {
	pgtest.Schema(t) // skip or fail early when there is no server
	storagetest.RunWithOptions(t, func() storage.Store {
		return open(t, pgtest.Schema(t))
	}, storagetest.Options{
		Peer: func(t *testing.T, s storage.Store) storage.Store {
			u, _ := urls.Load(s)
			return open(t, u.(string))
		},
		Count: count,
	})
}

// Several nodes starting at once apply the migrations once.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.Schema(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s := open(t, url)
			s.Close()
		})
	}
	wg.Wait()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM flowsync_schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	all, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(all) {
		t.Fatalf("schema_migrations has %d rows, want one per migration (%d)", n, len(all))
	}
}

func TestWorkflowIDLimits(t *testing.T) {
	s := open(t, pgtest.Schema(t))
	defer s.Close()
	ctx := context.Background()
	for _, id := range []string{"", strings.Repeat("x", storage.MaxWorkflowIDLen+1), "\xff"} {
		if _, err := s.Load(ctx, id); !errors.Is(err, storage.ErrInvalidID) {
			t.Errorf("Load(%d bytes): err = %v, want ErrInvalidID", len(id), err)
		}
	}
	// Ids are bind parameters: quotes and SQL are just bytes.
	_, deltas := storagetest.Edits(t, "r1", 2)
	id := `x'); DROP TABLE flowsync_log; --` + strings.Repeat("é", 100)
	if err := s.Append(ctx, id, deltas); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Load(ctx, id); err != nil || d.IsEmpty() {
		t.Fatalf("Load: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ctx := context.Background()
	for _, c := range []postgres.Config{
		{},
		{URL: "postgres://x/y", MaxConns: -1},
		{URL: "postgres://x/y", RetryMin: time.Second, RetryMax: time.Millisecond},
		{URL: "postgres://x/y", StatementTimeout: -time.Second},
	} {
		if _, err := postgres.Open(ctx, c); err == nil || !strings.Contains(err.Error(), "config") {
			t.Errorf("Open(%+v): err = %v, want a config error", c, err)
		}
	}
}

// A server that does not answer: Open gives up when ctx ends.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, postgres.Config{URL: "postgres://postgres@127.0.0.1:1/none?sslmode=disable",
		ConnectTimeout: 200 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
}
