package rooms

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/protocol"
)

// remoteOrigin is the origin of relayed deltas merged from other nodes (the
// bus does not carry the authoring session; the frame needs one).
var remoteOrigin = protocol.Origin{UserID: "flowsync-cluster", SessionID: "cluster"}

// Cluster is what the rooms tell the other nodes serving the same
// documents (*cluster.Node implements it; see package sync/cluster). With a
// nil Config.Cluster the registry is a single node, exactly as before.
//
// The rooms call Host once a room has loaded, Release when it goes away
// (eviction, deletion, shutdown), Publish with the encoding of every client
// delta and thin-client operation they admitted and merged,
// PublishPresence with the room's local roster whenever its membership
// changes, and Delete from Registry.DeleteWorkflow. Host, PublishPresence
// and Release are called in the order the rooms of one workflow come, change
// and go, from one goroutine of the registry, never from a room loop (Host
// calls back into the room for its context); Publish is called from the room
// loop and must not block.
//
// A presence entry is a Roster frame (protocol.AppendFrame of a
// *protocol.Roster) listing the node's own members of the workflow, without
// cursors or selections; an empty entry withdraws the node's presence.
// ClusterLocal.RemotePresence decodes the entries other nodes published.
type Cluster interface {
	Host(workflowID string) error
	Release(workflowID string)
	Publish(workflowID string, delta []byte) error
	PublishPresence(workflowID string, entry []byte) error
	Delete(workflowID string) error
}

// ClusterLocal is the registry seen by a cluster node (it implements
// cluster.Local and cluster.PresenceSink). Obtain it with
// Registry.ClusterLocal.
type ClusterLocal struct{ r *Registry }

// ClusterLocal returns the registry as a cluster.Local.
func (r *Registry) ClusterLocal() *ClusterLocal { return &ClusterLocal{r: r} }

// Events of the cluster path.
type (
	remoteEvent struct {
		delta *workflow.Doc
		reply chan error
	}
	contextEvent struct{ reply chan *crdt.Context }
	sinceEvent   struct {
		have  *crdt.Context
		reply chan *workflow.Doc
	}
	// remotePresenceEvent replaces node's roster entries (nil: gone).
	remotePresenceEvent struct {
		node    string
		entries []protocol.RosterEntry
	}
)

func (*remoteEvent) isEvent()         {}
func (contextEvent) isEvent()         {}
func (sinceEvent) isEvent()           {}
func (*remotePresenceEvent) isEvent() {}

// ask sends ev to rm's loop and waits for get; false when the room stopped
// (or ctx ended) first.
func ask[T any](ctx context.Context, rm *Room, ev event, reply chan T) (T, bool) {
	var zero T
	select {
	case rm.inbox <- ev:
	case <-rm.done:
		return zero, false
	case <-ctx.Done():
		return zero, false
	}
	select {
	case v := <-reply:
		return v, true
	case <-rm.done:
		select {
		case v := <-reply:
			return v, true
		default:
		}
		return zero, false
	case <-ctx.Done():
		return zero, false
	}
}

// liveRoom returns the live room of id once it has loaded, or nil.
func (r *Registry) liveRoom(id string) *Room {
	rm := r.Room(id)
	if rm == nil {
		return nil
	}
	select {
	case <-rm.loaded:
		return rm
	case <-rm.done:
		return nil
	}
}

// Apply merges a delta from another node: into the live room's loop (which
// relays it to its members and stores it, without publishing it again), or
// straight into the store when the workflow is not live here.
func (l *ClusterLocal) Apply(workflowID string, delta *workflow.Doc) error {
	r := l.r
	if r.Deleted(workflowID) {
		return fmt.Errorf("rooms: apply %q: %w", workflowID, storage.ErrDeleted)
	}
	if rm := r.liveRoom(workflowID); rm != nil {
		ev := &remoteEvent{delta: delta, reply: make(chan error, 1)}
		if err, ok := ask(r.ctx, rm, ev, ev.reply); ok {
			return err
		}
		// The room went away meanwhile: fall through to the store.
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.WriteTimeout)
	defer cancel()
	err := r.store.Append(ctx, workflowID, []storage.Delta{storage.NewDelta(delta.Encode())})
	r.noteWrite(err)
	if errors.Is(err, storage.ErrDeleted) {
		r.markTomb(workflowID)
	}
	if err != nil {
		return fmt.Errorf("rooms: apply %q to the store: %w", workflowID, err)
	}
	return nil
}

