package rooms

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Snapshots. A snapshot is an optimization of the log: Store.Snapshot joins
// what it is given with what is stored and trims the log rows it joined, so
// any merged state may be snapshotted, including deltas whose Append has not
// committed yet (they are appended later and are then covered, which is
// harmless). Durable acks never depend on snapshots: they follow the Append
// commit only.
//
// A capture costs the loop nothing that grows with the document: the
// snapshot side keeps its own replica, fed with every delta the loop merges
// (shadow.go), and the snapshot goroutine brings it up to date, then the
// store joins, encodes, compresses and writes it, all outside the loop. At
// most one snapshot per room is in flight, and changes made meanwhile make
// the room dirty again, so later requests coalesce into the next capture.

// snapState is the room loop's snapshot bookkeeping.
type snapState struct {
	dirty       bool      // changed since the last capture
	dirtySince  time.Time // first change not captured
	lastChange  time.Time // latest change not captured
	inflight    bool
	backoff     time.Duration
	retryAt     time.Time // after a failure, no new attempt before this
	finalTried  bool      // closing: the shutdown snapshot was started
	timer       *time.Timer
	armed       bool
	nextTrigger string           // why the next snapshot is due (metrics label)
	held        []storage.RowKey // rows the room wrote since the last snapshot (snapheld.go)
	heldSent    int              // how many of held the in-flight snapshot names
}

type snapResult struct {
	err     error
	dur     time.Duration
	size    int64
	trigger string
	since   time.Time // dirtySince of the captured state
}

func (rm *Room) markSnapDirty() {
	now := rm.cfg.now()
	if !rm.snap.dirty {
		rm.snap.dirty = true
		rm.snap.dirtySince = now
	}
	rm.snap.lastChange = now
}

// snapDue returns when the next snapshot of a dirty document is due and why.
func (rm *Room) snapDue() (time.Time, string) {
	quiet := rm.snap.lastChange.Add(rm.cfg.SnapshotInterval)
	capped := rm.snap.dirtySince.Add(rm.cfg.SnapshotMaxDelay)
	due, trigger := quiet, "quiet"
	if capped.Before(quiet) {
		due, trigger = capped, "max-delay"
	}
	if rm.snap.retryAt.After(due) {
		due, trigger = rm.snap.retryAt, "retry"
	}
	return due, trigger
}

// maybeSnapshot starts a snapshot when one is due and none is in flight,
// or arms the timer for when one will be. While closing, the shutdown
// snapshot is due at once (and tried once).
func (rm *Room) maybeSnapshot() {
	if !rm.snap.dirty || rm.snap.inflight {
		return
	}
	if rm.closing != nil {
		if !rm.snap.finalTried {
			rm.snap.finalTried = true
			rm.startSnapshot("shutdown")
		}
		return
	}
	due, trigger := rm.snapDue()
	now := rm.cfg.now()
	if !now.Before(due) {
		rm.startSnapshot(trigger)
		return
	}
	// Armed once; when it fires the due time is recomputed (later changes
	// only move it later), so a busy room does not reset a timer per delta.
	if !rm.snap.armed {
		armTimer(&rm.snap.timer, due.Sub(now))
		rm.snap.armed = true
	}
}

// snapSettled reports whether closing may finish as far as snapshots go:
// nothing in flight, and the document clean or its shutdown snapshot tried.
func (rm *Room) snapSettled() bool {
	return !rm.snap.inflight && (!rm.snap.dirty || rm.snap.finalTried)
}

func (rm *Room) startSnapshot(trigger string) {
	since := rm.snap.dirtySince
	rm.snap.dirty = false
	rm.snap.inflight = true
	if rm.snap.armed {
		rm.snap.timer.Stop()
		rm.snap.armed = false
	}
	reg := rm.reg
	held := rm.snap.takeHeld()
	reg.wg.Add(1)
	rm.logger.Debug("snapshot started", "trigger", trigger)
	go func() {
		defer reg.wg.Done()
		// Every delta merged so far is queued for the shadow: it covers
		// the document as it is now, the capture.
		res := reg.writeShadow(rm, trigger, held)
		res.since = since
		rm.snapC <- &res
	}()
}

// writeShadow writes the room's shadow replica as a snapshot; held names
// the room's rows it holds (snapheld.go).
func (r *Registry) writeShadow(rm *Room, trigger string, held []storage.RowKey) (res snapResult) {
	rm.shadow.write(func(doc *workflow.Doc, _ uint64) { res = r.writeSnapshot(rm.id, doc, trigger, held) })
	return res
}

