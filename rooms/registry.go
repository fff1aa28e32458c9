package rooms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowsync/flowsync/internal/workers"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Errors returned by Registry and Room methods. Use ErrorCode to turn any
// error from this package into the code of an Error or Nack frame.
var (
	// ErrClosed: the registry is shutting down (or the room was closed);
	// no new joins or edits are taken. Clients reconnect after the 1012.
	ErrClosed = errors.New("rooms: shutting down")
	// ErrLoad wraps a failed Store.Load (other than storage.ErrDeleted):
	// the join may succeed later.
	ErrLoad = errors.New("rooms: loading the workflow failed")
)

// ErrorCode maps an error returned by Join to the error code for the
// client: ErrClosed → OVERLOADED (retryable), storage.ErrDeleted →
// WORKFLOW_DELETED, ErrUnknownWorkflow → UNKNOWN_WORKFLOW, ErrLoad →
// STORAGE_UNAVAILABLE (retryable), ErrLockStore → STORAGE_UNAVAILABLE,
// others as
// protocol.CodeFor.
func ErrorCode(err error) protocol.Code {
	switch {
	case errors.Is(err, ErrClosed):
		return protocol.CodeOverloaded
	case errors.Is(err, storage.ErrDeleted):
		return protocol.CodeWorkflowDeleted
	case errors.Is(err, ErrUnknownWorkflow):
		return protocol.CodeUnknownWorkflow
	case errors.Is(err, ErrLoad), errors.Is(err, ErrLockStore):
		return protocol.CodeStorageUnavailable
	}
	return protocol.CodeFor(err)
}

// Registry holds the live rooms of this node. Its methods are safe for
// concurrent use.
type Registry struct {
	// Static after construction.
	cfg     Config
	store   storage.Store
	logger  *slog.Logger
	metrics *Metrics
	ctx     context.Context // parent of every store call; cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // room loops, their store writers and snapshots
	workers *workers.Pool  // runs the rooms' store writes on goroutines whose stacks have grown

	mu      sync.Mutex
	rooms   map[string]*Room // guarded by mu
	closing bool             // guarded by mu

	bgSnapshots atomic.Int64 // snapshots of evicted rooms still running

	tombs   tombs     // deletions known to this process (cluster.go)
	hosting hosting   // Cluster Host/Release calls, in order (cluster.go)
	locks   lockCache // workflow locks, cached from the store (workflowlock.go)

	healthMu sync.Mutex
	health   StoreHealth // guarded by healthMu
}

// StoreHealth is what the rooms have seen of the store's writes (Append and
// Snapshot, over all rooms): OK until a write fails, then failing until the
// next write succeeds. Refusals that retrying cannot fix (a deleted
// workflow, a corrupt delta) and writes aborted by Close do not count.
type StoreHealth struct {
	OK bool
	// FailingSince is when the current run of failures began (zero when
	// OK).
	FailingSince time.Time
	// LastError is the latest failure's message and LastErrorAt its time
	// (kept after recovery).
	LastError   string
	LastErrorAt time.Time
}

// NewRegistry returns a registry whose rooms load from and append to store.
// A nil logger discards; a nil metrics records nothing. It returns an error
// naming the field when cfg is invalid.
func NewRegistry(cfg Config, store storage.Store, logger *slog.Logger, m *Metrics) (*Registry, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("rooms: NewRegistry needs a store")
	}
	if _, ok := store.(storage.Catalog); cfg.RequireExisting && !ok {
		return nil, fmt.Errorf("rooms: Config.RequireExisting: %w (%T)", ErrNoCatalog, store)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Registry{
		cfg:     cfg.withDefaults(),
		store:   store,
		logger:  logger,
		metrics: m,
		ctx:     ctx,
		cancel:  cancel,
		rooms:   make(map[string]*Room),
		health:  StoreHealth{OK: true},
		workers: workers.New(0, 0),
	}, nil
}

// ServerReplicaID returns the replica id that authors thin-client
// operations on this node.
func (r *Registry) ServerReplicaID() string { return string(r.cfg.ServerReplicaID) }

// Len returns the number of live rooms.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.rooms)
}

// Join adds m to the room of workflowID, loading the document first if the
// room is not live (one load, however many join at once). When it returns,
// the room has queued m's whole reply in one Member.EnqueueReply — Joined,
// then the CatchUp frames of what opts.Have lacks — and sent the other
// members the new roster.
//
// Joining a room the member is already in re-joins it (a fresh catch-up).
// It returns an error wrapping ErrClosed while shutting down, wrapping
// storage.ErrDeleted for a deleted workflow, wrapping ErrLoad when the load
// failed, or ctx.Err(); see ErrorCode.
func (r *Registry) Join(ctx context.Context, workflowID string, m Member, opts JoinOptions) (*Room, error) {
	for {
		rm, err := r.room(workflowID)
		if err != nil {
			return nil, err
		}
		ev := &joinEvent{m: m, opts: opts, reply: make(chan joinReply, 1)}
		select {
		case rm.inbox <- ev:
		case <-rm.done:
			if rm.loadErr != nil {
				return nil, rm.loadErr
			}
			continue // evicted or closed: start over
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		select {
		case rep := <-ev.reply:
			if rep.err != nil {
				return nil, rep.err
			}
			return rm, nil
		case <-rm.done:
			select {
			case rep := <-ev.reply:
				if rep.err != nil {
					return nil, rep.err
				}
				return rm, nil
			default:
			}
			if rm.loadErr != nil {
				return nil, rm.loadErr
			}
		case <-ctx.Done():
			rm.Leave(m) // in case the room adds it after all
			return nil, ctx.Err()
		}
	}
}

// room returns the live room of workflowID, starting it if needed.
func (r *Registry) room(workflowID string) (*Room, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return nil, ErrClosed
	}
	if rm, ok := r.rooms[workflowID]; ok {
		return rm, nil
	}
	rm := newRoom(r, workflowID)
	r.rooms[workflowID] = rm
	r.metrics.gauges(1, 0, 0)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		rm.run()
	}()
	return rm, nil
}

