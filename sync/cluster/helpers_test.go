package cluster_test

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/cluster"
	"github.com/flowsync/flowsync/sync/cluster/clustertest"
)

// seed returns FLOWSYNC_SEED or a fresh seed, and logs it.
func seed(t testing.TB) uint64 { return testutil.Seed(t, 0) }

// region is one NATS server forming cluster name, with a gateway that others
// reach through a proxy that can be cut.
type region struct {
	name   string
	server *server.Server
	proxy  *proxy
}

// startRegions starts two regions joined by a gateway, each side reached
// through its proxy, and waits for the link.
func startRegions(t testing.TB, a, b string) (*region, *region) {
	t.Helper()
	ra, rb := &region{name: a, proxy: newProxy(t)}, &region{name: b, proxy: newProxy(t)}
	start := func(r, other *region) {
		r.server = clustertest.StartNATS(t, func(o *server.Options) {
			o.ServerName = r.name
			o.Cluster = server.ClusterOpts{Name: r.name, Host: "127.0.0.1", Port: -1}
			o.Gateway = server.GatewayOpts{
				Name: r.name, Host: "127.0.0.1", Port: -1,
				Advertise: r.proxy.addr(),
				Gateways: []*server.RemoteGatewayOpts{{
					Name: other.name, URLs: []*url.URL{{Scheme: "nats", Host: other.proxy.addr()}},
				}},
			}
		})
		r.proxy.setTarget(r.server.GatewayAddr().String())
	}
	start(ra, rb)
	start(rb, ra)
	waitGateways(t, ra, rb, 1)
	return ra, rb
}

func waitGateways(t testing.TB, a, b *region, want int) {
	t.Helper()
	testutil.WaitWithin(t, 20*time.Second, "gateway link", func() bool {
		return a.server.NumOutboundGateways() == want && b.server.NumOutboundGateways() == want
	})
}

// proxy forwards TCP connections to a target; cut closes them all and
// refuses new ones until heal.
type proxy struct {
	ln net.Listener
	wg sync.WaitGroup

	mu     sync.Mutex
	target string
	cut    bool
	conns  map[net.Conn]struct{}
}

func newProxy(t testing.TB) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) setTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target, cut := p.target, p.cut
		p.mu.Unlock()
		if cut || target == "" {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		p.wg.Add(2)
		go pipe(up, c)
		go pipe(c, up)
	}
}