// Context returns a copy of the live room's causal context.
func (l *ClusterLocal) Context(workflowID string) (*crdt.Context, bool) {
	rm := l.r.liveRoom(workflowID)
	if rm == nil {
		return nil, false
	}
	ev := contextEvent{reply: make(chan *crdt.Context, 1)}
	c, ok := ask(l.r.ctx, rm, ev, ev.reply)
	return c, ok && c != nil
}

// DeltaSince returns what have lacks, from the live room or the store.
func (l *ClusterLocal) DeltaSince(workflowID string, have *crdt.Context) (*workflow.Doc, bool) {
	r := l.r
	if r.Deleted(workflowID) {
		return nil, false
	}
	if rm := r.liveRoom(workflowID); rm != nil {
		ev := sinceEvent{have: have, reply: make(chan *workflow.Doc, 1)}
		if d, ok := ask(r.ctx, rm, ev, ev.reply); ok && d != nil {
			return d, true
		}
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.LoadTimeout)
	defer cancel()
	doc, err := r.store.Load(ctx, workflowID)
	if err != nil {
		if errors.Is(err, storage.ErrDeleted) {
			r.markTomb(workflowID)
		} else {
			r.metrics.storeError("load")
		}
		return nil, false
	}
	if doc.Context().IsEmpty() {
		return nil, false // never written here
	}
	return doc.DeltaSince(have), true
}

// Deleted reports whether the workflow is known deleted here (a cached set
// of tombstones: deletions made or learned by this process, and deletions
// the store reported on a load or write).
func (l *ClusterLocal) Deleted(workflowID string) bool { return l.r.Deleted(workflowID) }

// MarkDeleted deletes the workflow on this node only (store tombstone, live
// room closed).
func (l *ClusterLocal) MarkDeleted(workflowID string) error {
	ctx, cancel := context.WithTimeout(l.r.ctx, l.r.cfg.WriteTimeout)
	defer cancel()
	return l.r.deleteLocal(ctx, workflowID)
}

// RemotePresence hands another node's roster entries for workflowID (nil
// when that node has none any more) to the live room, which shows them to
// its members until they change or go. Entries that do not decode as a
// Roster frame of workflowID are ignored; so is presence for a workflow not
// live here. It waits while the room's inbox is full.
func (l *ClusterLocal) RemotePresence(workflowID, nodeID string, entry []byte) {
	r := l.r
	rm := r.liveRoom(workflowID)
	if rm == nil {
		return
	}
	ev := &remotePresenceEvent{node: nodeID}
	if len(entry) > 0 {
		f, err := protocol.Decode(entry, protocol.Limits{})
		ros, ok := f.(*protocol.Roster)
		if err != nil || !ok || ros.WorkflowID != workflowID {
			r.logger.Debug("ignoring a malformed presence entry", "workflow", workflowID, "node", nodeID, "err", err)
			return
		}
		if len(ros.Entries) > 0 {
			ev.entries = ros.Entries
		}
	}
	select {
	case rm.inbox <- ev:
	case <-rm.done:
	case <-r.ctx.Done():
	}
}

// ---- tombstones ----------------------------------------------------------

type tombs struct {
	mu  sync.RWMutex
	set map[string]struct{} // guarded by mu
}

// tombstoneLookupTimeout bounds a store lookup made on a bus worker.
const tombstoneLookupTimeout = 2 * time.Second

