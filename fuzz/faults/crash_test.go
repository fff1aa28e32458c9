package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flowsync/flowsync/sync/protocol"
)

const crashEditors = 4

// crashCycles: four editors write their own blocks fast while the node is
// SIGKILLed FLOWSYNC_CRASH_CYCLES times (default 10; 3 with -short) at
// random moments; after each kill the store must load and hold every
// delta acknowledged as durable, and the node restarts on the same
// address. Snapshots run back to back, so many kills land during a
// snapshot write (counted from the node's debug log).
func crashCycles(t *testing.T, d *Deployment, cycles int) {
	seed := campaignSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	n, st := d.Nodes[0], d.Stores[0]
	wf := fmt.Sprintf("wf-crash-%d", seed%1_000_000)
	var eds []*Editor
	for i := range crashEditors {
		eds = append(eds, NewEditor(t, EditorConfig{Name: fmt.Sprintf("c%d", i), Workflow: wf, Target: n.Addr}))
	}
	stop := StartWriters(eds, seed, Disjoint, time.Millisecond, 5*time.Millisecond)
	midSnapshot, acked := 0, 0
	for cycle := 1; cycle <= cycles; cycle++ {
		time.Sleep(time.Duration(200+rng.IntN(1000)) * time.Millisecond)
		n.Kill()
		if n.MidSnapshot() {
			midSnapshot++
		}
		acks := TakeAcks(eds)
		stored, err := st.Load(wf)
		if err != nil {
			t.Fatalf("cycle %d: loading the document after the kill: %v (seed %d)", cycle, err, seed)
		}
		a, lost := CheckDurable("store "+st.Name, stored, acks, wf)
		for _, l := range lost {
			t.Errorf("cycle %d: %s", cycle, l)
		}
		if t.Failed() {
			t.Fatalf("durable-acked edits lost (seed %d)", seed)
		}
		acked = a
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	healed := time.Now()
	stop()
	t.Logf("%d kills, %d during a snapshot write; %d deltas durable-acked before the last kill, all stored", cycles, midSnapshot, acked)
	c := d.World(eds).Verify(healed, 30*time.Second)
	c.Scenario, c.Seed, c.Kills = "crash-"+st.Name, seed, cycles
	c.Report(t)
}

func crashCyclesFromEnv(def int) int {
	if v, err := strconv.Atoi(os.Getenv("FLOWSYNC_CRASH_CYCLES")); err == nil && v > 0 {
		return v
	}
	if testing.Short() {
		return 3
	}
	return def
}

// TestCrashPostgres: kills against Postgres, snapshots back to back (1 ms
// interval, 5 ms max delay).
func TestCrashPostgres(t *testing.T) {
	d := SinglePostgres(t, "--log-level", "debug", "--snapshot-interval", "1ms", "--snapshot-max-delay", "5ms")
	crashCycles(t, d, crashCyclesFromEnv(10))
}

// TestCrashBolt: the same with the embedded store (a third of the kills:
// each restart reopens the file).
func TestCrashBolt(t *testing.T) {
	d := SingleBolt(t, "--log-level", "debug", "--snapshot-interval", "5ms", "--snapshot-max-delay", "20ms")
	crashCycles(t, d, max(3, crashCyclesFromEnv(10)/3))
}

// TestPostgresOutage cuts the node off Postgres for 2–4 s while four
// editors write: relaying continues, /readyz says degraded, Durable acks
// stop; after the heal every edit made before it is stored within 20 s,
// /readyz is ready again, nothing is lost and no log row is written twice.
func TestPostgresOutage(t *testing.T) {
	seed := campaignSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	// Snapshots off (1 h) so that the log keeps every row and rows can be
	// counted.
	d := SinglePostgres(t, "--snapshot-interval", "1h", "--snapshot-max-delay", "1h")
	n, st := d.Nodes[0], d.Stores[0]
	wf := fmt.Sprintf("wf-outage-%d", seed%1_000_000)
	var eds []*Editor
	for i := range crashEditors {
		eds = append(eds, NewEditor(t, EditorConfig{Name: fmt.Sprintf("c%d", i), Workflow: wf, Target: n.Addr}))
	}
	stop := StartWriters(eds, seed, Disjoint, time.Millisecond, 5*time.Millisecond)
	defer stop()
	time.Sleep(time.Duration(500+rng.IntN(500)) * time.Millisecond)
	if code, body := n.Readyz(); code != 200 {
		t.Fatalf("readyz before the outage: %d %s", code, body)
	}

	n.Store.Cut()
	cutAt := time.Now()
	outage := time.Duration(2000+rng.IntN(2000)) * time.Millisecond
	t.Logf("cutting Postgres off for %v", outage)
	var degradedAfter time.Duration
	for degradedAfter == 0 {
		if code, body := n.Readyz(); code == 503 {
			if !strings.Contains(body, `"status":"degraded"`) {
				t.Fatalf("readyz during the outage: %s", body)
			}
			degradedAfter = time.Since(cutAt)
		} else if time.Since(cutAt) > outage {
			t.Fatalf("readyz still %d %v into the outage", code, outage)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Relays continue: what c0 sees of c1 keeps growing.
	blocksOf := func(e *Editor, prefix string) int {
		k := 0
		for id := range e.C.View().Blocks {
			if strings.HasPrefix(id, prefix) {
				k++
			}
		}
		return k
	}
	seenBefore := blocksOf(eds[0], "c1-")
	time.Sleep(500 * time.Millisecond)
	durableDuring := make([]int, len(eds))
	for i, e := range eds {
		durableDuring[i] = e.Tap.Frames(protocol.FrameDurable)
	}
	time.Sleep(outage - time.Since(cutAt))
	if seenAfter := blocksOf(eds[0], "c1-"); seenAfter <= seenBefore {
		t.Errorf("relaying stopped during the outage: c0 saw %d of c1's blocks, then %d", seenBefore, seenAfter)
	}
	for i, e := range eds {
		if k := e.Tap.Frames(protocol.FrameDurable); k != durableDuring[i] {
			t.Errorf("c%d: Durable frames went from %d to %d while Postgres was unreachable", i, durableDuring[i], k)
		}
		if e.C.Pending() == 0 {
			t.Errorf("c%d: nothing pending at the end of the outage", i)
		}
	}
	n.Store.Restore()
	healed := time.Now()
	opsAtHeal := make([]int, len(eds))
	for i, e := range eds {
		opsAtHeal[i] = len(e.Ops())
	}
	for {
		stored, err := st.Load(wf)
		all := err == nil
		for i, e := range eds {
			for _, op := range e.Ops()[:opsAtHeal[i]] {
				if all && !stored.Context().Covers(op.Context()) {
					all = false
				}
			}
		}
		code, _ := n.Readyz()
		if all && code == 200 {
			break
		}
		if time.Since(healed) > 20*time.Second {
			for _, p := range n.Problems(20) {
				t.Log(p)
			}
			t.Fatalf("20 s after the outage: readyz %d, load error %v, every edit made before the heal stored: %v", code, err, all)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("outage %v: readyz degraded after %v; every edit made before the heal stored %v after Postgres came back",
		outage, degradedAfter.Round(time.Millisecond), time.Since(healed).Round(time.Millisecond))
	inserted, err := n.Metric("flowsync_store_deltas_stored_total")
	if err != nil {
		t.Fatal(err)
	}
	if ready, err := n.Metric("flowsync_store_ready"); err != nil || ready != 1 {
		t.Errorf("flowsync_store_ready %v (%v) after recovery", ready, err)
	}
	stop()
	c := d.World(eds).Verify(healed, 30*time.Second)
	c.Scenario, c.Seed, c.Cuts = "postgres-outage", seed, 1
	c.Report(t)

	// No duplicates: one row per distinct delta, no more rows than edits,
	// and at least as many as the node counted as new (an append whose
	// COMMIT went through while the cut ate the reply is retried and
	// counted as already stored: more rows than counted).
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, st.PostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, distinct int
	if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT delta) FROM flowsync_log WHERE workflow_id = $1", wf).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	t.Logf("log rows %d (distinct %d), the node counted %d new rows, %d edits", rows, distinct, int(inserted), c.Ops)
	if rows != distinct || rows < int(inserted) || rows > c.Ops {
		t.Errorf("log rows %d, distinct deltas %d, rows the node inserted %d, edits %d", rows, distinct, int(inserted), c.Ops)
	}
}
