package client

import (
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/sync/protocol"
)

// A server relays an edit as soon as it has merged it, before it is stored.
// If that server crashes (or the client fails over to a node that never
// heard the edit), the edit is gone from the deployment while the clients
// that received it still show it, and their later edits depend on it: the
// replicas never converge again. So the client keeps every delta a server
// sent it with the server's receipt (a MAC only nodes of the deployment can
// make) until the server says it is durable (Stable, or a Joined of the
// same room incarnation whose durable mark covers it). When the client
// joins another incarnation (Joined.epoch differs) whose context lacks
// part of a kept delta, it hands the delta back, byte for byte with its
// receipt, in a Vouch frame before it resends its own edits, which may
// depend on it; the server checks the receipt and merges the delta as an
// edit some node of the deployment admitted.
//
// Kept deltas are bounded (maxKeptItems, maxKeptBytes), oldest dropped
// first and counted (ReceiptStats.Dropped): past the bound, a crash can
// lose another user's edit that was never stored.

// maxKeptItems and maxKeptBytes bound the kept deltas. Variables so that
// tests can reach the bound sooner.
var (
	maxKeptItems = 8192
	maxKeptBytes = 16 << 20
)

// kept is one delta received from a server with its receipt, kept until the
// server reports it durable.
type kept struct {
	seq     uint64 // its key in Config.Dir's kept bucket; 0 when not stored there
	epoch   string // the room incarnation that sent it (Joined.Epoch)
	relay   uint64 // its relay sequence in epoch (catch-up: Joined.Seq)
	enc     []byte // the delta exactly as received: the receipt covers these bytes
	receipt protocol.Receipt
	ctx     *crdt.Context // the delta's causal context
	gone    bool          // no longer kept: answers to a Vouch of it are ignored

	// Vouching, set at a join of another incarnation that lacks part of
	// ctx. Like an outbox entry, a Vouch is due when gen is not the
	// current connection's and retryAt has passed.
	vouch   bool
	op      string // the Vouch's op id, kept across retries
	gen     uint64 // connection generation the Vouch was last sent on
	retries int    // retryable Nacks so far
	retryAt time.Time
}

// keptSet is the client's kept deltas, oldest first; guarded by the
// Client's mutex.
type keptSet struct {
	items []*kept
	bytes int
	// Counters since New, reported by Client.Receipts.
	dropped, vouched, refused int
}

// ReceiptStats describes the deltas of other sessions the client keeps with
// their receipts, to hand back to a server that lost them.
type ReceiptStats struct {
	Kept  int // deltas kept now
	Bytes int // their size
	// Dropped counts deltas dropped since New because the bound (8,192
	// deltas, 16 MiB) was reached, oldest first: a crash of the server
	// can lose such a delta for good if it was never stored.
	Dropped int
	// Vouched counts deltas handed back in a Vouch and made durable by the
	// server since New.
	Vouched int
	// Refused counts deltas whose Vouch the server refused for good since
	// New (BAD_RECEIPT: a key the server no longer holds, or a node of
	// another deployment; TOO_LARGE; …), and deltas too large to vouch.
	Refused int
}

// Receipts reports the kept deltas (see ReceiptStats).
func (c *Client) Receipts() ReceiptStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := &c.kept
	return ReceiptStats{Kept: len(k.items), Bytes: k.bytes, Dropped: k.dropped, Vouched: k.vouched, Refused: k.refused}
}

// add appends k and returns the oldest deltas it pushed past the bound.
func (s *keptSet) add(k *kept) (evicted []*kept) {
	s.items = append(s.items, k)
	s.bytes += len(k.enc)
	n := 0
	for len(s.items)-n > maxKeptItems || (s.bytes > maxKeptBytes && len(s.items)-n > 1) {
		old := s.items[n]
		old.gone = true
		s.bytes -= len(old.enc)
		evicted = append(evicted, old)
		n++
	}
	if n > 0 {
		clear(s.items[:n])
		s.items = s.items[n:]
		s.dropped += n
	}
	return evicted
}

// removeIf drops the deltas drop reports and returns them.
func (s *keptSet) removeIf(drop func(k *kept) bool) (removed []*kept) {
	out := s.items[:0]
	for _, k := range s.items {
		if drop(k) {
			k.gone = true
			s.bytes -= len(k.enc)
			removed = append(removed, k)
			continue
		}
		out = append(out, k)
	}
	clear(s.items[len(out):])
	s.items = out
	return removed
}

// remove drops k, if it is still kept.
func (s *keptSet) remove(k *kept) bool {
	if k.gone {
		return false
	}
	return len(s.removeIf(func(o *kept) bool { return o == k })) == 1
}