// Deleted reports whether workflowID is deleted: known deleted in this
// process, or — for a workflow no room here holds — deleted in the store.
// Asking the store is what lets a node that restarted, or that never hosted
// the workflow, answer a cut-off region's digest with the tombstone: the
// deletion would otherwise live only in the memory of the node that made
// it. A live room's workflow is answered from memory alone (it loaded after
// any tombstone, and later deletions reach it through DeleteWorkflow or a
// tombstone heard on the bus), which keeps the relay path free of store
// reads. A failed lookup answers false; the next digest asks again.
func (r *Registry) Deleted(workflowID string) bool {
	r.tombs.mu.RLock()
	_, ok := r.tombs.set[workflowID]
	r.tombs.mu.RUnlock()
	if ok {
		return true
	}
	tr, isReader := r.store.(storage.TombstoneReader)
	if !isReader || r.live(workflowID) {
		return false
	}
	ctx, cancel := context.WithTimeout(r.ctx, tombstoneLookupTimeout)
	defer cancel()
	deleted, err := tr.IsDeleted(ctx, workflowID)
	if err != nil {
		return false
	}
	if deleted {
		r.markTomb(workflowID)
	}
	return deleted
}

// live reports whether a room of workflowID is in the registry.
func (r *Registry) live(workflowID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.rooms[workflowID]
	return ok
}

func (r *Registry) markTomb(workflowID string) {
	r.tombs.mu.Lock()
	defer r.tombs.mu.Unlock()
	if r.tombs.set == nil {
		r.tombs.set = make(map[string]struct{})
	}
	r.tombs.set[workflowID] = struct{}{}
}

// ---- hosting -------------------------------------------------------------

// hosting runs the cluster's Host, PublishPresence and Release calls on one
// goroutine, in the order the rooms asked for them: a room that goes away
// and a new room of the same workflow release and host in that order, a
// room's presence is published after its Host (a node ignores presence for
// a workflow it does not host) and before its Release, and Host (which asks
// the room for its context) never runs on a room loop.
type hosting struct {
	mu      sync.Mutex
	queue   []hostJob     // guarded by mu
	running bool          // guarded by mu: a drain goroutine is running
	idle    chan struct{} // guarded by mu: closed when the drain goroutine exits
}

type hostJob struct {
	id       string
	kind     hostKind
	presence []byte // jobPresence: the entry (nil withdraws)
}

type hostKind uint8

const (
	jobHost hostKind = iota
	jobRelease
	jobPresence
)

// queueHost queues Host(id) (host) or Release(id).
func (r *Registry) queueHost(id string, host bool) {
	kind := jobRelease
	if host {
		kind = jobHost
	}
	r.queueJob(hostJob{id: id, kind: kind})
}

// queuePresence queues PublishPresence(id, entry).
func (r *Registry) queuePresence(id string, entry []byte) {
	r.queueJob(hostJob{id: id, kind: jobPresence, presence: entry})
}

// queueJob queues job for the hosting goroutine, starting it if needed. A
// presence job of the same workflow still waiting (with no Host or Release
// of it queued after) takes the newer entry instead: only the latest
// roster matters.
func (r *Registry) queueJob(job hostJob) {
	c := r.cfg.Cluster
	if c == nil {
		return
	}
	h := &r.hosting
	h.mu.Lock()
	defer h.mu.Unlock()
	if job.kind == jobPresence {
		for i := len(h.queue) - 1; i >= 0; i-- {
			if q := &h.queue[i]; q.id == job.id {
				if q.kind == jobPresence {
					q.presence = job.presence
					return
				}
				break
			}
		}
	}
	h.queue = append(h.queue, job)
	if h.running {
		return
	}
	h.running = true
	h.idle = make(chan struct{})
	idle := h.idle
	go func() {
		defer close(idle)
		for {
			h.mu.Lock()
			if len(h.queue) == 0 {
				h.running = false
				h.mu.Unlock()
				return
			}
			job := h.queue[0]
			h.queue = h.queue[1:]
			h.mu.Unlock()
			switch job.kind {
			case jobRelease:
				c.Release(job.id)
				continue
			case jobPresence:
				if err := c.PublishPresence(job.id, job.presence); err != nil {
					r.logger.Debug("publishing presence failed (re-sent on the next change)", "workflow", job.id, "err", err)
				}
				continue
			}
			if r.ctx.Err() != nil || r.Deleted(job.id) {
				continue
			}
			if err := c.Host(job.id); err != nil {
				r.logger.Warn("hosting a workflow on the cluster failed", "workflow", job.id, "err", err)
			}
		}
	}()
}

