package faults

import (
	"fmt"
	"testing"
	"time"

	"github.com/flowsync/flowsync/storage/postgres/pgtest"
)

// Deployment is a set of nodes, the NATS regions joining them and the
// stores they write to, as the tests build them.
type Deployment struct {
	Nodes   []*Node
	Regions []*Region
	Stores  []Store
	// StoreOf is the store each node writes to (by node index).
	StoreOf []int
	// RegionOf is each node's region index (0 for a single region).
	RegionOf []int
}

// SingleBolt is one node with the embedded store.
func SingleBolt(t testing.TB, args ...string) *Deployment {
	t.Helper()
	dir := t.TempDir()
	n := StartNode(t, NodeConfig{Name: "node", DataDir: dir, Args: args})
	return &Deployment{Nodes: []*Node{n}, Stores: []Store{{Name: "bolt", DataDir: dir}}, StoreOf: []int{0}, RegionOf: []int{0}}
}

// SinglePostgres is one node with Postgres (a schema of the test's own)
// reached through a proxy (Node.Store).
func SinglePostgres(t testing.TB, args ...string) *Deployment {
	t.Helper()
	url := pgtest.Schema(t)
	n := StartNode(t, NodeConfig{Name: "node", PostgresURL: url, Args: args})
	return &Deployment{Nodes: []*Node{n}, Stores: []Store{{Name: "postgres", PostgresURL: url}}, StoreOf: []int{0}, RegionOf: []int{0}}
}

// Cluster is n nodes of one region over one Postgres schema, each with its
// own NATS server of a routed cluster, every link through a proxy.
func Cluster(t testing.TB, n int, antiEntropy time.Duration, args ...string) *Deployment {
	t.Helper()
	url := pgtest.Schema(t)
	r := NewRegion(t, "main", n)
	r.Start(t)
	d := &Deployment{Regions: []*Region{r}, Stores: []Store{{Name: "postgres", PostgresURL: url}}}
	for i := range n {
		d.Nodes = append(d.Nodes, StartNode(t, NodeConfig{Name: fmt.Sprintf("main-%d", i+1), PostgresURL: url,
			NATSURL: r.URL(i), Region: "main", StoreGroup: "pg-main", AntiEntropy: antiEntropy, Args: args}))
		d.StoreOf = append(d.StoreOf, 0)
		d.RegionOf = append(d.RegionOf, 0)
	}
	return d
}

// TwoRegions is two regions ("eu", "us") of perRegion nodes each, one NATS
// server per node, the regions joined by gateways (every gateway link
// through a proxy), each region with a Postgres schema of its own.
func TwoRegions(t testing.TB, perRegion int, antiEntropy time.Duration, args ...string) *Deployment {
	t.Helper()
	names := []string{"eu", "us"}
	d := &Deployment{}
	for _, name := range names {
		d.Regions = append(d.Regions, NewRegion(t, name, perRegion))
	}
	StartRegions(t, d.Regions...)
	for ri, name := range names {
		url := pgtest.Schema(t)
		d.Stores = append(d.Stores, Store{Name: "postgres-" + name, PostgresURL: url})
		for i := range perRegion {
			d.Nodes = append(d.Nodes, StartNode(t, NodeConfig{Name: fmt.Sprintf("%s-%d", name, i+1), PostgresURL: url,
				NATSURL: d.Regions[ri].URL(i), Region: name, StoreGroup: "pg-" + name, AntiEntropy: antiEntropy, Args: args}))
			d.StoreOf = append(d.StoreOf, ri)
			d.RegionOf = append(d.RegionOf, ri)
		}
	}
	return d
}

// NodesOfRegion returns the nodes of region ri.
func (d *Deployment) NodesOfRegion(ri int) []*Node {
	var out []*Node
	for i, n := range d.Nodes {
		if d.RegionOf[i] == ri {
			out = append(out, n)
		}
	}
	return out
}

// natsIndex is node i's server index within its region.
func (d *Deployment) natsIndex(i int) int {
	k := 0
	for j := range i {
		if d.RegionOf[j] == d.RegionOf[i] {
			k++
		}
	}
	return k
}

// BusLink is node i's connection to its NATS server (nil for a single
// node).
func (d *Deployment) BusLink(i int) *Proxy {
	if len(d.Regions) == 0 {
		return nil
	}
	return d.Regions[d.RegionOf[i]].ClientProxy[d.natsIndex(i)]
}

// World returns the checker's view of the deployment and editors.
func (d *Deployment) World(editors []*Editor) *World {
	return &World{Nodes: d.Nodes, Editors: editors, Stores: d.Stores, Deleted: map[string]bool{}}
}

// HealAll restores every link of the deployment (node↔store, node↔NATS,
// routes, gateways) and starts every node that is down.
func (d *Deployment) HealAll(t testing.TB) {
	t.Helper()
	for _, n := range d.Nodes {
		if n.Store != nil {
			n.Store.Restore()
			n.Store.SetDelay(0)
		}
	}
	for _, r := range d.Regions {
		r.HealRoutes()
		for _, p := range r.ClientProxy {
			p.Restore()
			p.SetDelay(0)
		}
	}
	HealGateways(d.Regions...)
	for _, n := range d.Nodes {
		if !n.Up() {
			if err := n.Start(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Cuts counts every cut of the deployment's links.
func (d *Deployment) Cuts() int {
	var n int64
	for _, nd := range d.Nodes {
		if nd.Store != nil {
			n += nd.Store.Cuts()
		}
	}
	for _, r := range d.Regions {
		for _, p := range r.ClientProxy {
			n += p.Cuts()
		}
		for i := range r.Routes {
			for _, p := range r.Routes[i] {
				if p != nil {
					n += p.Cuts()
				}
			}
		}
		for _, p := range r.GatewayProxy {
			n += p.Cuts()
		}
	}
	return int(n)
}

// Kills counts the SIGKILLs of every node.
func (d *Deployment) Kills() int {
	n := 0
	for _, nd := range d.Nodes {
		n += nd.Kills()
	}
	return n
}
