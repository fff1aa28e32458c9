package cluster

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// Local is what a Node needs from the rooms layer of its process. Every
// method may be called from several goroutines at once.
type Local interface {
	// Apply merges a delta received from another node into workflowID: the
	// live room when there is one (which relays it to its members and
	// stores it like any admitted delta), else the store. It must be
	// idempotent (the bus duplicates), must not publish the delta again,
	// and must refuse (return an error, change nothing) for a deleted
	// workflow.
	Apply(workflowID string, delta *workflow.Doc) error
	// Context returns a copy of the causal context of workflowID's live
	// room, false when this node has no live room for it.
	Context(workflowID string) (*crdt.Context, bool)
	// DeltaSince returns what a replica whose context is have lacks of
	// workflowID, from the live room or else the store; false when the
	// workflow is unknown here (or deleted).
	DeltaSince(workflowID string, have *crdt.Context) (*workflow.Doc, bool)
	// Deleted reports whether workflowID was deleted. It is called for
	// every digest of every workflow in the node's store group, so it must
	// be cheap (a cached set of tombstones).
	Deleted(workflowID string) bool
	// MarkDeleted records the deletion durably (a store tombstone), closes
	// the live room if any and drops what it held. It is idempotent.
	MarkDeleted(workflowID string) error
}

// PresenceSink may be implemented by a Local to hear other nodes' presence
// entries as they arrive and expire.
type PresenceSink interface {
	// RemotePresence reports nodeID's entry for workflowID; nil when the
	// node has none any more (released, cleared or expired).
	RemotePresence(workflowID, nodeID string, entry []byte)
}

// Node joins one server process to the bus. Create it with New, release it
// with Close (before closing the NATS connection).
type Node struct {
	// Static after New.
	cfg      Config
	nc       *nats.Conn
	local    Local
	logger   *slog.Logger
	metrics  *Metrics
	subj     subjects
	nodeTok  string
	inbox    string
	msgs     chan *nats.Msg       // inbound messages of every subscription
	quit     chan struct{}        // closed by Close
	wg       sync.WaitGroup       // workers and the loop
	dropSend func(*nats.Msg) bool // tests only: drop outbound messages

	mu       sync.Mutex
	closed   bool                                 // guarded by mu
	hosted   map[string]*hosted                   // guarded by mu; by workflow id
	nodeSubs []*nats.Subscription                 // guarded by mu; inbox and store group
	presence map[string]map[string]remotePresence // guarded by mu; workflow → node → entry
	dropped  map[*nats.Subscription]int           // guarded by mu; Dropped() already counted
	eph      ephemeral                            // guarded by mu; live presence to publish (ephemeral.go)
}

// hosted is a workflow this node hosts.
type hosted struct {
	tok string
	sub *nats.Subscription
	own []byte // this node's presence entry, re-published every heartbeat
}

type remotePresence struct {
	entry   []byte
	sent    int64 // sender's HeaderSent, to keep the newest
	expires time.Time
}

// New starts a node on nc. It subscribes to the node's inbox and, in
// cfg.StoreGroup, to the digests, requests and tombstones of every
// workflow, and starts the anti-entropy loop. A nil logger discards; nil
// metrics record nothing. It returns ErrInvalidConfig for a bad cfg.
func New(cfg Config, nc *nats.Conn, local Local, logger *slog.Logger, metrics *Metrics) (*Node, error) {
	return newNode(cfg, nc, local, logger, metrics, nil)
}

// newNode is New with a filter that drops outbound messages for which it
// returns true (tests); it must be safe for concurrent use.
func newNode(cfg Config, nc *nats.Conn, local Local, logger *slog.Logger, metrics *Metrics, dropSend func(*nats.Msg) bool) (*Node, error) {
	cfg, err := cfg.withDefaults(nc.MaxPayload())
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	nodeTok, _ := Token(cfg.NodeID) // validated
	n := &Node{
		cfg:      cfg,
		nc:       nc,
		local:    local,
		logger:   logger.With("node", cfg.NodeID, "region", cfg.Region),
		metrics:  metrics,
		subj:     subjects{prefix: cfg.SubjectPrefix},
		nodeTok:  nodeTok,
		msgs:     make(chan *nats.Msg, cfg.InboundQueue),
		quit:     make(chan struct{}),
		hosted:   make(map[string]*hosted),
		presence: make(map[string]map[string]remotePresence),
		dropped:  make(map[*nats.Subscription]int),
		dropSend: dropSend,
	}
	n.inbox = n.subj.inbox(nodeTok)
	group, _ := Token(cfg.StoreGroup) // validated
	sub, err := nc.ChanSubscribe(n.inbox, n.msgs)
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe %s: %w", n.inbox, err)
	}
	n.nodeSubs = append(n.nodeSubs, sub)
	for _, k := range []Kind{KindRequest, KindDigest, KindTombstone, KindLock} {
		sub, err := nc.ChanQueueSubscribe(n.subj.anyWorkflow(k), group, n.msgs)
		if err != nil {
			n.unsubscribe(n.nodeSubs)
			return nil, fmt.Errorf("cluster: subscribe %s: %w", n.subj.anyWorkflow(k), err)
		}
		n.nodeSubs = append(n.nodeSubs, sub)
	}
	for range cfg.Workers {
		n.wg.Add(1)
		go n.work()
	}
	n.wg.Add(1)
	go n.run()
	return n, nil
}