// waitHosting waits for the queued Host and Release calls to finish.
func (r *Registry) waitHosting(ctx context.Context) {
	h := &r.hosting
	h.mu.Lock()
	idle, running := h.idle, h.running
	h.mu.Unlock()
	if !running {
		return
	}
	select {
	case <-idle:
	case <-ctx.Done():
	}
}

// ---- in the room loop ----------------------------------------------------

// handleRemote merges a delta from another node: the same path as an
// admitted client delta (merge, clock, relay, store) without session
// admission and without publishing it again.
func (rm *Room) handleRemote(ev *remoteEvent) {
	if rm.stopped {
		ev.reply <- storage.ErrDeleted
		return
	}
	d := ev.delta
	if rm.doc.Context().Covers(d.Context()) {
		ev.reply <- nil // a duplicate: nothing new
		return
	}
	if rm.closing != nil {
		ev.reply <- ErrClosed
		return
	}
	raw := d.Encode()
	if err := rm.canTakeWork(len(raw)); err != nil {
		ev.reply <- err // anti-entropy offers it again
		return
	}
	if latest := d.Latest(); !latest.IsZero() {
		rm.clock.Observe(latest, rm.nowMs())
	}
	rm.mergeThen(remoteAuthor, d, func() {
		rm.relay.add(raw, d, remoteOrigin, nil)
		if len(rm.inbox) == 0 || rm.relay.full() {
			rm.flushRelay()
		}
		rm.queueWrite(pendingDelta{raw: raw, delta: d, applied: rm.cfg.now()})
		ev.reply <- nil
	})
}

// handleRemotePresence replaces a node's roster entries and shows the new
// roster to the members.
func (rm *Room) handleRemotePresence(ev *remotePresenceEvent) {
	if ev.entries == nil {
		if _, ok := rm.remote[ev.node]; !ok {
			return
		}
		delete(rm.remote, ev.node)
		// The node released the workflow or died: what it made durable
		// may never reach us over the bus.
		rm.requestRefresh()
	} else {
		if rm.remote == nil {
			rm.remote = make(map[string][]protocol.RosterEntry)
		}
		rm.remote[ev.node] = ev.entries
	}
	rm.broadcastRoster(nil)
}

// publishPresence hands the room's local roster to the cluster (through the
// registry's hosting goroutine: it never blocks the loop). Cursors,
// selections and text carets are left out: they cross nodes as live frames
// (clusterlive.go), and a copy a heartbeat old would be stale.
func (rm *Room) publishPresence() {
	if rm.cfg.Cluster == nil {
		return
	}
	var entry []byte
	if local := rm.localRoster(); len(local) > 0 {
		for i := range local {
			local[i].Cursor, local[i].Selection, local[i].Caret = nil, protocol.Selection{}, protocol.TextCaret{}
		}
		entry = protocol.AppendFrame(nil, &protocol.Roster{WorkflowID: rm.id, Entries: local})
	}
	rm.reg.queuePresence(rm.id, entry)
}

// publish hands an admitted, merged delta to the cluster.
func (rm *Room) publish(raw []byte) {
	if c := rm.cfg.Cluster; c != nil {
		if err := c.Publish(rm.id, raw); err != nil {
			rm.logger.Debug("publishing a delta to the cluster failed (anti-entropy repairs it)", "err", err)
		}
	}
}
