package rooms

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

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
	mu    sync.Mutex
	sent  map[string]time.Time
	lat   []time.Duration
	nacks []string
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
		return true
	}
	for _, id := range f.(*protocol.Durable).OpIDs {
		m.lat = append(m.lat, now.Sub(m.sent[id]))
		delete(m.sent, id)
	}
	return true
}

// TestDurableLoad drives rooms in process at a sustained rate and reports
// SubmitDelta→Durable latency percentiles and store writes per 1,000
// operations (BENCHMARKS.md, "Storage"). Opt in:
//
//	FLOWSYNC_LOAD=postgres go test -run TestDurableLoad -v ./rooms
//	FLOWSYNC_LOAD=bolt FLOWSYNC_LOAD_RATE=10000 FLOWSYNC_LOAD_ROOMS=20 FLOWSYNC_LOAD_SECONDS=10 go test -run TestDurableLoad -v ./rooms
func TestDurableLoad(t *testing.T) {
	kind := os.Getenv("FLOWSYNC_LOAD")
	if kind == "" {
		t.Skip("set FLOWSYNC_LOAD=postgres or bolt to run the durable-ack load test")
	}
	atoi := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			return v
		}
		return def
	}
	rate, nRooms, secs := atoi("FLOWSYNC_LOAD_RATE", 10000), atoi("FLOWSYNC_LOAD_ROOMS", 20), atoi("FLOWSYNC_LOAD_SECONDS", 10)
	var store storage.Store
	switch kind {
	case "postgres":
		st, err := postgres.Open(context.Background(), postgres.Config{URL: pgtest.Schema(t)})
		if err != nil {
			t.Fatal(err)
		}
		store = st
	case "bolt":
		st, err := bolt.Open(bolt.Config{Path: t.TempDir() + "/load.db"})
		if err != nil {
			t.Fatal(err)
		}
		store = st
	default:
		t.Fatalf("FLOWSYNC_LOAD=%q", kind)
	}
	defer store.Close()
	minWrite, _ := time.ParseDuration(os.Getenv("FLOWSYNC_LOAD_MIN_WRITE_INTERVAL")) // 0: the default
	r := newRegistry(t, Config{MinWriteInterval: minWrite}, store)

	// Per room one member, one block, typical one-field deltas prepared
	// up front (the session decodes deltas before the room sees them).
	type roomLoad struct {
		rm     *Room
		m      *timingMember
		deltas []*workflow.Doc
		raws   [][]byte
	}
	perRoom := rate * secs / nRooms
	loads := make([]*roomLoad, nRooms)
	for i := range loads {
		m := &timingMember{fakeMember: *member(fmt.Sprint("m", i), fmt.Sprintf("editor-%08x", i)), sent: make(map[string]time.Time)}
		rm, err := r.Join(context.Background(), fmt.Sprintf("load-%d", i), m, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		doc, clock := workflow.New(), crdt.NewClock(m.id.ReplicaID)
		wall := time.Now().UnixMilli()
		l := &roomLoad{rm: rm, m: m}
		add := func(op workflow.Op) {
			d, err := doc.Apply(clock.Now(wall), op)
			if err != nil {
				t.Fatal(err)
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
	before := store.(storage.StatsReporter).Stats()
	var payload int
	for _, l := range loads {
		for _, raw := range l.raws[1:] {
			payload += len(raw)
		}
	}

	// Pace: every 5 ms each room submits its share.
	const tick = 5 * time.Millisecond
	per := max(1, rate*int(tick)/int(time.Second)/nRooms)
	start := time.Now()
	var wg sync.WaitGroup
	for _, l := range loads {
		wg.Go(func() {
			next := time.Now()
			for i := 1; i < len(l.deltas); {
				for k := 0; k < per && i < len(l.deltas); k, i = k+1, i+1 {
					id := "op-" + strconv.Itoa(i)
					l.m.mu.Lock()
					l.m.sent[id] = time.Now()
					l.m.mu.Unlock()
					l.rm.SubmitDelta(l.m, id, l.raws[i], l.deltas[i])
				}
				next = next.Add(tick)
				time.Sleep(time.Until(next))
			}
		})
	}
	// A first op to create each room's state is not timed.
	wg.Wait()
	sent := time.Since(start)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		done, nacks := 0, 0
		for _, l := range loads {
			l.m.mu.Lock()
			done += len(l.m.lat)
			nacks += len(l.m.nacks)
			if len(l.m.nacks) > 0 && nacks == len(l.m.nacks) {
				t.Logf("nack: %s", l.m.nacks[0])
			}
			l.m.mu.Unlock()
		}
		if done+nacks == nRooms*perRoom {
			if nacks > 0 {
				t.Fatalf("%d deltas refused", nacks)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d Durable after 60 s", done, nRooms*perRoom)
		}
	}
	after := store.(storage.StatsReporter).Stats()
	var lat []time.Duration
	for _, l := range loads {
		lat = append(lat, l.m.lat...)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	ops := len(lat)
	tx := after.Transactions - before.Transactions
	appends := after.Appends - before.Appends
	t.Logf("%s: MinWriteInterval %v, %d rooms, %d deltas in %v (%.0f deltas/s offered)", kind, r.cfg.MinWriteInterval, nRooms, ops, sent.Round(time.Millisecond), float64(ops)/sent.Seconds())
	t.Logf("durable ack latency: p50 %v  p90 %v  p99 %v  p99.9 %v  max %v", pct(0.5), pct(0.9), pct(0.99), pct(0.999), lat[len(lat)-1])
	t.Logf("write transactions: %d (%d appends, %d snapshots) = %.1f per 1,000 operations; %.1f deltas per append",
		tx, appends, after.Snapshots-before.Snapshots, float64(tx)*1000/float64(ops), float64(after.DeltasAppended-before.DeltasAppended)/float64(appends))
	t.Logf("bytes written: %.1f per operation (log payload %.1f + snapshots; delta payload %d bytes)",
		float64(after.BytesWritten-before.BytesWritten)/float64(ops), float64(payload)/float64(ops), payload)
}