// NodeID returns the node's id (Config.NodeID or the generated default).
func (n *Node) NodeID() string { return n.cfg.NodeID }

// Host starts serving workflowID on the bus: the node subscribes to its
// subject, then publishes a request carrying Local.Context (empty when
// there is no live room yet), which every node hosting or storing the
// workflow answers with what this node lacks. Call it once the room has
// loaded from the store, so the request asks only for the difference.
// Hosting a hosted workflow does nothing. It returns ErrInvalidID,
// ErrDeleted, ErrClosed or a NATS error.
func (n *Node) Host(workflowID string) error {
	tok, err := Token(workflowID)
	if err != nil {
		return err
	}
	if n.local.Deleted(workflowID) {
		return fmt.Errorf("%w: %q", ErrDeleted, workflowID)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return ErrClosed
	}
	if _, ok := n.hosted[workflowID]; ok {
		n.mu.Unlock()
		return nil
	}
	sub, err := n.nc.ChanSubscribe(n.subj.workflowAll(tok), n.msgs)
	if err != nil {
		n.mu.Unlock()
		n.metrics.busError("subscribe", 1)
		return fmt.Errorf("cluster: host %q: %w", workflowID, err)
	}
	n.hosted[workflowID] = &hosted{tok: tok, sub: sub}
	n.metrics.hosted(len(n.hosted))
	n.mu.Unlock()

	// Make sure the server has registered the subscription before asking
	// for what we lack, so that the answers (and deltas published from now
	// on) are delivered. A failed flush is not fatal: anti-entropy repairs
	// what an unregistered subscription misses.
	if err := n.nc.FlushTimeout(2 * time.Second); err != nil {
		n.metrics.busError("flush", 1)
	}
	have, _ := n.local.Context(workflowID)
	return n.sendContext(KindRequest, n.subj.workflow(tok, KindRequest), tok, have)
}

// Sync publishes a request for what this node lacks of a hosted workflow
// now, without waiting for the next anti-entropy round (e.g. after the
// NATS connection reconnected). It returns ErrInvalidID or ErrClosed.
func (n *Node) Sync(workflowID string) error {
	tok, err := Token(workflowID)
	if err != nil {
		return err
	}
	if n.isClosed() {
		return ErrClosed
	}
	have, _ := n.local.Context(workflowID)
	return n.sendContext(KindRequest, n.subj.workflow(tok, KindRequest), tok, have)
}

// Release stops serving workflowID on the bus (the room was evicted):
// unsubscribes, withdraws this node's presence and forgets remote presence.
// Releasing a workflow not hosted does nothing.
func (n *Node) Release(workflowID string) {
	n.mu.Lock()
	h, ok := n.hosted[workflowID]
	if ok {
		delete(n.hosted, workflowID)
		n.metrics.hosted(len(n.hosted))
	}
	remote := n.presence[workflowID]
	delete(n.presence, workflowID)
	closed := n.closed
	n.mu.Unlock()
	if !ok {
		return
	}
	n.unsubscribe([]*nats.Subscription{h.sub})
	if closed {
		return
	}
	if h.own != nil {
		_ = n.send(KindPresence, n.subj.workflow(h.tok, KindPresence), h.tok, nil)
	}
	n.notifyPresence(workflowID, remote)
}

