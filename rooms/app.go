package rooms

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Application requests: what the application's backend (the admin API)
// asks of a room without being one of its members. Each is a request
// struct with a reply channel, handled in the room's loop like any other
// inbox event (as etcd-raft's node answers status queries), so it sees and
// changes the document in the same order as the members' frames, and
// nothing of it shows in the roster.

// AppSessionID is the session id in the origin of the deltas an Apply
// relays (RemoteDelta.from.sid): no session of this or any node has it.
const AppSessionID = "application"

// OpResult is the outcome of one operation of an Apply.
type OpResult struct {
	// Err is nil when the operation was applied. Otherwise it says why the
	// room refused it, as it would have refused the same operation in an
	// Operation frame: a *protocol.Error (PERMISSION_DENIED,
	// WORKFLOW_LOCKED, OVERLOADED, …) or a workflow sentinel such as
	// workflow.ErrLocked. The document did not change.
	Err error
	// Code is the protocol code of Err (protocol.CodeFor); 0 when applied.
	Code protocol.Code
}

// Applied reports whether the operation was applied.
func (r OpResult) Applied() bool { return r.Err == nil }

// Applied is the room's answer to an Apply.
type Applied struct {
	// Results has one entry per operation tried, in order: every applied
	// one, then the first refused one, if any (the operations after it
	// were not tried).
	Results []OpResult
	// Durable receives one value once every applied operation's delta is
	// in the store (nil), or as soon as one of them cannot be: an error
	// wrapping storage.ErrDeleted (the workflow was deleted meanwhile),
	// storage.ErrCorrupt (the store refused the batch) or ErrClosed (the
	// room closed before writing it). When nothing was applied it already
	// holds nil.
	Durable <-chan error
}

// Events of the application requests.
type (
	applyEvent struct {
		ctx   context.Context // the caller's: abandoned requests are not run
		as    Identity
		ops   []workflow.Op
		reply chan *Applied
	}
	viewEvent struct{ reply chan *workflow.Doc }
	appEvent  struct {
		kind  protocol.EventKind
		msg   string
		reply chan int // members told; nil for Room.Event
	}
	rosterEvent struct{ reply chan []protocol.RosterEntry }
)

func (*applyEvent) isEvent() {}
func (viewEvent) isEvent()   {}
func (*appEvent) isEvent()   {}
func (rosterEvent) isEvent() {}

// Apply runs ops against the workflow's document one after another, on
// behalf of as, exactly as the room runs a thin client's Operation frames:
// the same admission (the role, then the built-in checks and Config.Admit,
// so workflow and block locks hold and the audit records name as.UserID),
// the server's clock, the same relay to the members (with an origin of
// as.UserID and AppSessionID) and the same publish to the cluster. It
// stops at the first refusal. as.ReplicaID is ignored (operations need
// none) and as joins no roster. The room is loaded first if it is not live,
// as Join does.
//
// It returns an error wrapping ErrClosed while shutting down, wrapping
// storage.ErrDeleted for a deleted workflow, wrapping ErrLoad when the load
// failed, ctx.Err() (see ErrorCode), or an error for an identity without a
// user id; then nothing was applied, except
// when ctx ended after the room took the request, which it then runs only
// if ctx has not ended by the time its turn comes.
func (r *Registry) Apply(ctx context.Context, workflowID string, as Identity, ops []workflow.Op) (*Applied, error) {
	if as.UserID == "" {
		// Every relayed delta names its author; clients refuse an origin
		// without one.
		return nil, errors.New("rooms: Apply needs an identity with a user id")
	}
	as.ReplicaID = ""
	ev := &applyEvent{ctx: ctx, as: as, ops: ops, reply: make(chan *Applied, 1)}
	return request(ctx, r, workflowID, ev, ev.reply)
}

// View returns the current view of the workflow: the live room's document,
// loading it first if it is not live (as Join does). The room copies its
// document (as for a snapshot); the view is computed outside its loop. It
// returns the errors of Apply.
func (r *Registry) View(ctx context.Context, workflowID string) (*workflow.View, error) {
	ev := viewEvent{reply: make(chan *workflow.Doc, 1)}
	doc, err := request(ctx, r, workflowID, ev, ev.reply)
	if err != nil {
		return nil, err
	}
	return doc.View(), nil
}