// setCut cuts (true) or heals (false) the link.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	var conns []net.Conn
	if cut {
		for c := range p.conns {
			conns = append(conns, c)
		}
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

func (p *proxy) close() {
	p.setCut(true)
	p.ln.Close()
	p.wg.Wait()
}

// connect opens a client connection that reconnects forever.
func connect(t testing.TB, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// member is one node with its in-memory Local and an editor.
type member struct {
	name    string
	node    *cluster.Node
	mem     *clustertest.Memory
	metrics *cluster.Metrics
	clock   *crdt.Clock
	rng     *rand.Rand
}

type memberOpts struct {
	cfg  cluster.Config
	drop func(*nats.Msg) bool
}

func newMember(t testing.TB, name string, s *server.Server, rngSeed uint64, o memberOpts) *member {
	t.Helper()
	m := &member{
		name:    name,
		mem:     clustertest.NewMemory(),
		metrics: cluster.NewMetrics(nil),
		clock:   crdt.NewClock(crdt.ReplicaID("r-" + name)),
		rng:     rand.New(rand.NewPCG(rngSeed, uint64(len(name)))),
	}
	cfg := o.cfg
	cfg.NodeID = name
	var err error
	m.node, err = cluster.NewWithDrop(cfg, connect(t, s), m.mem, nil, m.metrics, o.drop)
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	t.Cleanup(func() { _ = m.node.Close() })
	return m
}

// host opens the workflow locally and hosts it on the bus.
func (m *member) host(t testing.TB, id string) {
	t.Helper()
	m.mem.Open(id)
	if err := m.node.Host(id); err != nil {
		t.Fatalf("%s: Host: %v", m.name, err)
	}
}

// edit makes one random variable edit on the workflow and publishes it. It
// returns false when the workflow is deleted here.
func (m *member) edit(t testing.TB, id string) bool {
	t.Helper()
	var counter int
	b, err := m.mem.Edit(id, func(doc *workflow.Doc) (*workflow.Doc, error) {
		var vars []string
		doc.Store().Range(func(k workflow.Key, _ []crdt.Dotted[workflow.Cell]) bool {
			if k.Kind == workflow.KindVariable {
				vars = append(vars, k.ID)
			}
			return true
		})
		counter = len(vars)
		ts := m.clock.Now(time.Now().UnixMilli())
		var op workflow.Op
		switch x := m.rng.Float64(); {
		case x < 0.35 || len(vars) == 0:
			op = workflow.AddVariable{ID: fmt.Sprintf("%s-%d-%d", m.name, counter, m.rng.Uint32()), VarName: "v", Type: "plain", Value: m.rng.IntN(1000)}
		case x < 0.9:
			op = workflow.UpdateVariable{ID: vars[m.rng.IntN(len(vars))], Field: "value", Value: m.rng.IntN(1000)}
		default:
			op = workflow.RemoveVariable{ID: vars[m.rng.IntN(len(vars))]}
		}
		delta, err := doc.Prepare(ts, op)
		if err != nil {
			return nil, nil //nolint:nilerr // a refused random op is skipped
		}
		return delta, nil
	})
	if errors.Is(err, clustertest.ErrDeleted) {
		return false
	}
	if err != nil {
		t.Fatalf("%s: edit: %v", m.name, err)
	}
	if b != nil {
		if err := m.node.Publish(id, b); err != nil && !errors.Is(err, cluster.ErrClosed) {
			t.Errorf("%s: Publish: %v", m.name, err)
		}
	}
	return true
}

// converged reports whether every member holds the same document.
func converged(id string, ms ...*member) bool {
	first := ms[0].mem.Doc(id)
	if first == nil {
		return false
	}
	for _, m := range ms[1:] {
		d := m.mem.Doc(id)
		if d == nil || !d.Equal(first) {
			return false
		}
	}
	return true
}

// waitRounds waits until each member has run n more anti-entropy rounds,
// so that whatever those rounds could repair (or wrongly bring back) has
// had its chance: an event to wait for instead of a guessed pause.
func waitRounds(t testing.TB, n int, ms ...*member) {
	t.Helper()
	start := make([]float64, len(ms))
	for i, m := range ms {
		start[i] = value(m.metrics.Rounds)
	}
	testutil.WaitWithin(t, testutil.DefaultWait+time.Duration(n)*time.Second, fmt.Sprintf("%d anti-entropy rounds", n), func() bool {
		for i, m := range ms {
			if value(m.metrics.Rounds) < start[i]+float64(n) {
				return false
			}
		}
		return true
	})
}

// waitPresence makes every member publish a presence entry and waits until
// each sees all the others: the subscriptions have propagated.
func waitPresence(t testing.TB, id string, ms ...*member) {
	t.Helper()
	for _, m := range ms {
		if err := m.node.PublishPresence(id, []byte("here:"+m.name)); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, "presence", func() bool {
		for _, m := range ms {
			if len(m.node.Presence(id)) < len(ms)-1 {
				for _, o := range ms { // re-publish: the first may predate interest
					_ = o.node.PublishPresence(id, []byte("here:"+o.name))
				}
				return false
			}
		}
		return true
	})
}

// value reads a counter or gauge.
func value(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 16)
	c.Collect(ch)
	close(ch)
	total := 0.0
	for m := range ch {
		var d dto.Metric
		_ = m.Write(&d)
		switch {
		case d.Counter != nil:
			total += d.Counter.GetValue()
		case d.Gauge != nil:
			total += d.Gauge.GetValue()
		case d.Histogram != nil:
			total += float64(d.Histogram.GetSampleCount())
		}
	}
	return total
}
