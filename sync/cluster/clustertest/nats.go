package clustertest

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/flowsync/flowsync/internal/testutil"
)

// StartNATS starts an in-process NATS server on a free port of 127.0.0.1
// (never the default 4222, which a developer's own server may hold), with
// no logging and no signal handlers, and shuts it down when the test ends.
// configure, when not nil, adjusts the options first (a fixed port, a
// cluster, gateways).
func StartNATS(t testing.TB, configure func(*server.Options)) *server.Server {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true}
	if configure != nil {
		configure(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Routed makes o a member of the NATS cluster named cluster, listening for
// routes on a free port and routing to the given cluster addresses
// (host:port).
func Routed(o *server.Options, cluster string, routes ...string) {
	o.Cluster = server.ClusterOpts{Name: cluster, Host: "127.0.0.1", Port: -1}
	for _, r := range routes {
		o.Routes = append(o.Routes, &url.URL{Scheme: "nats", Host: r})
	}
}

// NATSCluster starts n NATS servers routed into the cluster named name
// (server i is "name-i"; each routes to the first) and waits until every
// server has routes to all the others. configure, when not nil, adjusts
// server i's options before it starts.
func NATSCluster(t testing.TB, name string, n int, configure func(i int, o *server.Options)) []*server.Server {
	t.Helper()
	var servers []*server.Server
	for i := range n {
		servers = append(servers, StartNATS(t, func(o *server.Options) {
			o.ServerName = fmt.Sprintf("%s-%d", name, i)
			var routes []string
			if i > 0 {
				routes = []string{servers[0].ClusterAddr().String()}
			}
			Routed(o, name, routes...)
			if configure != nil {
				configure(i, o)
			}
		}))
	}
	testutil.WaitFor(t, "NATS routes", func() bool {
		for _, s := range servers {
			if s.NumRoutes() < n-1 {
				return false
			}
		}
		return true
	})
	return servers
}
