package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/benchmarks/baseline"
	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage/postgres"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/storage/storagetest"
)

// BenchmarkLogGrowth plays b.N edits of sustained editing into the store
// (storagetest.Growth: 10 workflows, each writing every 10 ms the 10
// operations made meanwhile — 10,000 ops/s — and snapshotting every 10 s)
// and reports what the log cost: WAL bytes per operation (from
// pg_current_wal_lsn, which counts the whole server: run it on a quiet
// one), the log table's size (pg_total_relation_size, heap, index and
// TOAST) at the end and at its largest, its live and dead rows, its
// autovacuum runs, the store's own vacuums (vacuum.go), and the rows
// written. rows=per-op is the layout before
// batch rows (one row per operation, the server's autovacuum settings),
// rows=per-write the current one (one row per write, the log's own
// autovacuum settings of migration 0006), and
// rows=per-write/autovacuum=default the current rows with the server's;
// baseline=per-op-tx is the per-operation-transaction design
// (benchmarks/baseline: lock the workflow row, update it, insert the
// operation, commit) on FLOWSYNC_GROWTH_BASELINE_EDITS edits (default
// 50,000; it keeps every row and cannot reach the rate, so its figure per
// operation is what compares). FLOWSYNC_GROWTH_BLOCKS sets the blocks the
// edits spread over (default 4: a few blocks dragged and typed into).
//
//	nice -n 10 go test -run '^$' -bench LogGrowth -benchtime 1000000x -timeout 30m ./storage/postgres
func BenchmarkLogGrowth(b *testing.B) {
	blocks := envInt("FLOWSYNC_GROWTH_BLOCKS", 4)
	for _, c := range []struct {
		name           string
		perOp, resetAV bool
	}{
		{"rows=per-op", true, true},
		{"rows=per-write/autovacuum=default", false, true},
		{"rows=per-write", false, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			url := pgtest.Schema(b)
			// One row per operation makes a snapshot's read and trim
			// statements as long as the log: on a loaded machine they pass
			// the default statement timeout.
			s, err := postgres.Open(context.Background(), postgres.Config{URL: url, StatementTimeout: 5 * time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			conn := connect(b, url)
			if c.resetAV {
				// The layout before batch rows had the server's autovacuum
				// settings; migration 0006 sets the log's own.
				if _, err := conn.Exec(context.Background(), `ALTER TABLE flowsync_log RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold)`); err != nil {
					b.Fatal(err)
				}
			}
			g := storagetest.Growth{Edits: b.N, Workflows: 10, OpsPerWrite: 10, Interval: 10 * time.Millisecond,
				SnapshotEvery: 10 * time.Second, Blocks: blocks, PerOperation: c.perOp}
			var maxSize, maxDead int64
			sample := func(int64) {
				size, _, dead, _ := logTable(b, conn, "flowsync_log")
				maxSize, maxDead = max(maxSize, size), max(maxDead, dead)
			}
			lsn := walLSN(b, conn)
			b.ResetTimer()
			st := storagetest.PlayGrowth(b, s, g, max(b.N/20, 1), sample)
			b.StopTimer()
			wal := walSince(b, conn, lsn)
			size, live, dead, vacuums := logTable(b, conn, "flowsync_log")
			b.ReportMetric(float64(wal)/float64(st.Edits), "WAL-B/op")
			b.ReportMetric(float64(st.Rows), "rows-written")
			b.ReportMetric(float64(st.Snapshots), "snapshots")
			b.ReportMetric(float64(size)/1024, "table-KiB")
			b.ReportMetric(float64(max(maxSize, size))/1024, "table-max-KiB")
			b.ReportMetric(float64(live), "live-rows")
			b.ReportMetric(float64(max(maxDead, dead)), "dead-rows-max")
			b.ReportMetric(float64(vacuums), "autovacuums")
			b.ReportMetric(float64(postgres.VacuumRuns(s)), "store-vacuums")
			b.ReportMetric(float64(st.PayloadBytes)/float64(st.Edits), "payload-B/op")
		})
	}
	b.Run("baseline=per-op-tx", func(b *testing.B) {
		edits := min(b.N, envInt("FLOWSYNC_GROWTH_BASELINE_EDITS", 50_000))
		url := pgtest.Schema(b)
		conn := connect(b, url)
		ctx := context.Background()
		if _, err := conn.Exec(ctx, baseline.Schema); err != nil {
			b.Fatal(err)
		}
		const workflows = 10
		perWF := edits / workflows
		lsn := walLSN(b, conn)
		b.ResetTimer()
		var wg sync.WaitGroup
		errs := make(chan error, workflows)
		for w := range workflows {
			wg.Go(func() {
				c, err := pgx.Connect(ctx, url)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close(ctx)
				id := fmt.Sprint("growth-", w)
				if _, err := c.Exec(ctx, `INSERT INTO bench_workflow (id) VALUES ($1)`, id); err != nil {
					errs <- err
					return
				}
				doc, clock := workflow.New(), crdt.NewClock(crdt.ReplicaID(fmt.Sprintf("editor-%08x", w)))
				_, err = doc.Apply(clock.Now(1), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b", Type: "agent", Name: "B",
					SubBlocks: map[string]workflow.SubBlockInput{"systemPrompt": {ID: "systemPrompt", Type: "long-input", Value: ""}}}}})
				if err != nil {
					errs <- err
					return
				}
				for n := range perWF {
					var op workflow.Op = workflow.UpdatePosition{ID: "b", Position: workflow.Position{X: float64(n), Y: 1}}
					if n%2 == 1 {
						op = workflow.UpdateSubBlock{BlockID: "b", SubBlockID: "systemPrompt", Value: fmt.Sprintf("You are a helpful agent, take %d", n)}
					}
					d, err := doc.Apply(clock.Now(int64(n+2)), op)
					if err != nil {
						errs <- err
						return
					}
					// benchmarks/baseline Server.persist, statement for statement.
					err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
						var got string
						if err := tx.QueryRow(ctx, `SELECT id FROM bench_workflow WHERE id = $1 FOR UPDATE`, id).Scan(&got); err != nil {
							return err
						}
						if _, err := tx.Exec(ctx, `UPDATE bench_workflow SET updated_at = now() WHERE id = $1`, id); err != nil {
							return err
						}
						_, err := tx.Exec(ctx, `INSERT INTO bench_workflow_op (workflow_id, op_id, session_id, delta) VALUES ($1, $2, $3, $4)`,
							id, "op-"+strconv.Itoa(n), "0f3c9a1e-5b7d-4c2a-9e8f-1a2b3c4d5e6f", d.Encode())
						return err
					})
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		wal := walSince(b, conn, lsn)
		size, live, _, _ := logTable(b, conn, "bench_workflow_op")
		b.ReportMetric(float64(wal)/float64(perWF*workflows), "WAL-B/op")
		b.ReportMetric(float64(perWF*workflows), "rows-written")
		b.ReportMetric(float64(size)/1024, "table-KiB")
		b.ReportMetric(float64(live), "live-rows")
	})
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func connect(b *testing.B, url string) *pgx.Conn {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func walLSN(b *testing.B, conn *pgx.Conn) string {
	b.Helper()
	var lsn string
	if err := conn.QueryRow(context.Background(), `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		b.Fatal(err)
	}
	return lsn
}

func walSince(b *testing.B, conn *pgx.Conn, lsn string) int64 {
	b.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::int8`, lsn).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// logTable returns the table's total size (heap, indexes, TOAST), its
// live rows (counted), and its dead rows and autovacuum runs as the
// statistics collector last saw them.
func logTable(b *testing.B, conn *pgx.Conn, table string) (size, live, dead, vacuums int64) {
	b.Helper()
	ctx := context.Background()
	err := conn.QueryRow(ctx, `SELECT pg_total_relation_size(c.oid), coalesce(s.n_dead_tup, 0), coalesce(s.autovacuum_count, 0)
FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = to_regclass($1)`, table).Scan(&size, &dead, &vacuums)
	if err != nil {
		b.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&live); err != nil {
		b.Fatal(err)
	}
	return size, live, dead, vacuums
}
