package cluster_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/cluster"
	"github.com/flowsync/flowsync/sync/cluster/clustertest"
)

// Test intervals: short so that tests finish in seconds. The live path is
// tested with anti-entropy effectively off.
const (
	testAE    = 100 * time.Millisecond
	noAE      = time.Hour
	testBeat  = 100 * time.Millisecond
	wfID      = "wf-1"
	editsEach = 60
)

// Three nodes on three routed servers, each hosting the same workflow and
// editing it; every delta travels once, live (anti-entropy is off), and
// all replicas converge.
func TestThreeNodesConverge(t *testing.T) {
	sd := seed(t)
	servers := clustertest.NATSCluster(t, "c", 3, nil)
	var ms []*member
	for i, s := range servers {
		ms = append(ms, newMember(t, fmt.Sprintf("n%d", i), s, sd+uint64(i), memberOpts{
			cfg: cluster.Config{AntiEntropyInterval: noAE, PresenceHeartbeat: testBeat}}))
	}
	for _, m := range ms {
		m.host(t, wfID)
	}
	waitPresence(t, wfID, ms...)

	// Hosting asks the peers for what they hold, and their answers arrive on
	// the inbox, where they count as repairs. Under load a peer may answer
	// after the first edits were made, so the answer carries an edit (one
	// fresh-check run saw it). One warm-up round brings every node past those
	// answers; the counters after it are the baseline.
	for _, m := range ms {
		m.edit(t, wfID)
	}
	testutil.WaitFor(t, "convergence of the warm-up round", func() bool { return converged(wfID, ms...) })
	base := make([]float64, len(ms))
	for i, m := range ms {
		base[i] = value(m.metrics.Repaired)
	}

	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() {
			for range editsEach {
				m.edit(t, wfID)
			}
		})
	}
	wg.Wait()
	testutil.WaitFor(t, "convergence", func() bool { return converged(wfID, ms...) })
	for i, m := range ms {
		if got := value(m.metrics.Repaired) - base[i]; got != 0 {
			t.Errorf("%s repaired %v deltas with anti-entropy off", m.name, got)
		}
		if value(m.metrics.Echoes) == 0 {
			t.Errorf("%s skipped no echo of its own deltas", m.name)
		}
	}
	if n := ms[0].mem.Doc(wfID).Store().NumDots(); n == 0 {
		t.Fatal("no edits happened")
	}
}

// 30% of every node's outbound messages (deltas, digests, requests,
// answers) are dropped: anti-entropy still brings every replica to the same
// state within a few intervals.
func TestDroppedMessagesRepaired(t *testing.T) {
	sd := seed(t)
	servers := clustertest.NATSCluster(t, "c", 3, nil)
	rng := rand.New(rand.NewPCG(sd, 1))
	var mu sync.Mutex
	var dropping = true
	drop := func(*nats.Msg) bool {
		mu.Lock()
		defer mu.Unlock()
		return dropping && rng.Float64() < 0.3
	}
	var ms []*member
	for i, s := range servers {
		ms = append(ms, newMember(t, fmt.Sprintf("n%d", i), s, sd+uint64(i), memberOpts{
			cfg: cluster.Config{AntiEntropyInterval: testAE, PresenceHeartbeat: testBeat}, drop: drop}))
	}
	for _, m := range ms {
		m.host(t, wfID)
	}
	waitPresence(t, wfID, ms...)
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() {
			for range editsEach {
				m.edit(t, wfID)
			}
		})
	}
	wg.Wait()
	start := time.Now()
	testutil.WaitWithin(t, 20*time.Second, "repair by anti-entropy", func() bool { return converged(wfID, ms...) })
	repaired := 0.0
	for _, m := range ms {
		repaired += value(m.metrics.Repaired)
	}
	if repaired == 0 {
		t.Error("converged without a single anti-entropy repair: the drops did not bite")
	}
	t.Logf("converged %v after the last edit (anti-entropy interval %v, 30%% drops); %v deltas repaired",
		time.Since(start).Round(time.Millisecond), testAE, repaired)
}

