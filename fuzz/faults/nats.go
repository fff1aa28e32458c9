package faults

import (
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// Region is one NATS cluster of in-process servers, one per flowsync node,
// and every link the test may cut runs through a Proxy:
//   - node ↔ NATS: ClientProxy[i] is what node i dials (its --nats-url);
//     every server advertises only that proxy to its clients and no other
//     server's address (no_advertise), so a cut node cannot reconnect
//     around the proxy;
//   - routes: one proxy per ordered pair (i solicits j through
//     Routes[i][j]); each server advertises a route address that refuses
//     connections, so gossip cannot open an implicit route around a cut;
//   - gateways (two regions): GatewayProxy[i] fronts server i's gateway
//     port and is its advertised gateway address, so every gateway
//     connection into the region crosses one.
type Region struct {
	Name         string
	Servers      []*natsserver.Server
	ClientProxy  []*Proxy
	Routes       [][]*Proxy // Routes[i][j], nil on the diagonal
	GatewayProxy []*Proxy   // nil without gateways

	// pending starts the servers once the gateway remotes are known.
	pending func(remotes []*natsserver.RemoteGatewayOpts)
}

// refuser is a listener that closes every connection: an address that
// exists (so nothing else takes the port) but never carries traffic.
func refuser(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().String()
}

// NewRegion prepares n servers of a cluster named name; Start (or
// StartRegions, to join regions by gateways) runs them. Every server
// listens on ports of its own choosing; the proxies, created first so
// that their addresses can be configured and advertised, are pointed at
// those ports as each server comes up (a route dialled before its target
// is up fails and is retried by NATS every second).
func NewRegion(t testing.TB, name string, n int) *Region {
	t.Helper()
	r := &Region{Name: name}
	for i := range n {
		r.ClientProxy = append(r.ClientProxy, NewProxy(t, fmt.Sprintf("%s-nats-%d", name, i), ""))
	}
	r.Routes = make([][]*Proxy, n)
	for i := range n {
		r.Routes[i] = make([]*Proxy, n)
		for j := range n {
			if i != j {
				r.Routes[i][j] = NewProxy(t, fmt.Sprintf("%s-route-%d-%d", name, i, j), "")
			}
		}
	}
	r.Servers = make([]*natsserver.Server, n)
	r.pending = func(remotes []*natsserver.RemoteGatewayOpts) {
		for i := range n {
			opts := &natsserver.Options{
				ServerName: fmt.Sprintf("%s-%d", name, i), Host: "127.0.0.1", Port: -1,
				ClientAdvertise: r.ClientProxy[i].Addr(), NoLog: true, NoSigs: true,
				Cluster: natsserver.ClusterOpts{Name: name, Host: "127.0.0.1", Port: -1,
					Advertise: refuser(t), NoAdvertise: true, PoolSize: -1},
			}
			for j := range n {
				if j != i {
					opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats", Host: r.Routes[i][j].Addr()})
				}
			}
			if remotes != nil {
				opts.Gateway = natsserver.GatewayOpts{Name: name, Host: "127.0.0.1", Port: -1,
					Advertise: r.GatewayProxy[i].Addr(), Gateways: remotes}
			}
			s, err := natsserver.NewServer(opts)
			if err != nil {
				t.Fatal(err)
			}
			go s.Start()
			if !s.ReadyForConnections(10 * time.Second) {
				t.Fatalf("NATS server %s not ready", opts.ServerName)
			}
			t.Cleanup(func() {
				s.Shutdown()
				s.WaitForShutdown()
			})
			r.Servers[i] = s
			r.ClientProxy[i].Retarget(s.Addr().String())
			for j := range n {
				if j != i {
					r.Routes[j][i].Retarget(s.ClusterAddr().String())
				}
			}
			if remotes != nil {
				r.GatewayProxy[i].Retarget(s.GatewayAddr().String())
			}
		}
	}
	return r
}

// URL is the NATS URL node i connects with (through its proxy).
func (r *Region) URL(i int) string { return "nats://" + r.ClientProxy[i].Addr() }

// Isolate cuts every route of server i, in both directions.
func (r *Region) Isolate(i int) {
	for j := range r.Routes {
		if j != i {
			r.Routes[i][j].Cut()
			r.Routes[j][i].Cut()
		}
	}
}

// CutRoute cuts the routes between servers i and j.
func (r *Region) CutRoute(i, j int) {
	r.Routes[i][j].Cut()
	r.Routes[j][i].Cut()
}

// HealRoutes restores every route.
func (r *Region) HealRoutes() {
	for i := range r.Routes {
		for j := range r.Routes[i] {
			if i != j {
				r.Routes[i][j].Restore()
			}
		}
	}
}

// routesUp reports whether every server has a route to every other.
func (r *Region) routesUp() bool {
	for _, s := range r.Servers {
		if s.NumRoutes() < len(r.Servers)-1 {
			return false
		}
	}
	return true
}

// Start starts the region's servers without gateways and waits for the
// routes.
func (r *Region) Start(t testing.TB) {
	t.Helper()
	r.pending(nil)
	r.pending = nil
	waitUntil(t, 15*time.Second, "NATS routes of "+r.Name, r.routesUp)
}

// StartRegions starts regions joined by gateways (every gateway link
// through a proxy) and waits for the routes and gateways.
func StartRegions(t testing.TB, regions ...*Region) {
	t.Helper()
	for _, r := range regions {
		for i := range r.Servers {
			r.GatewayProxy = append(r.GatewayProxy, NewProxy(t, fmt.Sprintf("%s-gw-%d", r.Name, i), ""))
		}
	}
	for _, r := range regions {
		var remotes []*natsserver.RemoteGatewayOpts
		for _, o := range regions {
			g := &natsserver.RemoteGatewayOpts{Name: o.Name}
			for _, p := range o.GatewayProxy {
				g.URLs = append(g.URLs, &url.URL{Scheme: "nats", Host: p.Addr()})
			}
			remotes = append(remotes, g)
		}
		r.pending(remotes)
		r.pending = nil
	}
	for _, r := range regions {
		waitUntil(t, 15*time.Second, "NATS routes of "+r.Name, r.routesUp)
	}
	waitUntil(t, 20*time.Second, "NATS gateways", func() bool { return gatewaysUp(regions) })
}

func gatewaysUp(regions []*Region) bool {
	for _, r := range regions {
		for _, s := range r.Servers {
			if s.NumOutboundGateways() < len(regions)-1 {
				return false
			}
		}
	}
	return true
}

// CutGateways cuts every gateway link into each of the regions: with two
// regions, a full cut between them.
func CutGateways(regions ...*Region) {
	for _, r := range regions {
		for _, p := range r.GatewayProxy {
			p.Cut()
		}
	}
}

// HealGateways restores the gateway links.
func HealGateways(regions ...*Region) {
	for _, r := range regions {
		for _, p := range r.GatewayProxy {
			p.Restore()
		}
	}
}

func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
