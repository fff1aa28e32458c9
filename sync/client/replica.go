package client

import (
	"fmt"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/google/uuid"
)

// A replica id reused after its local state was lost (a program that does
// not persist, a restored backup, a stale saved document) mints dots the
// server already holds with other content: merging drops them as
// duplicates, silently. The server refuses a Join whose context lacks dots
// of the session's replica that it holds (REPLICA_BEHIND). That cannot catch
// a client that minted more dots since than the server holds: its context
// covers the server's. So the client checks Joined.ctx too, against what it
// can vouch for: the counters it loaded (Config.Doc or Dir) and those it
// sent. A server counter beyond both is a write of this id the client never
// saw. Either way the client retires the id.

// replicaBehindError ends a connection whose server holds dots of the
// client's replica that the client lacks.
type replicaBehindError struct {
	// server is the server's context when the Joined carried it; nil when
	// the Join was refused with REPLICA_BEHIND.
	server *crdt.Context
	cause  error
}

func (e *replicaBehindError) Error() string {
	if e.cause != nil {
		return "client: the server holds writes of this replica id that the client lost: " + e.cause.Error()
	}
	return "client: the server holds writes of this replica id that the client lost"
}

func (e *replicaBehindError) Unwrap() error { return e.cause }

// behindLocked returns a replicaBehindError when server holds a counter of
// the client's replica beyond what the client loaded or sent.
func (c *Client) behindLocked(server *crdt.Context) error {
	if server.Max(c.replica) <= max(c.loadMax, c.sentMax) {
		return nil
	}
	return &replicaBehindError{server: server}
}

// retireReplica switches to a fresh replica id and re-mints under it every
// edit the server may not hold as this client wrote it: the outbox, and,
// when the server's context is known, the replica's other writes it lacks
// (edits of a saved document never sent). The rest of the replica's writes
// stay as they are; the catch-up brings the server's version of those it
// holds differently. The new state is stored (Config.Dir) before the next
// Hello names the new id. Writes of the old id the server holds under other
// content and the outbox does not have (a stale Config.Doc) are lost: only
// Config.Dir keeps enough to tell them apart.
func (c *Client) retireReplica(server *crdt.Context) {
	c.remint(server)
	c.notifyStatus() // without editMu: OnStatus may call Apply
}

// remint is retireReplica without the notification.
func (c *Client) remint(server *crdt.Context) {
	c.editMu.Lock()
	defer c.editMu.Unlock()
	c.mu.Lock()
	if c.closed || c.deleted {
		c.mu.Unlock()
		return
	}
	old := c.replica
	fresh := crdt.ReplicaID(uuid.NewString())
	which := crdt.NewContext()
	for _, e := range c.out.entries {
		for _, r := range e.mine {
			which.AddRange(old, r)
		}
	}
	if server != nil {
		own := crdt.NewContext()
		for _, r := range c.doc.Context().Ranges(old) {
			own.AddRange(old, r)
		}
		lacking := own.Missing(server)
		for _, r := range c.rejected {
			lacking = lacking.Missing(r.delta.Context())
		}
		which.Merge(lacking)
	}
	doc, err := c.doc.Remint(old, fresh, which, 1)
	if err != nil {
		// Cannot happen: fresh holds no dot.
		c.mu.Unlock()
		c.log.Error("cannot re-mint under a new replica id", "err", err)
		return
	}
	c.undo.Clear() // its entries name dots of the old id that were just renamed
	var stored []*entry
	for _, e := range c.out.entries {
		d, err := e.delta.Remint(old, fresh, which, 1)
		if err != nil {
			c.mu.Unlock()
			c.log.Error("cannot re-mint under a new replica id", "err", err)
			return
		}
		e.delta, e.enc, e.count = d, d.Encode(), nil
		for i, r := range e.mine {
			e.mine[i] = crdt.Range{Lo: 1 + rank(which, old, r.Lo), Hi: 1 + rank(which, old, r.Hi)}
		}
		e.gen, e.applied, e.retries, e.solo = 0, false, 0, false
		if e.seq != 0 {
			stored = append(stored, e)
		}
	}
	last := c.clock.Last()
	c.doc = doc
	c.replica = fresh
	if c.renames != nil {
		c.renames = seedRenames(doc, fresh)
	}
	c.loadMax, c.sentMax = 0, 0
	c.clock = crdt.NewClock(fresh)
	c.clock.Observe(last, c.nowMs())
	c.recent = recent{} // durable writes of the old id: this session may not send them
	var ticket uint64
	if c.persist {
		c.queueLocked(opReplica(fresh))
		c.queueLocked(opReplaceOutbox(stored))
		ticket = c.queueSnapshotLocked()
	}
	n := c.out.len()
	c.mu.Unlock()
	c.log.Warn("the server holds writes of this replica id that the client lost; switched to a new replica id",
		"old", string(old), "new", string(fresh), "reminted", which.Len(), "unsent", n)
	if ticket != 0 {
		_ = c.flush(ticket) // a failure is logged and refuses later edits
	}
}

// rank returns how many counters of replica in set are below c: the
// offset Remint gives c.
func rank(set *crdt.Context, replica crdt.ReplicaID, c uint64) uint64 {
	n := uint64(0)
	for _, r := range set.Ranges(replica) {
		if r.Lo >= c {
			break
		}
		n += min(r.Hi, c-1) - r.Lo + 1
	}
	return n
}

// ownCatchUpLocked queues, as outbox entries, the writes of the client's
// replica that neither the server (server) nor the outbox holds, nor a
// refusal or an Apply still storing its edit covers: the edits of a document passed in Config.Doc, and
// durable ones a dead server node took with it after the recent ones
// were forgotten. They are not stored in Config.Dir: the document there
// holds them, and the next join computes them again.
func (c *Client) ownCatchUpLocked(server *crdt.Context) {
	skip := crdt.NewContext()
	for _, e := range c.out.entries {
		skip.Merge(e.delta.Context())
	}
	for e := range c.storing {
		skip.Merge(e.delta.Context()) // not stored yet: never sent before it is
	}
	for _, r := range c.rejected {
		skip.Merge(r.delta.Context())
	}
	w := c.doc.WritesSince(c.replica, server, skip)
	if w.IsEmpty() {
		return
	}
	n := 0
	for _, chunk := range w.EncodeChunks(c.maxDeltaLocked() * 3 / 4) {
		d, err := workflow.Decode(chunk, workflow.DocLimits)
		if err != nil {
			c.log.Error("cannot decode own catch-up chunk", "err", fmt.Errorf("client: %w", err))
			continue
		}
		mine := crdt.NewContext()
		for _, r := range d.Context().Ranges(c.replica) {
			mine.AddRange(c.replica, r)
		}
		c.out.add(&entry{id: c.nextOpIDLocked(), delta: d, enc: chunk, mine: mine.Missing(server).Ranges(c.replica)})
		n++
	}
	c.log.Info("sending writes of this replica that the server lacks", "dots", w.Context().Len(), "frames", n)
}
