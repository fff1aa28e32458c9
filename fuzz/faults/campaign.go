package faults

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flowsync/flowsync/storage"
)

// Scenario is a deployment shape the campaign breaks.
type Scenario uint8

const (
	// ScenarioBolt: one node with the embedded store; kills and client cuts.
	ScenarioBolt Scenario = 1 + iota
	// ScenarioPostgres: one node with Postgres; kills, client and store cuts.
	ScenarioPostgres
	// ScenarioCluster: three nodes over one Postgres and a routed NATS
	// cluster; kills, partitions (bus links, routes, store links), client
	// cuts and failovers.
	ScenarioCluster
	// ScenarioRegions: two regions of two nodes joined by gateways, a
	// Postgres each; gateway cuts, kills and restarts, client cuts and
	// failovers, and a deletion.
	ScenarioRegions
)

// Scenarios lists every scenario, in the order the campaign runs them.
var Scenarios = []Scenario{ScenarioBolt, ScenarioPostgres, ScenarioCluster, ScenarioRegions}

func (s Scenario) String() string {
	switch s {
	case ScenarioBolt:
		return "bolt"
	case ScenarioPostgres:
		return "postgres"
	case ScenarioCluster:
		return "cluster3"
	case ScenarioRegions:
		return "regions2"
	}
	return fmt.Sprintf("Scenario(%d)", uint8(s))
}

// CampaignConfig is one randomized run.
type CampaignConfig struct {
	Scenario Scenario
	Seed     uint64
	// Duration is how long faults are injected while the editors write.
	Duration time.Duration
	// Deadline bounds quiescence and convergence after the last heal.
	Deadline time.Duration
	Mix      Mix
	// Unconstrained allows fault schedules today's server is known to
	// mishandle: restarting a node of the region that deleted a workflow
	// before the other region heard of it. With false, no node of the
	// deleting region restarts after the deletion.
	Unconstrained bool
	// Strict: the checker also demands the client's deleted state (see
	// World.Strict).
	Strict bool
	// AntiEntropy is the nodes' anti-entropy interval. Default: 1 s.
	AntiEntropy time.Duration
}

// campaign is one run's moving parts.
type campaign struct {
	t   testing.TB
	cfg CampaignConfig
	rng *rand.Rand
	dep *Deployment
	eds []*Editor
	// editor i's region (failovers stay inside it)
	edRegion []int

	lost      []string // durable-acked deltas missing at a kill
	deleted   map[string]bool
	delRegion int // region that deleted, -1 none
	// restores are actions due later: a link restored, a node restarted.
	restores []restore
}

type restore struct {
	at time.Time
	do func()
}

