package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/client"
	"github.com/flowsync/flowsync/sync/cluster/clustertest"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/server"
)

// ---- NATS ----------------------------------------------------------------

// routedNATS starts a NATS server of cluster "fs" named name, on port (0:
// a free one), routed to routes. NoAdvertise: a client knows only the
// server it was given, so shutting that server down cuts the client off.
func routedNATS(t testing.TB, name string, port int, routes ...string) *natsserver.Server {
	t.Helper()
	return clustertest.StartNATS(t, func(o *natsserver.Options) {
		o.ServerName = name
		if port != 0 {
			o.Port = port
		}
		clustertest.Routed(o, "fs", routes...)
		o.Cluster.NoAdvertise = true
	})
}

// natsCluster starts n routed NATS servers (see routedNATS).
func natsCluster(t testing.TB, n int) []*natsserver.Server {
	t.Helper()
	return clustertest.NATSCluster(t, "fs", n, func(_ int, o *natsserver.Options) { o.Cluster.NoAdvertise = true })
}

// ---- nodes ---------------------------------------------------------------

// trackingListener remembers every accepted connection, hijacked
// websockets included, so a test can cut them all at once.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *trackingListener) cut() {
	_ = l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		_ = c.Close()
	}
}

// sharedStore is one store used by several nodes (as they would share
// Postgres); the nodes must not close it.
type sharedStore struct{ storage.Store }

func (sharedStore) Close() error { return nil }

type node struct {
	name   string
	srv    *server.Server
	reg    *prometheus.Registry
	store  storage.Store
	ln     *trackingListener
	url    string
	served chan error
	killed bool
}

type nodeOpts struct {
	store  storage.Store // nil: a memory store of its own
	offset time.Duration // added to the node's clock
	skew   time.Duration // rooms and cluster MaxClockSkew (0: default)
	beat   time.Duration // cluster PresenceHeartbeat (0: default)
}

func startNode(t testing.TB, name, natsURL string, o nodeOpts) *node {
	t.Helper()
	st := o.store
	if st == nil {
		st = memory.New()
	} else {
		st = sharedStore{st}
	}
	reg := prometheus.NewRegistry()
	cfg := server.Config{
		Dev: true, ShutdownTimeout: 5 * time.Second,
		Store: server.StoreConfig{Use: st},
		Cluster: server.ClusterConfig{NATSURL: natsURL, NodeID: name, Region: "test",
			AntiEntropyInterval: 300 * time.Millisecond, PresenceHeartbeat: o.beat},
		Rooms: rooms.Config{MaxClockSkew: o.skew, SnapshotInterval: 200 * time.Millisecond},
	}
	cfg.Rooms.ClockOffset = o.offset
	srv, err := server.New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, srv: srv, reg: reg, store: st, ln: &trackingListener{Listener: raw},
		url: "ws://" + raw.Addr().String() + "/v1/sync", served: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { n.served <- srv.Serve(ctx, n.ln) }()
	t.Cleanup(func() {
		cancel()
		<-n.served
		if n.killed {
			sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
			defer c()
			_ = srv.Shutdown(sctx, nil)
		}
	})
	return n
}

// kill stops the node abruptly: its listener and every connection are cut
// and its NATS connection closed, without a graceful shutdown. (Its rooms
// are stopped by the test's cleanup.)
func (n *node) kill() {
	n.killed = true
	server.KillBus(n.srv)
	n.ln.cut()
}

func (n *node) doc(t testing.TB, wf string) *workflow.Doc {
	t.Helper()
	rm := n.srv.Rooms().Room(wf)
	if rm == nil {
		return nil
	}
	d, err := rm.Snapshot(t.Context())
	if err != nil {
		return nil
	}
	return d
}

// waitRounds waits until each node has run k more anti-entropy rounds:
// whatever they could bring (a tombstone, a resurrection) has had its
// chance.
func waitRounds(t testing.TB, k int, nodes ...*node) {
	t.Helper()
	const rounds = "flowsync_cluster_antientropy_rounds_total"
	start := make([]float64, len(nodes))
	for i, n := range nodes {
		start[i] = n.metric(t, rounds)
	}
	testutil.WaitFor(t, fmt.Sprintf("%d anti-entropy rounds", k), func() bool {
		for i, n := range nodes {
			if n.metric(t, rounds) < start[i]+float64(k) {
				return false
			}
		}
		return true
	})
}

