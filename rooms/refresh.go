package rooms

import (
	"context"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// Re-reading the store. A room's document is what it loaded plus what it
// merged since; other nodes sharing the store may have made more durable
// than this room ever heard of (a node cut off from the bus keeps
// acknowledging edits, then dies; a client moves here from a node whose
// edits were not yet relayed over the bus). A refresh loads the stored
// document again and merges what the room lacks — nothing is appended (it is
// stored already) or published (the other nodes read the same store).
//
// A refresh runs:
//   - when a client delta names dots of other replicas that the room has not
//     seen (Doc.Vet's Unverified): the delta is parked, the store is read,
//     and the delta is vetted again, so that a client re-sending an edit
//     that overwrote a co-located client's edit is not stripped merely
//     because the bus was slower than the client;
//   - when another node's presence for this workflow is withdrawn or
//     expires (it released the workflow or died: whatever it made durable
//     is in the store);
//   - every Config.StoreRefreshInterval while the room is part of a
//     cluster.
//
// One load is in flight at a time, and loads start at most every
// minRefreshGap; requests in between are folded into the next load.

// minRefreshGap spaces store reloads of one room.
const minRefreshGap = 250 * time.Millisecond

// maxParkedBytes bounds the client deltas a room holds while it reloads.
const maxParkedBytes = 4 << 20

type refreshState struct {
	inflight bool
	again    bool      // asked for while a load was in flight
	last     time.Time // when the latest load started
	timer    *time.Timer
	armed    bool
	parked   []*deltaEvent // waiting for the load in flight
	bytes    int
}

type refreshResult struct {
	doc *workflow.Doc
	err error
}

// requestRefresh starts a store load unless one is in flight or started
// less than minRefreshGap ago (then it is folded into the next one).
func (rm *Room) requestRefresh() {
	rs := &rm.refresh
	if rs.inflight {
		rs.again = true
		return
	}
	if wait := minRefreshGap - rm.cfg.since(rs.last); wait > 0 {
		rs.again = true
		rm.armRefresh(wait)
		return
	}
	rs.inflight, rs.again, rs.last = true, false, rm.cfg.now()
	id, store, timeout := rm.id, rm.reg.store, rm.cfg.LoadTimeout
	ctx := rm.reg.ctx
	go func() {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		doc, err := store.Load(ctx, id)
		rm.refreshC <- refreshResult{doc, err}
	}()
}

// armRefresh arms the refresh timer to fire in d, unless it fires sooner.
func (rm *Room) armRefresh(d time.Duration) {
	rs := &rm.refresh
	if rs.armed {
		return
	}
	armTimer(&rs.timer, d)
	rs.armed = true
}

// refreshTick handles the refresh timer: a folded request, or the periodic
// reload of a clustered room.
func (rm *Room) refreshTick() {
	rs := &rm.refresh
	rs.armed = false
	if rs.again || rm.cfg.Cluster != nil {
		rm.requestRefresh()
	}
	rm.armPeriodicRefresh()
}

func (rm *Room) armPeriodicRefresh() {
	if rm.cfg.Cluster != nil && rm.cfg.StoreRefreshInterval > 0 {
		rm.armRefresh(rm.cfg.StoreRefreshInterval)
	}
}

// handleRefresh merges what the store holds that the room lacks, relays it
// to the members, and vets the parked deltas again.
func (rm *Room) handleRefresh(res refreshResult) {
	rs := &rm.refresh
	rs.inflight = false
	parked := rs.parked
	rs.parked, rs.bytes = nil, 0
	if res.err != nil {
		rm.metrics.storeError("refresh")
		rm.logger.Debug("re-reading the store failed", "err", res.err)
	} else if delta := res.doc.DeltaSince(rm.doc.Context()); !delta.IsEmpty() && !rm.stopped {
		rm.mergeStored(delta)
	}
	for _, ev := range parked {
		ev.vetted = true
		rm.handleDelta(ev)
	}
	if rs.again {
		rm.requestRefresh()
	}
}

// mergeStored merges a delta read back from the store and relays it. It is
// durable already, so it is neither appended nor published.
func (rm *Room) mergeStored(delta *workflow.Doc) {
	latest := delta.Latest()
	rm.merge(delta)
	if !latest.IsZero() {
		rm.clock.Observe(latest, rm.nowMs())
	}
	rm.metrics.refreshed()
	rm.relay.add(delta.Encode(), delta, remoteOrigin, nil)
	rm.flushRelay()
	rm.markSnapDirty()
}

// park holds ev until the store load in flight returns, and reports
// whether it did (false: too much is parked already, vet it now).
func (rm *Room) park(ev *deltaEvent) bool {
	rs := &rm.refresh
	if rs.bytes+len(ev.raw) > maxParkedBytes {
		return false
	}
	rs.parked = append(rs.parked, ev)
	rs.bytes += len(ev.raw)
	rm.requestRefresh()
	return true
}