// Document returns a copy of the workflow's document, as View reads it
// (loading the room if it is not live), for exports. It returns the errors
// of Apply.
func (r *Registry) Document(ctx context.Context, workflowID string) (*workflow.Doc, error) {
	ev := viewEvent{reply: make(chan *workflow.Doc, 1)}
	return request(ctx, r, workflowID, ev, ev.reply)
}

// SendEvent sends a lifecycle Event of kind with msg to every member of the
// workflow's live room and returns how many were sent it. live is false
// when the workflow has no live room here (then nobody is told, and no room
// is loaded for it) or ctx ended first.
func (r *Registry) SendEvent(ctx context.Context, workflowID string, kind protocol.EventKind, msg string) (members int, live bool) {
	rm := r.liveRoom(workflowID)
	if rm == nil {
		return 0, false
	}
	ev := &appEvent{kind: kind, msg: msg, reply: make(chan int, 1)}
	return ask(ctx, rm, ev, ev.reply)
}

// Roster returns the roster the members of the workflow's live room see
// (this node's members and those other nodes published); ok is false when
// the workflow has no live room here or ctx ended first.
func (r *Registry) Roster(ctx context.Context, workflowID string) (entries []protocol.RosterEntry, ok bool) {
	rm := r.liveRoom(workflowID)
	if rm == nil {
		return nil, false
	}
	ev := rosterEvent{reply: make(chan []protocol.RosterEntry, 1)}
	return ask(ctx, rm, ev, ev.reply)
}