// Two regions joined by a gateway; the link is cut while both edit, then
// healed: every replica converges, and the time from the heal is logged.
func TestRegionsPartitionHeal(t *testing.T) {
	sd := seed(t)
	ra, rb := startRegions(t, "A", "B")
	cfg := memberOpts{cfg: cluster.Config{AntiEntropyInterval: testAE, PresenceHeartbeat: testBeat}}
	a1, a2 := newMember(t, "a1", ra.server, sd, cfg), newMember(t, "a2", ra.server, sd+1, cfg)
	b1, b2 := newMember(t, "b1", rb.server, sd+2, cfg), newMember(t, "b2", rb.server, sd+3, cfg)
	all := []*member{a1, a2, b1, b2}
	for _, m := range all {
		m.host(t, wfID)
	}
	waitPresence(t, wfID, all...)
	for _, m := range all {
		m.edit(t, wfID)
	}
	testutil.WaitFor(t, "convergence before the cut", func() bool { return converged(wfID, all...) })

	ra.proxy.setCut(true)
	rb.proxy.setCut(true)
	waitGateways(t, ra, rb, 0)
	var wg sync.WaitGroup
	for _, m := range all {
		wg.Go(func() {
			for range 30 {
				m.edit(t, wfID)
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	testutil.WaitFor(t, "convergence inside each region", func() bool {
		return converged(wfID, a1, a2) && converged(wfID, b1, b2)
	})
	if converged(wfID, all...) {
		t.Fatal("regions converged through a cut link")
	}

	healed := time.Now()
	ra.proxy.setCut(false)
	rb.proxy.setCut(false)
	testutil.WaitWithin(t, 30*time.Second, "convergence after heal", func() bool { return converged(wfID, all...) })
	t.Logf("converged %v after the heal (gateway reconnect ~1s + anti-entropy interval %v)",
		time.Since(healed).Round(time.Millisecond), testAE)
}

// A delta whose writes lead the receiver's clock by less than MaxClockSkew is
// merged; one that leads by more is refused and counted, and stays out
// (anti-entropy offers it again and it is refused again).
func TestClockSkew(t *testing.T) {
	s := clustertest.StartNATS(t, nil)
	cfg := memberOpts{cfg: cluster.Config{AntiEntropyInterval: testAE, PresenceHeartbeat: testBeat, MaxClockSkew: time.Minute}}
	a, b := newMember(t, "a", s, 1, cfg), newMember(t, "b", s, 2, cfg)
	a.host(t, wfID)
	b.host(t, wfID)
	waitPresence(t, wfID, a, b)

	publishAt := func(varID string, lead time.Duration) {
		t.Helper()
		enc, err := a.mem.Edit(wfID, func(doc *workflow.Doc) (*workflow.Doc, error) {
			ts := crdt.Timestamp{Wall: time.Now().Add(lead).UnixMilli(), Replica: "r-a"}
			return doc.Prepare(ts, workflow.AddVariable{ID: varID, VarName: varID, Type: "plain"})
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.node.Publish(wfID, enc); err != nil {
			t.Fatal(err)
		}
	}
	publishAt("within", 30*time.Second)
	testutil.WaitWithin(t, 5*time.Second, "the delta within the bound", func() bool { return converged(wfID, a, b) })
	if got := value(b.metrics.SkewRefused); got != 0 {
		t.Fatalf("refused %v deltas within the bound", got)
	}

	publishAt("beyond", 10*time.Minute)
	testutil.WaitWithin(t, 5*time.Second, "a refusal", func() bool { return value(b.metrics.SkewRefused) >= 1 })
	// Anti-entropy offers it again, and it is refused again.
	testutil.WaitFor(t, "the delta offered again by anti-entropy and refused", func() bool { return value(b.metrics.SkewRefused) >= 3 })
	waitRounds(t, 2, a, b)
	if hasVariable(b.mem.Doc(wfID), "beyond") {
		t.Fatal("a delta beyond the skew bound was merged")
	}
	if !hasVariable(b.mem.Doc(wfID), "within") {
		t.Fatal("the delta within the bound is gone")
	}
	t.Logf("refusals counted: %v", value(b.metrics.SkewRefused))
}

func hasVariable(d *workflow.Doc, id string) bool {
	return d != nil && len(d.Store().Get(workflow.Key{Kind: workflow.KindVariable, ID: id})) > 0
}

// Region B is cut off when A deletes the workflow and keeps editing it;
// after the heal B learns the deletion, and neither region brings the
// document back.
func TestDeletedStaysDeleted(t *testing.T) {
	sd := seed(t)
	ra, rb := startRegions(t, "A", "B")
	cfg := memberOpts{cfg: cluster.Config{AntiEntropyInterval: testAE, PresenceHeartbeat: testBeat}}
	a1, a2 := newMember(t, "a1", ra.server, sd, cfg), newMember(t, "a2", ra.server, sd+1, cfg)
	b1, b2 := newMember(t, "b1", rb.server, sd+2, cfg), newMember(t, "b2", rb.server, sd+3, cfg)
	all := []*member{a1, a2, b1, b2}
	for _, m := range all {
		m.host(t, wfID)
	}
	waitPresence(t, wfID, all...)
	for _, m := range all {
		m.edit(t, wfID)
	}
	testutil.WaitFor(t, "convergence before the cut", func() bool { return converged(wfID, all...) })

	ra.proxy.setCut(true)
	rb.proxy.setCut(true)
	waitGateways(t, ra, rb, 0)
	if err := a1.node.Delete(wfID); err != nil {
		t.Fatal(err)
	}
	testutil.WaitWithin(t, 5*time.Second, "a2 learns the deletion", func() bool { return a2.mem.Deleted(wfID) })
	for range 20 { // B never heard of it
		b1.edit(t, wfID)
		b2.edit(t, wfID)
		time.Sleep(10 * time.Millisecond)
	}
	if b1.mem.Deleted(wfID) || b2.mem.Deleted(wfID) {
		t.Fatal("B learned the deletion through a cut link")
	}

	healed := time.Now()
	ra.proxy.setCut(false)
	rb.proxy.setCut(false)
	testutil.WaitWithin(t, 30*time.Second, "B learns the deletion", func() bool {
		return b1.mem.Deleted(wfID) && b2.mem.Deleted(wfID)
	})
	t.Logf("B learned the deletion %v after the heal", time.Since(healed).Round(time.Millisecond))
	for _, m := range []*member{b1, b2} {
		if m.edit(t, wfID) {
			t.Errorf("%s still edits a deleted workflow", m.name)
		}
		if len(m.node.Hosted()) != 0 {
			t.Errorf("%s still hosts %v", m.name, m.node.Hosted())
		}
		if err := m.node.Host(wfID); err == nil {
			t.Errorf("%s: Host of a deleted workflow succeeded", m.name)
		}
	}
	waitRounds(t, 5, all...) // rounds in which a resurrection could happen
	for _, m := range all {
		if d := m.mem.Doc(wfID); d != nil {
			t.Errorf("%s holds the deleted workflow again (%d values)", m.name, d.Store().NumDots())
		}
		if !m.mem.Deleted(wfID) {
			t.Errorf("%s does not know the workflow is deleted", m.name)
		}
	}
	learned := value(b1.metrics.Tombstones) + value(b2.metrics.Tombstones)
	if learned == 0 {
		t.Error("no tombstone counted in B")
	}
}

// A node that comes back with a stale copy (it never heard the deletion)
// hears the tombstone as soon as it hosts the workflow again.
func TestStaleNodeHearsTombstone(t *testing.T) {
	s := clustertest.StartNATS(t, nil)
	cfg := memberOpts{cfg: cluster.Config{AntiEntropyInterval: testAE, PresenceHeartbeat: testBeat}}
	a := newMember(t, "a", s, 1, cfg)
	a.host(t, wfID)
	a.edit(t, wfID)
	if err := a.node.Delete(wfID); err != nil {
		t.Fatal(err)
	}
	// c was offline: it holds a copy made before the deletion.
	c := newMember(t, "c", s, 3, cfg)
	if _, err := c.mem.Edit(wfID, func(doc *workflow.Doc) (*workflow.Doc, error) {
		return doc.Prepare(c.clock.Now(time.Now().UnixMilli()), workflow.AddVariable{ID: "stale", VarName: "stale", Type: "plain"})
	}); err != nil {
		t.Fatal(err)
	}
	c.host(t, wfID)
	testutil.WaitWithin(t, 5*time.Second, "the stale node learns the deletion", func() bool { return c.mem.Deleted(wfID) })
	if a.mem.Doc(wfID) != nil {
		t.Fatal("the deleting node got the document back")
	}
}

// Presence crosses nodes, and a node's entries expire when it stops
// heart-beating (closed without withdrawing).
func TestPresenceExpires(t *testing.T) {
	s := clustertest.StartNATS(t, nil)
	cfg := memberOpts{cfg: cluster.Config{AntiEntropyInterval: noAE, PresenceHeartbeat: testBeat}}
	a, b := newMember(t, "a", s, 1, cfg), newMember(t, "b", s, 2, cfg)
	a.host(t, wfID)
	b.host(t, wfID)
	waitPresence(t, wfID, a, b)
	if got := string(b.mem.Presence(wfID)["a"]); got != "here:a" {
		t.Fatalf("b's sink has %q for a", got)
	}
	_ = a.node.Close() // no withdrawal: only expiry removes it
	testutil.WaitWithin(t, 5*time.Second, "expiry", func() bool { return len(b.node.Presence(wfID)) == 0 })
	if len(b.mem.Presence(wfID)) != 0 {
		t.Fatal("the sink was not told of the expiry")
	}
}

// No goroutine outlives Close (and the connection and server it used).
func TestNoGoroutineLeak(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Run("work", func(t *testing.T) {
		servers := clustertest.NATSCluster(t, "c", 2, nil)
		cfg := memberOpts{cfg: cluster.Config{AntiEntropyInterval: testAE, PresenceHeartbeat: testBeat}}
		a, b := newMember(t, "a", servers[0], 1, cfg), newMember(t, "b", servers[1], 2, cfg)
		a.host(t, wfID)
		b.host(t, wfID)
		waitPresence(t, wfID, a, b)
		for range 10 {
			a.edit(t, wfID)
			b.edit(t, wfID)
		}
		testutil.WaitFor(t, "convergence", func() bool { return converged(wfID, a, b) })
		b.node.Release(wfID)
	})
	goleak.VerifyNone(t, before)
}