// metricLabel is metric restricted to the series whose label is value.
func (n *node) metricLabel(t testing.TB, name, label, value string) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

func (n *node) metric(t testing.TB, name string) float64 {
	t.Helper()
	mfs, err := n.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

// ---- clients -------------------------------------------------------------

// lbDialer dials whichever node URL it currently points at, like a load
// balancer in front of the nodes.
type lbDialer struct {
	target atomic.Pointer[string]
	d      websocket.Dialer
}

func newLB(url string) *lbDialer {
	l := &lbDialer{d: websocket.Dialer{HandshakeTimeout: 3 * time.Second}}
	l.target.Store(&url)
	return l
}

func (l *lbDialer) DialContext(ctx context.Context, _ string, h http.Header) (*websocket.Conn, *http.Response, error) {
	return l.d.DialContext(ctx, *l.target.Load(), h)
}

type editor struct {
	name string
	c    *client.Client
	lb   *lbDialer
	done chan error

	mu    sync.Mutex
	ops   []*workflow.Doc
	n     int
	live  bool
	drops int // times the connection left StateLive
}

func startEditor(t testing.TB, name, wf, url string, now func() time.Time) *editor {
	t.Helper()
	e := &editor{name: name, lb: newLB(url), done: make(chan error, 1)}
	c, err := client.New(client.Config{
		URL: url, Token: name + ":" + name, ReplicaID: "r-" + name, WorkflowID: wf,
		Dialer: e.lb, Now: now, DialTimeout: 3 * time.Second,
		Backoff: client.Backoff{Base: 20 * time.Millisecond, Cap: 200 * time.Millisecond},
		OnStatus: func(s client.Status) {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.live && s.State != client.StateLive {
				e.drops++
			}
			e.live = s.State == client.StateLive
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	ctx, cancel := context.WithCancel(context.Background())
	go func() { e.done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		c.Close()
		<-e.done
	})
	return e
}

func (e *editor) waitLive(t testing.TB) {
	t.Helper()
	testutil.WaitWithin(t, 10*time.Second, e.name+" live", func() bool { return e.c.Status().State == client.StateLive })
}

// edit applies k operations: a block of its own, then updates of it.
func (e *editor) edit(t testing.TB, k int) {
	t.Helper()
	for range k {
		e.mu.Lock()
		e.n++
		n := e.n
		e.mu.Unlock()
		id := e.name + "-b"
		var op workflow.Op
		if n == 1 {
			op = workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: id,
				Position:  &workflow.Position{X: 1, Y: 2},
				SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "v0"}}}}}
		} else {
			op = workflow.UpdateSubBlock{BlockID: id, SubBlockID: "prompt", Value: fmt.Sprintf("%s-v%d", e.name, n)}
		}
		d, err := e.c.Apply(op)
		if err != nil {
			t.Fatalf("%s: apply: %v", e.name, err)
		}
		e.mu.Lock()
		e.ops = append(e.ops, d)
		e.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
}

// count returns how many edits e has made.
func (e *editor) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

func (e *editor) allOps() []*workflow.Doc {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*workflow.Doc(nil), e.ops...)
}

// ---- convergence ---------------------------------------------------------

// converged reports why the editors' and nodes' documents differ ("" when
// they are all equal and every outbox is empty).
func converged(t testing.TB, wf string, eds []*editor, nodes []*node) string {
	var ref *workflow.Doc
	var refName string
	check := func(name string, d *workflow.Doc) string {
		if d == nil {
			return name + ": no document"
		}
		if ref == nil {
			ref, refName = d, name
			return ""
		}
		if !ref.Context().Equal(d.Context()) {
			return fmt.Sprintf("%s and %s: contexts differ", refName, name)
		}
		if !reflect.DeepEqual(ref.View(), d.View()) {
			return fmt.Sprintf("%s and %s: views differ", refName, name)
		}
		return ""
	}
	for _, e := range eds {
		if st := e.c.Status(); st.State != client.StateLive || st.Pending > 0 {
			return fmt.Sprintf("%s: %v pending %d", e.name, st.State, st.Pending)
		}
		if why := check(e.name, e.c.Doc()); why != "" {
			return why
		}
	}
	for _, n := range nodes {
		if why := check(n.name, n.doc(t, wf)); why != "" {
			return why
		}
	}
	return ""
}