// remove forgets rm if it is still the live room of its workflow.
func (r *Registry) remove(rm *Room) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rooms[rm.id] == rm {
		delete(r.rooms, rm.id)
		r.metrics.gauges(-1, 0, 0)
	}
}

// Room returns the live room of workflowID, or nil.
func (r *Registry) Room(workflowID string) *Room {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rooms[workflowID]
}

// Close shuts the registry down gracefully: no new joins; every room
// writes what is waiting for the store (until ctx is done), sends the
// Durable acks, closes its members with 1012 (service restart) and stops.
// It returns ctx.Err() if ctx ended first (the undurable deltas are still in
// the clients' outboxes and are resent after reconnecting). Safe to call
// more than once.
func (r *Registry) Close(ctx context.Context) error {
	// Parked store writers end now, running ones after their write.
	defer r.workers.Close()
	r.mu.Lock()
	r.closing = true
	live := make([]*Room, 0, len(r.rooms))
	for _, rm := range r.rooms {
		live = append(live, rm)
	}
	r.mu.Unlock()

	for _, rm := range live {
		select {
		case rm.closeC <- ctx:
		case <-rm.done:
		}
	}
	var err error
	for _, rm := range live {
		select {
		case <-rm.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			break
		}
	}
	waited := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(waited)
	}()
	if err == nil {
		// The rooms are done; let the snapshots of rooms evicted just
		// before finish too, within ctx.
		select {
		case <-waited:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	r.waitHosting(ctx)
	r.cancel() // aborts store calls still running
	select {
	case <-waited:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("rooms: close: %w", err)
	}
	return nil
}

// StoreHealth reports whether store writes are currently succeeding; the
// server's /readyz turns 503 while they fail.
func (r *Registry) StoreHealth() StoreHealth {
	r.healthMu.Lock()
	defer r.healthMu.Unlock()
	return r.health
}

// noteWrite records the outcome of one Append or Snapshot.
func (r *Registry) noteWrite(err error) {
	if err != nil && (errors.Is(err, storage.ErrDeleted) || errors.Is(err, storage.ErrCorrupt) || r.ctx.Err() != nil) {
		return
	}
	r.healthMu.Lock()
	defer r.healthMu.Unlock()
	h := &r.health
	if err == nil {
		if !h.OK {
			r.logger.Info("store writes succeed again", "failing_for", r.cfg.since(h.FailingSince).Round(time.Millisecond))
			h.OK, h.FailingSince = true, time.Time{}
			r.metrics.storeReady(true)
		}
		return
	}
	now := r.cfg.now()
	if h.OK {
		r.logger.Warn("store writes failing: degraded until one succeeds", "err", err)
		h.OK, h.FailingSince = false, now
		r.metrics.storeReady(false)
	}
	h.LastError, h.LastErrorAt = err.Error(), now
}

// BackgroundSnapshots returns how many snapshots of evicted rooms are still
// being written (for tests and metrics).
func (r *Registry) BackgroundSnapshots() int { return int(r.bgSnapshots.Load()) }

// DeleteWorkflow deletes a workflow: the store deletes it first (a
// tombstone, so no node loads or writes it again; see storage.Store.Delete),
// then the live room, if any, sends its members the workflow-deleted Event,
// closes them with 4503 (protocol.CloseWorkflowDeleted), drops the deltas
// not yet written and goes away. Joins after it fail with
// storage.ErrDeleted. If the store delete fails, nothing changes and the
// error is returned (retry it). The admin API calls this.
//
// Deleting the store first closes the race with a join: a room created
// after the tombstone fails its load; a room that loaded before it is live
// and found here (rooms are registered before they load).
//
// With Config.Cluster set, the deletion goes through the cluster
// (Cluster.Delete), which deletes here (through ClusterLocal.MarkDeleted)
// and then tells every other node; deleted stays deleted everywhere.
func (r *Registry) DeleteWorkflow(ctx context.Context, workflowID string) error {
	if c := r.cfg.Cluster; c != nil {
		if err := c.Delete(workflowID); err != nil {
			return fmt.Errorf("rooms: delete %q: %w", workflowID, err)
		}
		return nil
	}
	return r.deleteLocal(ctx, workflowID)
}

// deleteLocal deletes a workflow on this node only.
func (r *Registry) deleteLocal(ctx context.Context, workflowID string) error {
	if err := r.store.Delete(ctx, workflowID); err != nil {
		r.metrics.storeError("delete")
		return fmt.Errorf("rooms: delete %q: %w", workflowID, err)
	}
	r.markTomb(workflowID)
	rm := r.Room(workflowID)
	if rm == nil {
		return nil
	}
	ev := deleteEvent{reply: make(chan struct{})}
	select {
	case rm.inbox <- ev:
	case <-rm.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ev.reply:
	case <-rm.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