// writeSnapshot runs one Store.Snapshot outside any loop and records it.
func (r *Registry) writeSnapshot(id string, doc *workflow.Doc, trigger string, held []storage.RowKey) snapResult {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.SnapshotTimeout)
	defer cancel()
	start := r.cfg.now()
	version, err := r.store.Snapshot(ctx, id, doc, held...)
	res := snapResult{err: err, dur: r.cfg.since(start), size: -1, trigger: trigger}
	if err == nil {
		if sr, ok := r.store.(storage.StatsReporter); ok {
			res.size = sr.Stats().SnapshotBytes
		}
		r.logger.Debug("snapshot written", "workflow", id, "trigger", trigger, "version", version, "took", res.dur)
	} else {
		r.metrics.storeError("snapshot")
	}
	r.metrics.observeSnapshot(trigger, res.dur, res.size, err)
	r.noteWrite(err)
	return res
}

func (rm *Room) handleSnapshot(res snapResult) {
	rm.snap.inflight = false
	if res.err == nil {
		rm.snap.heldTrimmed()
		rm.snap.backoff = 0
		rm.snap.retryAt = time.Time{}
		return
	}
	if errors.Is(res.err, storage.ErrDeleted) {
		rm.closeDeleted("workflow deleted")
		return
	}
	// Not captured after all: dirty again since the earlier of the two
	// times, so the max delay still counts from the first change.
	if !rm.snap.dirty {
		rm.snap.dirty = true
		rm.snap.dirtySince = res.since
		rm.snap.lastChange = res.since
	} else if res.since.Before(rm.snap.dirtySince) {
		rm.snap.dirtySince = res.since
	}
	rm.snap.backoff = min(max(rm.snap.backoff*2, rm.cfg.RetryBackoff), rm.cfg.MaxRetryBackoff)
	rm.snap.retryAt = rm.cfg.now().Add(rm.snap.backoff)
	rm.logger.Warn("snapshot failed; retrying", "backoff", rm.snap.backoff, "err", res.err)
}

// evictSnapshot runs as the room goes away (it is already out of the
// registry): if the document is dirty, or the in-flight snapshot may fail,
// a background goroutine finishes the job with a bounded number of
// attempts. The room is never kept loaded for it: a store that keeps
// failing must not pin documents in memory until the node runs out of it,
// and the log already holds every durable delta, so a snapshot given up
// costs load time only.
func (rm *Room) evictSnapshot() {
	dirty, inflight := rm.snap.dirty, rm.snap.inflight
	if !dirty && !inflight {
		return
	}
	r := rm.reg
	// Every row the room wrote: those the in-flight snapshot named too,
	// should it fail (a key whose row is gone is ignored).
	held := slices.Clone(rm.snap.held)
	r.bgSnapshots.Add(1)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer r.bgSnapshots.Add(-1)
		if inflight {
			// One snapshot per document at a time: wait for the one the
			// room started. If it failed, the shadow still holds what it
			// was writing.
			res := <-rm.snapC
			if errors.Is(res.err, storage.ErrDeleted) || (res.err == nil && !dirty) {
				return
			}
		}
		backoff := r.cfg.RetryBackoff
		for attempt := 1; ; attempt++ {
			res := r.writeShadow(rm, "evict", held)
			if res.err == nil || errors.Is(res.err, storage.ErrDeleted) {
				return
			}
			if attempt >= r.cfg.EvictionSnapshotAttempts {
				r.logger.Warn("giving up the snapshot of an evicted room (its log keeps every durable delta)",
					"workflow", rm.id, "attempts", attempt, "err", res.err)
				return
			}
			select {
			case <-time.After(backoff):
			case <-r.ctx.Done():
				return
			}
			backoff = min(backoff*2, r.cfg.MaxRetryBackoff)
		}
	}()
}

// closeDeleted ends the room of a deleted workflow: every member gets the
// workflow-deleted Event and is closed with 4503, deltas not yet written are
// dropped (their clients drop their outboxes on that event) and the loop
// returns.
func (rm *Room) closeDeleted(msg string) {
	if rm.stopped {
		return
	}
	rm.stopped = true
	rm.failWaiters(errDeleted)
	rm.reg.remove(rm)
	f := &protocol.Event{WorkflowID: rm.id, Kind: protocol.EventWorkflowDeleted, Message: msg, TimestampMs: rm.nowMs()}
	rm.broadcast(f, protocol.AppendFrame(nil, f), nil)
	for _, ms := range rm.members {
		ms.m.Close(protocol.CloseWorkflowDeleted, msg)
	}
	rm.metrics.gauges(0, -float64(len(rm.members)), 0)
	clear(rm.members)
	rm.snap.dirty = false
	rm.logger.Info("room closed: workflow deleted")
}