// Convergence waits on progress, not on a wall time: on a 2-core machine
// with a load average of 25–40 and -race, the nodes' anti-entropy timers
// were seen firing at under half their rate and six editors' 240 edits took
// 10–15 s to be acknowledged and relayed, with no bus error, no NATS drop and
// no reconnect. A lost delta or a hang still fails: nothing shrinks for
// convergeStall (anti-entropy runs every 300 ms here, so a loss it repairs
// shows up as progress, one it does not as a stall).
const (
	convergeStall = 20 * time.Second
	convergeMost  = 3 * time.Minute
)

// waitConverged waits until converged holds, as long as the work left
// (remaining) keeps shrinking; it returns how long it waited.
func waitConverged(t testing.TB, wf string, eds []*editor, nodes []*node) time.Duration {
	t.Helper()
	return testutil.WaitProgress(t, convergeStall, convergeMost, "convergence", func() (int, string) {
		why := converged(t, wf, eds, nodes)
		if why == "" {
			return 0, ""
		}
		return remaining(t, wf, eds, nodes), why
	})
}

// countLacks counts the editors' operations d does not cover.
func countLacks(d *workflow.Doc, eds []*editor) int {
	left := 0
	for _, e := range eds {
		for _, op := range e.allOps() {
			if !d.Context().Covers(op.Context()) {
				left++
			}
		}
	}
	return left
}

// remaining counts the work left before convergence: edits not yet durable
// in an editor's outbox, and, for every editor and node, operations its
// document does not cover yet.
func remaining(t testing.TB, wf string, eds []*editor, nodes []*node) int {
	left := 0
	lacks := func(d *workflow.Doc) {
		if d == nil {
			d = workflow.New()
		}
		left += countLacks(d, eds)
	}
	for _, e := range eds {
		left += e.c.Status().Pending
		lacks(e.c.Doc())
	}
	for _, n := range nodes {
		lacks(n.doc(t, wf))
	}
	return left
}