// RunCampaign builds the scenario's deployment, has the editors write while
// faults are injected for cfg.Duration, heals everything, and returns the
// checker's verdict (with durable-acked edits lost at any kill included).
func RunCampaign(t testing.TB, cfg CampaignConfig) *Check {
	t.Helper()
	if cfg.AntiEntropy == 0 {
		cfg.AntiEntropy = time.Second
	}
	c := &campaign{t: t, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(cfg.Scenario))), deleted: map[string]bool{}, delRegion: -1}
	wfs := []string{fmt.Sprintf("wf-%d", cfg.Seed%1_000_000)}
	switch cfg.Scenario {
	case ScenarioBolt:
		c.dep = SingleBolt(t)
	case ScenarioPostgres:
		c.dep = SinglePostgres(t)
	case ScenarioCluster:
		c.dep = Cluster(t, 3, cfg.AntiEntropy)
	case ScenarioRegions:
		c.dep = TwoRegions(t, 2, cfg.AntiEntropy)
		wfs = append(wfs, wfs[0]+"-del")
	}
	regions := max(1, len(c.dep.Regions))
	perWF := 3
	if cfg.Scenario == ScenarioRegions {
		perWF = 2 // one per region
	}
	for _, wf := range wfs {
		for i := range perWF {
			r := i % regions
			nodes := c.dep.NodesOfRegion(r)
			n := nodes[c.rng.IntN(len(nodes))]
			name := fmt.Sprintf("ed%d", len(c.eds)+1)
			c.eds = append(c.eds, NewEditor(t, EditorConfig{Name: name, Workflow: wf, Target: n.Addr}))
			c.edRegion = append(c.edRegion, r)
		}
	}
	for _, e := range c.eds {
		if err := e.WaitLive(20 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	stopWriters := StartWriters(c.eds, cfg.Seed, cfg.Mix, 10*time.Millisecond, 30*time.Millisecond)

	end := time.Now().Add(cfg.Duration)
	for time.Now().Before(end) {
		c.runRestores(false)
		c.fault()
		time.Sleep(time.Duration(300+c.rng.IntN(900)) * time.Millisecond)
	}
	c.runRestores(true)
	c.dep.HealAll(t)
	for _, e := range c.eds {
		e.Link.Restore()
		e.Link.SetDelay(0)
	}
	healed := time.Now()
	stopWriters()

	kills, cuts := c.dep.Kills(), c.dep.Cuts()
	for _, e := range c.eds {
		cuts += int(e.Link.Cuts())
	}
	w := c.dep.World(c.eds)
	w.Deleted = c.deleted
	w.Strict = cfg.Strict
	check := w.Verify(healed, cfg.Deadline)
	check.Scenario, check.Seed, check.Kills, check.Cuts = cfg.Scenario.String()+"/"+cfg.Mix.String(), cfg.Seed, kills, cuts
	check.Lost = append(c.lost, check.Lost...)
	return check
}

// later schedules do after a random delay in [lo, hi).
func (c *campaign) later(lo, hi time.Duration, do func()) {
	d := lo + time.Duration(c.rng.Int64N(int64(hi-lo)))
	c.restores = append(c.restores, restore{at: time.Now().Add(d), do: do})
}

// runRestores runs the restores that are due (all of them with all).
func (c *campaign) runRestores(all bool) {
	kept := c.restores[:0]
	for _, r := range c.restores {
		if all || time.Now().After(r.at) {
			r.do()
		} else {
			kept = append(kept, r)
		}
	}
	c.restores = kept
}

// fault injects one random fault the scenario allows.
func (c *campaign) fault() {
	type action struct {
		weight int
		do     func()
	}
	d := c.dep
	var acts []action
	acts = append(acts,
		action{3, c.killNode},
		action{3, c.cutClient},
		action{1, c.delayClient},
	)
	if d.Nodes[0].Store != nil {
		acts = append(acts, action{2, c.cutStore})
	}
	if len(d.Nodes) > 1 {
		acts = append(acts, action{2, c.failover}, action{2, c.cutBus})
	}
	if c.cfg.Scenario == ScenarioCluster {
		acts = append(acts, action{2, c.isolateRoutes})
	}
	if c.cfg.Scenario == ScenarioRegions {
		acts = append(acts, action{3, c.cutGateways})
		if c.delRegion < 0 {
			acts = append(acts, action{1, c.deleteWorkflow})
		}
	}
	total := 0
	for _, a := range acts {
		total += a.weight
	}
	r := c.rng.IntN(total)
	for _, a := range acts {
		if r < a.weight {
			a.do()
			return
		}
		r -= a.weight
	}
}

func (c *campaign) killNode() {
	i := c.rng.IntN(len(c.dep.Nodes))
	n := c.dep.Nodes[i]
	if !n.Up() {
		return
	}
	region := c.dep.RegionOf[i]
	if !c.cfg.Unconstrained && c.delRegion == region {
		return // a restart of the deleting region loses the deletion today
	}
	n.Kill()
	c.checkDurable(i)
	c.later(0, 1500*time.Millisecond, func() {
		// The server exits at start when its store or NATS is unreachable.
		if n.Store != nil {
			n.Store.Restore()
		}
		if p := c.dep.BusLink(i); p != nil {
			p.Restore()
		}
		if err := n.Start(); err != nil {
			c.t.Error(err)
		}
	})
}

// checkDurable checks, right after node i was killed, that node i's store
// holds every delta acknowledged as durable so far to the editors that
// write to it (bolt can be opened only now, with its node down).
func (c *campaign) checkDurable(i int) {
	st := c.dep.Stores[c.dep.StoreOf[i]]
	wfs := map[string]bool{}
	var eds []*Editor
	for j, e := range c.eds {
		if c.edRegion[j] == c.dep.RegionOf[i] && !c.deleted[e.Workflow] {
			eds = append(eds, e)
			wfs[e.Workflow] = true
		}
	}
	// The acks are taken before the store is read: the nodes still up keep
	// acknowledging, and an ack that arrives while the read runs may be for
	// a commit the read's snapshot predates.
	acks := TakeAcks(eds)
	for wf := range wfs {
		stored, err := st.Load(wf)
		if errors.Is(err, storage.ErrDeleted) {
			continue
		}
		if err != nil {
			c.lost = append(c.lost, fmt.Sprintf("after killing %s: store %s: %v", c.dep.Nodes[i].Config.Name, st.Name, err))
		} else {
			_, lost := CheckDurable("after killing "+c.dep.Nodes[i].Config.Name+", store "+st.Name, stored, acks, wf)
			c.lost = append(c.lost, lost...)
		}
	}
}

func (c *campaign) cutClient() {
	e := c.eds[c.rng.IntN(len(c.eds))]
	if e.Link.IsCut() {
		return
	}
	e.Link.Cut()
	c.later(200*time.Millisecond, 2*time.Second, e.Link.Restore)
}

func (c *campaign) delayClient() {
	e := c.eds[c.rng.IntN(len(c.eds))]
	e.Link.SetDelay(time.Duration(20+c.rng.IntN(180)) * time.Millisecond)
	c.later(500*time.Millisecond, 3*time.Second, func() { e.Link.SetDelay(0) })
}

func (c *campaign) cutStore() {
	n := c.dep.Nodes[c.rng.IntN(len(c.dep.Nodes))]
	if n.Store.IsCut() {
		return
	}
	n.Store.Cut()
	c.later(500*time.Millisecond, 3*time.Second, n.Store.Restore)
}

func (c *campaign) failover() {
	j := c.rng.IntN(len(c.eds))
	nodes := c.dep.NodesOfRegion(c.edRegion[j])
	c.eds[j].Link.Retarget(nodes[c.rng.IntN(len(nodes))].Addr)
}

func (c *campaign) cutBus() {
	p := c.dep.BusLink(c.rng.IntN(len(c.dep.Nodes)))
	if p.IsCut() {
		return
	}
	p.Cut()
	c.later(500*time.Millisecond, 3*time.Second, p.Restore)
}

func (c *campaign) isolateRoutes() {
	r := c.dep.Regions[0]
	r.Isolate(c.rng.IntN(len(r.Servers)))
	c.later(500*time.Millisecond, 3*time.Second, r.HealRoutes)
}

func (c *campaign) cutGateways() {
	CutGateways(c.dep.Regions...)
	c.later(time.Second, 4*time.Second, func() { HealGateways(c.dep.Regions...) })
}

// deleteWorkflow deletes the second workflow through a random node's admin
// API.
func (c *campaign) deleteWorkflow() {
	i := c.rng.IntN(len(c.dep.Nodes))
	n := c.dep.Nodes[i]
	for _, m := range c.dep.NodesOfRegion(c.dep.RegionOf[i]) {
		if !m.Up() && !c.cfg.Unconstrained {
			return // a node of the region restarting after the deletion would not know it (today)
		}
	}
	if !n.Up() {
		return
	}
	wf := c.eds[len(c.eds)-1].Workflow
	if err := n.Delete(wf); err != nil {
		c.t.Logf("delete through %s: %v (retried by a later action)", n.Config.Name, err)
		return
	}
	c.deleted[wf] = true
	c.delRegion = c.dep.RegionOf[i]
}