// keepLocked keeps k (and stores it with Config.Dir) unless the connection
// already knows it durable; the delta is in the document already.
func (c *Client) keepLocked(cn *conn, k *kept) {
	// Without an epoch no Stable frame can ever name the delta durable.
	if c.deleted || cn.epoch == "" || k.epoch != cn.epoch || k.relay <= cn.stable {
		return
	}
	if c.persist {
		k.seq = c.nextSeqLocked()
		c.queueLocked(opKeep(k))
		c.store.bytes += len(k.enc)
	}
	if evicted := c.kept.add(k); len(evicted) > 0 {
		c.unkeepLocked(evicted)
		c.log.Warn("too many deltas kept with receipts; dropped the oldest", "dropped", len(evicted), "kept", len(c.kept.items))
	}
}

// unkeepLocked removes dropped deltas from Config.Dir.
func (c *Client) unkeepLocked(gone []*kept) {
	if !c.persist || len(gone) == 0 {
		return
	}
	var seqs []uint64
	for _, k := range gone {
		if k.seq != 0 {
			seqs = append(seqs, k.seq)
		}
	}
	if len(seqs) > 0 {
		c.queueLocked(opUnkeep(seqs))
	}
}

// onStable drops the deltas the room made durable.
func (c *Client) onStable(cn *conn, f *protocol.Stable) {
	c.mu.Lock()
	if f.Epoch == cn.epoch {
		cn.stable = max(cn.stable, f.Seq)
	}
	c.unkeepLocked(c.kept.removeIf(func(k *kept) bool { return k.epoch == f.Epoch && k.relay <= f.Seq }))
	flush := c.flushDueLocked()
	c.mu.Unlock()
	if flush {
		c.flushAll()
	}
}

// joinedLocked sorts the kept deltas at a join of room incarnation epoch
// whose durable mark is stable and whose context is have: the durable ones
// of epoch are dropped, the others of epoch kept as they are (that room
// still holds them in memory), those of another incarnation dropped when
// have covers them and otherwise marked for a Vouch, which the writer sends
// before the outbox. A server without receipts (no epoch) is handed
// nothing. Deltas larger than the server's delta limit cannot be vouched:
// they are dropped and counted as refused.
func (c *Client) joinedLocked(epoch string, stable uint64, have *crdt.Context) {
	limit := c.maxDeltaLocked()
	refused := 0
	gone := c.kept.removeIf(func(k *kept) bool {
		k.vouch, k.gen, k.retries, k.retryAt = false, 0, 0, time.Time{}
		switch {
		case epoch == "":
			return false
		case k.epoch == epoch:
			return k.relay <= stable
		case have.Covers(k.ctx):
			return true
		case len(k.enc) > limit:
			refused++
			return true
		}
		k.vouch, k.op = true, c.nextOpIDLocked()
		return false
	})
	c.kept.refused += refused
	c.unkeepLocked(gone)
	if refused > 0 {
		c.log.Warn("kept deltas too large to hand back; dropped", "dropped", refused, "limit", limit)
	}
}

// vouchesLocked appends the Vouch frames due on cn to frames, oldest first,
// and reports whether all of them went: the outbox waits until they have,
// since the client's own edits may depend on what they hand back.
func (c *Client) vouchesLocked(cn *conn, now time.Time, frames [][]byte, later func(time.Duration)) ([][]byte, bool) {
	for _, k := range c.kept.items {
		switch {
		case !k.vouch || k.gen == cn.gen:
			continue
		case k.retryAt.After(now):
			later(k.retryAt.Sub(now))
			continue
		case !cn.bucket.take(now):
			later(cn.bucket.wait(now))
			return frames, false
		}
		b, err := protocol.Encode(&protocol.Vouch{WorkflowID: c.cfg.WorkflowID, OpID: k.op, Delta: k.enc, Receipt: k.receipt})
		if err != nil {
			// Only a receipt that broke the frame's bounds gets here: no
			// server would accept it.
			c.log.Error("cannot encode vouch; dropping the delta", "op", k.op, "err", err)
			k.vouch = false
			continue
		}
		k.gen = cn.gen
		cn.vouches[k.op] = k
		frames = append(frames, b)
	}
	return frames, true
}

// vouchAnsweredLocked handles a Durable or Nack for op if op is a Vouch of cn,
// and reports whether it was: durable or refused for good drops the delta,
// a retryable refusal resends it after backoff.
func (c *Client) vouchAnsweredLocked(cn *conn, op string, n *protocol.Nack) bool {
	k := cn.vouches[op]
	if k == nil {
		return false
	}
	delete(cn.vouches, op)
	switch {
	case k.gone || k.gen != cn.gen:
	case n == nil:
		if c.kept.remove(k) {
			c.kept.vouched++
			c.unkeepLocked([]*kept{k})
		}
	case n.Retryable:
		delay := c.cfg.Backoff.Delay(k.retries, nil)
		k.retries++
		k.gen, k.retryAt = 0, time.Now().Add(delay)
		cn.kick()
		c.log.Info("vouch refused for now; resending", "op", op, "code", n.Code, "delay", delay)
	default:
		if c.kept.remove(k) {
			c.kept.refused++
			c.unkeepLocked([]*kept{k})
		}
		c.log.Warn("vouch refused; dropping the delta", "op", op, "code", n.Code, "msg", n.Message)
	}
	return true
}