// Publish sends a delta this node merged from its own clients (workflow
// encoding) to every other node hosting the workflow, once. A delta larger
// than MaxMessageBytes, or that may pass workflow.DeltaCaps (the caps every
// peer holds a delta to), is split into chunks that commute. It does not wait
// for delivery: loss is repaired by anti-entropy. It returns ErrInvalidID,
// ErrClosed, workflow.ErrMalformed for an oversized delta that does not
// decode, or a NATS error (counted).
func (n *Node) Publish(workflowID string, delta []byte) error {
	tok, err := Token(workflowID)
	if err != nil {
		return err
	}
	if n.isClosed() {
		return ErrClosed
	}
	subject := n.subj.workflow(tok, KindDelta)
	// Peers hold deltas to workflow.DeltaCaps: one that might pass them
	// (an operation's delta can) is cut like one over the size.
	if len(delta) <= n.cfg.MaxMessageBytes && len(delta) <= workflow.DeltaCaps.SafeBytes() {
		return n.send(KindDelta, subject, tok, delta)
	}
	doc, err := workflow.Decode(delta, workflow.DocLimits)
	if err != nil {
		return fmt.Errorf("cluster: publish %q: %w", workflowID, err)
	}
	return n.sendChunks(subject, tok, doc)
}

// Delete deletes workflowID everywhere: Local.MarkDeleted records it here
// (nothing is published when that fails), the node stops hosting it, and a
// tombstone goes to every node hosting it or in a store group. Nodes that
// miss the tombstone learn it from this node's (or any other node's)
// answer to their next digest or request. It returns ErrInvalidID,
// ErrClosed or the MarkDeleted or NATS error.
func (n *Node) Delete(workflowID string) error {
	tok, err := Token(workflowID)
	if err != nil {
		return err
	}
	if n.isClosed() {
		return ErrClosed
	}
	if err := n.local.MarkDeleted(workflowID); err != nil {
		return fmt.Errorf("cluster: delete %q: %w", workflowID, err)
	}
	n.Release(workflowID)
	n.metrics.tombstone("deleted")
	n.logger.Info("workflow deleted; tombstone published", "workflow", workflowID)
	return n.send(KindTombstone, n.subj.workflow(tok, KindTombstone), tok, nil)
}

// Close unsubscribes everything, stops the loop and the workers and waits
// for them. Messages not yet handled are dropped (anti-entropy covers
// them). Close the node before its NATS connection. Closing twice does
// nothing.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	subs := n.nodeSubs
	for _, h := range n.hosted {
		subs = append(subs, h.sub)
	}
	n.hosted = map[string]*hosted{}
	n.metrics.hosted(0)
	n.mu.Unlock()
	n.unsubscribe(subs)
	close(n.quit)
	n.wg.Wait()
	return nil
}

// Hosted returns the ids of the workflows this node hosts, in no order.
func (n *Node) Hosted() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	ids := make([]string, 0, len(n.hosted))
	for id := range n.hosted {
		ids = append(ids, id)
	}
	return ids
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

func (n *Node) isHosted(workflowID string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.hosted[workflowID]
	return ok
}

func (n *Node) unsubscribe(subs []*nats.Subscription) {
	for _, s := range subs {
		if err := s.Unsubscribe(); err != nil && !n.nc.IsClosed() {
			n.logger.Debug("unsubscribe failed", "subject", s.Subject, "err", err)
		}
	}
}

// send publishes one message of kind k.
func (n *Node) send(k Kind, subject, tok string, payload []byte) error {
	m := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{}}
	m.Header.Set(HeaderVersion, BusVersion)
	m.Header.Set(HeaderKind, string(k))
	m.Header.Set(HeaderOrigin, n.nodeTok)
	m.Header.Set(HeaderWorkflow, tok)
	m.Header.Set(HeaderSent, strconv.FormatInt(n.cfg.Now().UnixMicro(), 10))
	if len(payload) > n.cfg.MaxMessageBytes {
		n.metrics.busError("oversize", 1)
	}
	n.metrics.published(k)
	if n.dropSend != nil && n.dropSend(m) {
		return nil
	}
	if err := n.nc.PublishMsg(m); err != nil {
		n.metrics.busError("publish", 1)
		return fmt.Errorf("cluster: publish %s: %w", subject, err)
	}
	return nil
}

// sendChunks sends delta as KindDelta chunks to subject.
func (n *Node) sendChunks(subject, tok string, delta *workflow.Doc) error {
	var first error
	for _, c := range delta.EncodeChunks(n.cfg.MaxMessageBytes) {
		if err := n.send(KindDelta, subject, tok, c); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// sendContext sends a digest or request carrying ctx.
func (n *Node) sendContext(k Kind, subject, tok string, ctx *crdt.Context) error {
	return n.send(k, subject, tok, contextMessage(ctx))
}

// jitter returns d scaled by a uniform factor in [0.75, 1.25).
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}
