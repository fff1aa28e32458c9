package rooms

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/bolt"
	"github.com/flowsync/flowsync/storage/postgres"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/sync/protocol"
)

// timingMember records SubmitDelta→Durable latency per op.
type timingMember struct {
	fakeMember
	answered *countdown // every op id acked Durable, and every Nack
	mu       sync.Mutex
	sent     map[string]time.Time
	lat      []time.Duration
	nacks    []string
}

// countdown closes done once count answers have arrived.
type countdown struct {
	left atomic.Int64
	done chan struct{}
}

func newCountdown(count int) *countdown {
	c := &countdown{done: make(chan struct{})}
	c.left.Store(int64(count))
	return c
}

func (c *countdown) add(n int) {
	if left := c.left.Add(-int64(n)); left <= 0 && left+int64(n) > 0 {
		close(c.done)
	}
}

func (m *timingMember) Enqueue(b []byte) bool {
	t := protocol.FrameType(b[1]) // [type, body]: 0x92 then a positive fixint
	if t != protocol.FrameDurable && t != protocol.FrameNack {
		return true
	}
	now := time.Now()
	f, err := protocol.Decode(b, protocol.Limits{})
	if err != nil {
		panic(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := f.(*protocol.Nack); ok {
		m.nacks = append(m.nacks, n.Code.String()+": "+n.Message)
		m.answered.add(1)
		return true
	}
	ids := f.(*protocol.Durable).OpIDs
	for _, id := range ids {
		m.lat = append(m.lat, now.Sub(m.sent[id]))
		delete(m.sent, id)
	}
	m.answered.add(len(ids))
	return true
}

// BenchmarkDurableLoad drives rooms in process at a sustained rate on a
// real store and reports SubmitDelta→Durable latency percentiles, write
// transactions per 1,000 operations, deltas (log rows) and operations per
// append, bytes written per operation, and on Postgres the WAL bytes per
// operation and the log rows left at the end (BENCHMARKS.md, "Durable acks under sustained load"). One
// op is one delta offered: b.N deltas are spread over the rooms and paced
// at FLOWSYNC_LOAD_RATE deltas/s (default 10,000), so ns/op is the pacing,
// and the metrics are the result. The Postgres runs need a server (see
// storage/postgres/pgtest). FLOWSYNC_LOAD_MIN_WRITE_INTERVAL overrides
// MinWriteInterval. For the published figures, 10 s of load:
//
//	go test -run '^$' -bench 'DurableLoad/store=postgres/rooms=20' -benchtime 100000x ./rooms
func BenchmarkDurableLoad(b *testing.B) {
	for _, kind := range []string{"bolt", "postgres"} {
		for _, nRooms := range []int{1, 20} {
			b.Run(fmt.Sprintf("store=%s/rooms=%d", kind, nRooms), func(b *testing.B) {
				durableLoad(b, kind, nRooms)
			})
		}
	}
}

func durableLoad(b *testing.B, kind string, nRooms int) {
	rate := 10000
	if v, err := strconv.Atoi(os.Getenv("FLOWSYNC_LOAD_RATE")); err == nil && v > 0 {
		rate = v
	}
	var store storage.Store
	var pg *pgx.Conn // Postgres: WAL and log rows
	switch kind {
	case "postgres":
		url := pgtest.Schema(b)
		st, err := postgres.Open(context.Background(), postgres.Config{URL: url})
		if err != nil {
			b.Fatal(err)
		}
		store = st
		if pg, err = pgx.Connect(context.Background(), url); err != nil {
			b.Fatal(err)
		}
		defer pg.Close(context.Background())
	case "bolt":
		st, err := bolt.Open(bolt.Config{Path: b.TempDir() + "/load.db"})
		if err != nil {
			b.Fatal(err)
		}
		store = st
	}
	defer store.Close()
	minWrite, _ := time.ParseDuration(os.Getenv("FLOWSYNC_LOAD_MIN_WRITE_INTERVAL")) // 0: the default
	r := newRegistry(b, Config{MinWriteInterval: minWrite}, store)

	// Per room one member, one block, typical one-field deltas prepared
	// up front (the session decodes deltas before the room sees them).
	type roomLoad struct {
		rm     *Room
		m      *timingMember
		deltas []*workflow.Doc
		raws   [][]byte
	}
	perRoom := max(1, b.N/nRooms)
	answered := newCountdown(nRooms * perRoom)
	loads := make([]*roomLoad, nRooms)
	for i := range loads {
		m := &timingMember{fakeMember: *member(fmt.Sprint("m", i), fmt.Sprintf("editor-%08x", i)),
			answered: answered, sent: make(map[string]time.Time)}
		rm, err := r.Join(context.Background(), fmt.Sprintf("load-%d", i), m, JoinOptions{})
		if err != nil {
			b.Fatal(err)
		}
		doc, clock := workflow.New(), crdt.NewClock(m.id.ReplicaID)
		wall := time.Now().UnixMilli()
		l := &roomLoad{rm: rm, m: m}
		add := func(op workflow.Op) {
			d, err := doc.Apply(clock.Now(wall), op)
			if err != nil {
				b.Fatal(err)
			}
			l.deltas, l.raws = append(l.deltas, d), append(l.raws, d.Encode())
		}
		add(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b", Type: "agent", Name: "B",
			SubBlocks: map[string]workflow.SubBlockInput{"systemPrompt": {ID: "systemPrompt", Type: "long-input", Value: ""}}}}})
		for n := range perRoom {
			if n%2 == 0 {
				add(workflow.UpdatePosition{ID: "b", Position: workflow.Position{X: float64(n), Y: 1}})
			} else {
				add(workflow.UpdateSubBlock{BlockID: "b", SubBlockID: "systemPrompt", Value: fmt.Sprintf("You are a helpful agent, take %d", n)})
			}
		}
		loads[i] = l
	}
	// The block adds go first, outside the measure: the prompt is a text,
	// and its edits are refused until the server holds the record they
	// type into.
	setup := newCountdown(nRooms)
	for _, l := range loads {
		l.m.mu.Lock()
		l.m.answered, l.m.sent["op-0"] = setup, time.Now()
		l.m.mu.Unlock()
		l.rm.SubmitDelta(l.m, "op-0", l.raws[0], l.deltas[0])
	}
	select {
	case <-setup.done:
	case <-time.After(60 * time.Second):
		b.Fatal("the block adds were not all durable after 60 s")
	}
	for _, l := range loads {
		l.m.mu.Lock()
		if len(l.m.nacks) > 0 {
			b.Fatalf("the block add was refused: %s", l.m.nacks[0])
		}
		l.m.answered, l.m.lat = answered, nil
		l.m.mu.Unlock()
	}
	before := store.(storage.StatsReporter).Stats()
	var payload int
	for _, l := range loads {
		for _, raw := range l.raws[1:] {
			payload += len(raw)
		}
	}

	var lsn string
	if pg != nil {
		if err := pg.QueryRow(context.Background(), `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
			b.Fatal(err)
		}
	}

	// Pace: every 5 ms each room submits its share. A ticker, not sleeps:
	// a late tick does not push every later one back.
	const tick = 5 * time.Millisecond
	per := max(1, rate*int(tick)/int(time.Second)/nRooms)
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, l := range loads {
		wg.Go(func() {
			ticker := time.NewTicker(tick)
			defer ticker.Stop()
			for i := 1; i < len(l.deltas); <-ticker.C {
				for k := 0; k < per && i < len(l.deltas); k, i = k+1, i+1 {
					id := "op-" + strconv.Itoa(i)
					l.m.mu.Lock()
					l.m.sent[id] = time.Now()
					l.m.mu.Unlock()
					l.rm.SubmitDelta(l.m, id, l.raws[i], l.deltas[i])
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-answered.done:
	case <-time.After(60 * time.Second):
		b.Fatalf("not every delta was answered 60 s after the last was sent")
	}
	b.StopTimer()
	var lat []time.Duration
	for _, l := range loads {
		if len(l.m.nacks) > 0 {
			b.Fatalf("%d deltas refused, the first: %s", len(l.m.nacks), l.m.nacks[0])
		}
		lat = append(lat, l.m.lat...)
	}
	after := store.(storage.StatsReporter).Stats()
	slices.Sort(lat)
	ms := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))]) / float64(time.Millisecond)
	}
	ops := float64(len(lat))
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.9), "p90-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
	b.ReportMetric(ms(0.999), "p99.9-ms")
	b.ReportMetric(ms(1), "max-ms")
	b.ReportMetric(float64(after.Transactions-before.Transactions)*1000/ops, "tx/1000ops")
	if appends := after.Appends - before.Appends; appends > 0 {
		b.ReportMetric(float64(after.DeltasAppended-before.DeltasAppended)/float64(appends), "deltas/append")
	}
	b.ReportMetric(float64(after.BytesWritten-before.BytesWritten)/ops, "written-B/op")
	b.ReportMetric(float64(payload)/ops, "payload-B/op")
	if appends := after.Appends - before.Appends; appends > 0 {
		b.ReportMetric(float64(after.OpsAppended-before.OpsAppended)/float64(appends), "ops/append")
	}
	if pg != nil {
		// pg_current_wal_lsn counts the whole server: a quiet one gives
		// this run's WAL; rows are this schema's.
		var wal, rows int64
		err := pg.QueryRow(context.Background(), `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::int8,
			(SELECT count(*) FROM flowsync_log)`, lsn).Scan(&wal, &rows)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(wal)/ops, "WAL-B/op")
		b.ReportMetric(float64(rows), "log-rows")
	}
}
