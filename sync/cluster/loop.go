package cluster

import (
	"github.com/nats-io/nats.go"

	"slices"
	"time"
)

// run is the node's loop: anti-entropy rounds and presence heartbeats.
func (n *Node) run() {
	defer n.wg.Done()
	ae := time.NewTimer(jitter(n.cfg.AntiEntropyInterval))
	defer ae.Stop()
	hb := time.NewTicker(n.cfg.PresenceHeartbeat)
	defer hb.Stop()
	for {
		select {
		case <-n.quit:
			return
		case <-ae.C:
			n.antiEntropyRound()
			ae.Reset(jitter(n.cfg.AntiEntropyInterval))
		case <-hb.C:
			n.presenceTick()
		}
	}
}

// antiEntropyRound publishes a digest of every hosted workflow that is live
// here, and counts the messages NATS dropped for this node since the last
// round.
func (n *Node) antiEntropyRound() {
	type item struct{ id, tok string }
	n.mu.Lock()
	items := make([]item, 0, len(n.hosted))
	for id, h := range n.hosted {
		items = append(items, item{id, h.tok})
	}
	subs := slices.Clone(n.nodeSubs)
	for _, h := range n.hosted {
		subs = append(subs, h.sub)
	}
	n.mu.Unlock()

	n.metrics.round()
	for _, it := range items {
		select {
		case <-n.quit:
			return
		default:
		}
		ctx, ok := n.local.Context(it.id)
		if !ok {
			continue
		}
		_ = n.sendContext(KindDigest, n.subj.workflow(it.tok, KindDigest), it.tok, ctx)
	}
	n.countDropped(subs)
}

// countDropped adds what NATS dropped for subs (slow consumer) since the
// last call to the bus errors.
func (n *Node) countDropped(subs []*nats.Subscription) {
	total := 0
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range subs {
		d, err := s.Dropped()
		if err != nil {
			delete(n.dropped, s)
			continue
		}
		if d > n.dropped[s] {
			total += d - n.dropped[s]
			n.dropped[s] = d
		}
	}
	if total > 0 {
		n.metrics.busError("dropped", total)
		n.logger.Warn("NATS dropped messages for this node (slow consumer); anti-entropy repairs them", "messages", total)
	}
}