// covers checks that doc holds every operation's dots.
func covers(t testing.TB, what string, doc *workflow.Doc, eds []*editor) {
	t.Helper()
	missing := 0
	total := 0
	for _, e := range eds {
		for _, op := range e.allOps() {
			total++
			if !doc.Context().Covers(op.Context()) {
				missing++
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%s lacks %d of %d operations", what, missing, total)
	}
}

// ---- tests ---------------------------------------------------------------

// Three nodes on one NATS cluster, each with a store of its own, clients
// spread over them editing one workflow: everyone converges, and every node
// stores every operation.
func TestClusterThreeNodesConverge(t *testing.T) {
	ns := natsCluster(t, 3)
	const wf = "wf-three"
	var nodes []*node
	for i, s := range ns {
		nodes = append(nodes, startNode(t, fmt.Sprintf("node-%d", i), s.ClientURL(), nodeOpts{}))
	}
	var eds []*editor
	for i := range 6 {
		e := startEditor(t, fmt.Sprintf("ed%d", i), wf, nodes[i%3].url, nil)
		eds = append(eds, e)
	}
	for _, e := range eds {
		e.waitLive(t)
	}
	var wg sync.WaitGroup
	for _, e := range eds {
		wg.Go(func() { e.edit(t, 40) })
	}
	wg.Wait()
	took := waitConverged(t, wf, eds, nodes)
	t.Logf("converged %v after the last edit (6 editors × 40 ops over 3 nodes)", took.Round(time.Millisecond))
	for _, n := range nodes {
		// Waiting on progress must not hide a loss that anti-entropy
		// repairs: the bus itself reports none. (A slow flush is only
		// counted: a subscription registered late is what anti-entropy is
		// for, and load causes it.)
		for _, reason := range []string{"publish", "dropped", "decode", "apply", "version", "oversize", "panic"} {
			if errs := n.metricLabel(t, "flowsync_cluster_bus_errors_total", "reason", reason); errs != 0 {
				t.Errorf("%s counted %v bus errors %q", n.name, errs, reason)
			}
		}
		// Snapshots are written every 200 ms, as fast as a loaded machine
		// lets the room loop run: wait while the store keeps gaining.
		testutil.WaitProgress(t, convergeStall, convergeMost, n.name+" store", func() (int, string) {
			d, err := n.store.Load(t.Context(), wf)
			if err != nil {
				return 1 << 30, err.Error()
			}
			if d.Context().Covers(eds[0].c.Doc().Context()) {
				return 0, ""
			}
			return countLacks(d, eds), "store lacks operations"
		})
		if live := n.metric(t, "flowsync_cluster_deltas_received_total"); live == 0 {
			t.Errorf("%s merged nothing from the bus", n.name)
		}
	}
	d, _ := nodes[0].store.Load(t.Context(), wf)
	covers(t, "node-0's store", d, eds)
	for _, e := range eds {
		e.mu.Lock()
		if e.drops > 0 {
			t.Errorf("%s lost its connection %d times (a relayed frame it could not read?)", e.name, e.drops)
		}
		e.mu.Unlock()
	}
}

// A node is killed while its clients edit; they reconnect (through a load
// balancer) to another node, nothing they wrote is lost, and everyone
// converges. The nodes share one store, as they would share Postgres.
func TestClusterNodeKilled(t *testing.T) {
	ns := natsCluster(t, 3)
	const wf = "wf-kill"
	shared := memory.New()
	t.Cleanup(func() { shared.Close() })
	var nodes []*node
	for i, s := range ns {
		nodes = append(nodes, startNode(t, fmt.Sprintf("node-%d", i), s.ClientURL(), nodeOpts{store: shared}))
	}
	var eds []*editor
	for i := range 6 {
		eds = append(eds, startEditor(t, fmt.Sprintf("ed%d", i), wf, nodes[i%3].url, nil))
	}
	for _, e := range eds {
		e.waitLive(t)
	}
	var wg sync.WaitGroup
	for _, e := range eds {
		wg.Go(func() { e.edit(t, 20) })
	}
	wg.Wait()
	// Durable-acked so far on node-0's clients.
	testutil.WaitProgress(t, convergeStall, convergeMost, "outboxes drained", func() (int, string) {
		left := 0
		for _, e := range eds {
			left += e.c.Pending()
		}
		if left == 0 {
			return 0, ""
		}
		return left, fmt.Sprintf("%d edits pending", left)
	})
	// Kill node-0 while its clients are writing.
	before := make([]int, len(eds))
	for i, e := range eds {
		before[i] = e.count()
	}
	for _, e := range eds {
		wg.Go(func() { e.edit(t, 20) })
	}
	testutil.WaitFor(t, "every editor a few edits in", func() bool {
		for i, e := range eds {
			if e.count() < before[i]+3 {
				return false
			}
		}
		return true
	})
	nodes[0].kill()
	for _, e := range eds {
		if *e.lb.target.Load() == nodes[0].url {
			e.lb.target.Store(&nodes[1].url)
		}
	}
	wg.Wait()
	survivors := nodes[1:]
	took := waitConverged(t, wf, eds, survivors)
	t.Logf("converged %v after the last edit, node-0 killed mid-edit", took.Round(time.Millisecond))
	d, err := shared.Load(t.Context(), wf)
	if err != nil {
		t.Fatal(err)
	}
	covers(t, "the shared store", d, eds)
	for i, e := range eds {
		e.mu.Lock()
		drops := e.drops
		e.mu.Unlock()
		if i%3 == 0 && drops == 0 {
			t.Errorf("%s was on the killed node but never lost its connection", e.name)
		}
	}
	for _, n := range survivors {
		covers(t, n.name, n.doc(t, wf), eds)
	}
}

// Clock skew between nodes within the bound changes nothing; a node whose
// clock lags by more than the bound refuses (and counts) the others'
// deltas.
func TestClusterClockSkew(t *testing.T) {
	ns := natsCluster(t, 1)
	const wf = "wf-skew"
	url := ns[0].ClientURL()
	const bound = time.Minute
	a := startNode(t, "ahead", url, nodeOpts{offset: 30 * time.Second, skew: bound})
	b := startNode(t, "behind", url, nodeOpts{offset: -20 * time.Second, skew: bound})
	far := startNode(t, "far-behind", url, nodeOpts{offset: -3 * time.Minute, skew: bound})

	ea := startEditor(t, "ea", wf, a.url, nil)
	eb := startEditor(t, "eb", wf, b.url, nil)
	// The far node's own client shares its clock (so the far node admits
	// it); it only reads.
	farNow := func() time.Time { return time.Now().Add(-3 * time.Minute) }
	ef := startEditor(t, "ef", wf, far.url, farNow)
	for _, e := range []*editor{ea, eb, ef} {
		e.waitLive(t)
	}
	var wg sync.WaitGroup
	wg.Go(func() { ea.edit(t, 20) })
	wg.Go(func() { eb.edit(t, 20) })
	wg.Wait()
	waitConverged(t, wf, []*editor{ea, eb}, []*node{a, b})
	for _, n := range []*node{a, b} {
		if v := n.metric(t, "flowsync_cluster_skew_refused_total"); v != 0 {
			t.Errorf("%s refused %v deltas within the bound", n.name, v)
		}
	}
	testutil.WaitWithin(t, 5*time.Second, "far node refusing", func() bool {
		return far.metric(t, "flowsync_cluster_skew_refused_total") > 0
	})
	// Text edits carry no clock reading (their items are dots without a
	// stamp), so the bound does not refuse them; the far node holds them
	// for a text it has not seen created, and shows nothing.
	if d := far.doc(t, wf); d == nil || d.Store().NumDots() != 0 || len(d.View().Blocks) != 0 {
		t.Fatalf("the far node merged writes beyond the skew bound")
	}
	t.Logf("far node refused %v deltas", far.metric(t, "flowsync_cluster_skew_refused_total"))
}

// A workflow deleted on one node stays deleted on a node that was cut off
// when it happened and kept editing: when the link heals, the cut-off node
// learns the deletion (its clients get workflow-deleted) instead of
// bringing the document back.
func TestClusterDeletedStaysDeleted(t *testing.T) {
	s1 := routedNATS(t, "s1", 0)
	s2port := freePort(t)
	s2 := routedNATS(t, "s2", s2port, s1.ClusterAddr().String())
	testutil.WaitWithin(t, 10*time.Second, "route", func() bool { return s1.NumRoutes() >= 1 && s2.NumRoutes() >= 1 })
	const wf = "wf-deleted"
	a := startNode(t, "a", s1.ClientURL(), nodeOpts{})
	b := startNode(t, "b", s2.ClientURL(), nodeOpts{})
	ea := startEditor(t, "ea", wf, a.url, nil)
	eb := startEditor(t, "eb", wf, b.url, nil)
	ea.waitLive(t)
	eb.waitLive(t)
	ea.edit(t, 5)
	eb.edit(t, 5)
	waitConverged(t, wf, []*editor{ea, eb}, []*node{a, b})

	// Cut b's NATS server off, keep editing on b, delete on a.
	s2.Shutdown()
	s2.WaitForShutdown()
	eb.edit(t, 10)
	if err := a.srv.Rooms().DeleteWorkflow(t.Context(), wf); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.Load(t.Context(), wf); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("a's store: %v", err)
	}
	// b keeps its copy while it runs anti-entropy rounds into the cut.
	waitRounds(t, 2, b)
	if b.srv.Rooms().Room(wf) == nil {
		t.Fatal("b learned the deletion while cut off")
	}

	// Heal: b reconnects, its digests and requests are answered with the
	// tombstone.
	healed := time.Now()
	routedNATS(t, "s2", s2port, s1.ClusterAddr().String())
	testutil.WaitWithin(t, 15*time.Second, "b learns the deletion", func() bool {
		_, err := b.store.Load(t.Context(), wf)
		return errors.Is(err, storage.ErrDeleted) && b.srv.Rooms().Room(wf) == nil
	})
	t.Logf("b learned the deletion %v after the heal", time.Since(healed).Round(time.Millisecond))
	// Deleted stays deleted on both sides through anti-entropy rounds.
	waitRounds(t, 2, a, b)
	for _, n := range []*node{a, b} {
		if _, err := n.store.Load(t.Context(), wf); !errors.Is(err, storage.ErrDeleted) {
			t.Fatalf("%s: the workflow came back: %v", n.name, err)
		}
		if !n.srv.Rooms().Deleted(wf) {
			t.Fatalf("%s: not in the tombstone cache", n.name)
		}
	}
	if v := b.metric(t, "flowsync_cluster_tombstones_total"); v == 0 {
		t.Error("b counted no tombstone")
	}
	// Joining the deleted workflow fails on both nodes.
	for _, n := range []*node{a, b} {
		_, err := n.srv.Rooms().Join(t.Context(), wf, nil, rooms.JoinOptions{})
		if rooms.ErrorCode(err) != protocol.CodeWorkflowDeleted {
			t.Fatalf("%s: join after delete: %v", n.name, err)
		}
	}
}

// users returns the sorted user ids of e's roster.
func (e *editor) users() []string {
	var us []string
	for _, r := range e.c.Roster() {
		us = append(us, r.UserID)
	}
	slices.Sort(us)
	return us
}

func waitRoster(t testing.TB, e *editor, want ...string) {
	t.Helper()
	slices.Sort(want)
	testutil.WaitWithin(t, 10*time.Second, fmt.Sprintf("%s's roster to be %v", e.name, want), func() bool {
		return slices.Equal(e.users(), want)
	})
}

// Presence is shared across nodes: a client's roster shows the users of
// the same workflow on other nodes; a client that leaves drops out of the
// other nodes' rosters at once (its node republishes), and the users of a
// node that dies drop out when their entries expire (3 heartbeats).
func TestClusterPresenceShared(t *testing.T) {
	ns := natsCluster(t, 2)
	const wf = "wf-presence"
	const beat = 100 * time.Millisecond
	a := startNode(t, "a", ns[0].ClientURL(), nodeOpts{beat: beat})
	b := startNode(t, "b", ns[1].ClientURL(), nodeOpts{beat: beat})
	ea := startEditor(t, "ea", wf, a.url, nil)
	eb := startEditor(t, "eb", wf, b.url, nil)
	ea.waitLive(t)
	eb.waitLive(t)
	start := time.Now()
	waitRoster(t, ea, "ea", "eb")
	waitRoster(t, eb, "ea", "eb")
	t.Logf("both rosters show both users %v after both were live", time.Since(start).Round(time.Millisecond))
	if err := eb.c.Close(); err != nil {
		t.Fatal(err)
	}
	waitRoster(t, ea, "ea")

	// A node dies with a client on it: its entries expire on the others.
	ec := startEditor(t, "ec", wf, b.url, nil)
	ec.waitLive(t)
	waitRoster(t, ea, "ea", "ec")
	waitRoster(t, ec, "ea", "ec")
	killed := time.Now()
	b.kill()
	waitRoster(t, ea, "ea")
	if took := time.Since(killed); took < beat {
		t.Fatalf("b's entries dropped %v after the kill, before they could expire", took)
	} else {
		t.Logf("b's entries expired %v after it died (heartbeat %v)", took.Round(time.Millisecond), beat)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// BenchmarkClusterJoinHotRoom measures the cost of a node joining a hot
// room: a workflow of 1000 blocks is live on node A with an editor typing;
// a client joins it on node B (store of its own, empty): B loads nothing,
// hosts, asks its peers, merges A's answer and catches its client up. One
// op is the time from the join to the client seeing every block.
func BenchmarkClusterJoinHotRoom(b *testing.B) {
	const blocks = 1000
	ns := natsCluster(b, 2)
	a := startNode(b, "a", ns[0].ClientURL(), nodeOpts{})
	bn := startNode(b, "b", ns[1].ClientURL(), nodeOpts{})
	in := make([]workflow.BlockInput, blocks)
	for i := range in {
		id := fmt.Sprintf("seed-%d", i)
		in[i] = workflow.BlockInput{ID: id, Type: "agent", Name: id, Position: &workflow.Position{X: float64(i), Y: 1},
			SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "some prompt text"}}}
	}
	seed, err := workflow.New().Apply(crdt.NewClock("seed").Now(time.Now().UnixMilli()), workflow.BatchAddBlocks{Blocks: in})
	if err != nil {
		b.Fatal(err)
	}
	raw := seed.Encode()
	b.Run("other-node", func(b *testing.B) { joinHotRoom(b, a, bn, raw, blocks) })
	b.Run("same-node", func(b *testing.B) { joinHotRoom(b, a, a, raw, blocks) })
}

var hotRooms atomic.Int64 // unique workflow and replica ids across runs

func joinHotRoom(b *testing.B, a, bn *node, raw []byte, blocks int) {
	for b.Loop() {
		i := hotRooms.Add(1)
		b.StopTimer()
		wf := fmt.Sprintf("hot-%d", i)
		if err := a.store.Append(context.Background(), wf, []storage.Delta{storage.NewDelta(raw)}); err != nil {
			b.Fatal(err)
		}
		ea := startEditor(b, fmt.Sprintf("ea%d", i), wf, a.url, nil)
		ea.waitLive(b)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ea.edit(b, 1)
			}
		})
		b.StartTimer()
		eb := startEditor(b, fmt.Sprintf("eb%d", i), wf, bn.url, nil)
		for len(eb.c.View().Blocks) < blocks {
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		close(stop)
		wg.Wait()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(raw)), "doc-bytes")
}