// request hands ev to the room of workflowID, starting the room if needed,
// and waits for its reply. A room that stops before taking ev (evicted,
// or closed after a panic) is started again, as Join does.
func request[T any](ctx context.Context, r *Registry, workflowID string, ev event, reply chan T) (T, error) {
	var zero T
	for {
		rm, err := r.room(workflowID)
		if err != nil {
			return zero, err
		}
		select {
		case rm.inbox <- ev:
		case <-rm.done:
			if rm.loadErr != nil {
				return zero, rm.loadErr
			}
			continue
		case <-ctx.Done():
			return zero, ctx.Err()
		}
		select {
		case v := <-reply:
			return v, nil
		case <-rm.done:
			select {
			case v := <-reply:
				return v, nil
			default:
			}
			if rm.loadErr != nil {
				return zero, rm.loadErr
			}
			// Stopped with ev in its inbox, untaken: start over.
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
}

// ---- in the room loop ----------------------------------------------------

// handleApply runs an Apply (see Registry.Apply).
func (rm *Room) handleApply(ev *applyEvent) {
	res := &Applied{}
	durable := make(chan error, 1)
	res.Durable = durable
	if err := ev.ctx.Err(); err != nil {
		// The caller gave up while the request waited: run nothing it
		// would report as unanswered.
		durable <- nil
		ev.reply <- res
		return
	}
	// The waiter counts the run itself until its last operation ran, so
	// that a write of its first deltas, done while a later one is merged
	// in steps, cannot answer Durable for the whole request.
	run := &applyRun{ev: ev, res: res, durable: durable, w: &durableWaiter{left: 1, reply: durable, user: ev.as.UserID},
		origin: protocol.Origin{UserID: ev.as.UserID, SessionID: AppSessionID}}
	rm.applyFrom(run, 0)
}

// applyRun is an Apply under way: its operations run in order, and one
// whose delta is merged in steps (stepped.go) resumes the rest once merged.
type applyRun struct {
	ev      *applyEvent
	res     *Applied
	durable chan error
	w       *durableWaiter
	origin  protocol.Origin
}

// applyItemsPerTurn bounds the operation items (workflow.OpItems) one turn
// of the loop runs of an Apply: a request may hold thousands of
// operations, and running them all in one turn would hold every member for
// as long (1,000 renames at 50,000 blocks: about 14 ms). The rest runs in
// later turns, after what is queued meanwhile; the application's later
// requests wait behind it (stepped.go).
const applyItemsPerTurn = 256

// applyFrom runs the request's operations from the i-th on, and answers
// the request after the last one or the first refusal.
func (rm *Room) applyFrom(run *applyRun, i int) {
	items := 0
	for ; i < len(run.ev.ops); i++ {
		op, next := run.ev.ops[i], i+1
		if items += workflow.OpItems(op); items > applyItemsPerTurn && items > workflow.OpItems(op) {
			// This turn ran its share: the rest in a later one.
			rm.steps = append(rm.steps, &stepping{author: appAuthor, then: func() { rm.applyFrom(run, i) }})
			return
		}
		inline, called, refused := true, false, false
		rm.runOperation(run.ev.as, "", op, appAuthor, nil, func(_ *workflow.Doc, parts []opDelta, err error) {
			called = true
			if err != nil {
				code := protocol.CodeFor(err)
				rm.metrics.refused(code)
				if code == protocol.CodeInternal {
					rm.logger.Error("refusing an application operation", "op", op.Name(), "err", err)
				}
				run.res.Results = append(run.res.Results, OpResult{Err: err, Code: code})
				if refused = true; !inline {
					rm.answerApply(run)
				}
				return
			}
			run.res.Results = append(run.res.Results, OpResult{})
			// Every member gets it, as a thin client's author does: the
			// application is none of them. The loop flushes the relay when
			// its inbox is empty, so the request's deltas go out as one
			// frame.
			for _, p := range parts { // one, or the chunks of a large one (operationChunks)
				rm.relay.add(p.raw, p.delta, run.origin, nil)
				if rm.relay.full() {
					rm.flushRelay()
				}
				run.w.left++
				rm.queueWrite(pendingDelta{raw: p.raw, delta: p.delta, applied: rm.cfg.now(), waiter: run.w})
			}
			if !inline {
				rm.applyFrom(run, next)
			}
		})
		if !called {
			// Prepared or merged in steps: the last step resumes the
			// request.
			inline = false
			return
		}
		if refused {
			break
		}
	}
	rm.answerApply(run)
}

// answerApply answers an Apply whose operations all ran, or stopped at a
// refusal.
func (rm *Room) answerApply(run *applyRun) {
	run.w.written() // the run's own count (see handleApply)
	run.ev.reply <- run.res
}

// durableWaiter is the durable signal of one Apply. Owned by the loop.
type durableWaiter struct {
	left  int        // deltas not yet written
	reply chan error // capacity 1; nil once answered
	user  string     // who asked (Config.OnDurable)
}

// written counts one of the request's deltas as written.
func (w *durableWaiter) written() {
	if w.reply == nil {
		return
	}
	if w.left--; w.left == 0 {
		w.reply <- nil
		w.reply = nil
	}
}

// failed answers err: one of the request's deltas will not be written here.
func (w *durableWaiter) failed(err error) {
	if w.reply == nil {
		return
	}
	w.reply <- err
	w.reply = nil
}

// failWaiters answers err to every Apply with a delta still pending or in
// flight: the room is dropping them.
func (rm *Room) failWaiters(err error) {
	for _, p := range rm.inflight {
		if p.waiter != nil {
			p.waiter.failed(err)
		}
	}
	for _, p := range rm.pending {
		if p.waiter != nil {
			p.waiter.failed(err)
		}
	}
}

// handleAppEvent sends a lifecycle Event to every member. An updated or
// reverted workflow was changed outside the editors, possibly in the store
// itself (`flowsync import`), so the room re-reads the store too: what it
// lacks reaches the members as remote deltas after the Event, as the
// protocol promises for those kinds.
func (rm *Room) handleAppEvent(ev *appEvent) {
	f := &protocol.Event{WorkflowID: rm.id, Kind: ev.kind, Message: ev.msg, TimestampMs: rm.nowMs()}
	n := rm.broadcast(f, protocol.AppendFrame(make([]byte, 0, 64+len(ev.msg)), f), nil)
	if ev.kind == protocol.EventWorkflowUpdated || ev.kind == protocol.EventWorkflowReverted {
		rm.requestRefresh()
	}
	if ev.reply != nil {
		ev.reply <- n
	}
}

// errDropped is the Durable error of deltas a room drops when it stops:
// ErrClosed, with why.
func errDropped(why string) error { return fmt.Errorf("%w: %s", ErrClosed, why) }

// errDeleted is the Durable error of deltas dropped because the workflow was
// deleted.
var errDeleted = fmt.Errorf("rooms: deltas dropped: %w", storage.ErrDeleted)
