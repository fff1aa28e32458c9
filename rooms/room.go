package rooms

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Room is the live document of one workflow. Its methods hand work to the
// room's goroutine and return without waiting for it (they wait only while
// the room's inbox is full). Calls from one goroutine are handled in the
// order they were made.
type Room struct {
	// Static after construction.
	id       string
	reg      *Registry
	cfg      *Config
	logger   *slog.Logger
	metrics  *Metrics
	inbox    chan event
	closeC   chan context.Context // Registry.Close
	written  chan *writeResult    // the in-flight store write's result; capacity 1 (pointers: see turn)
	snapC    chan *snapResult     // the in-flight snapshot's result; capacity 1 (pointers: see turn)
	refreshC chan refreshResult   // the in-flight store reload's result; capacity 1
	done     chan struct{}        // closed when run returns
	loaded   chan struct{}        // closed once the document has loaded
	loadErr  error                // set before done is closed, when the load failed

	// Owned by run.
	doc           *workflow.Doc
	clock         *crdt.Clock
	fullState     fullState
	base          baseState    // the document as loaded, encoded (capture.go)
	full          *fullCatchUp // catch-ups made off the loop (capture.go); nil until the first
	members       map[Member]*memberState
	remote        map[string][]protocol.RosterEntry // other nodes' members, by node id (shown, never stored)
	slow          []*memberState                    // queue overflowed; removed after the current event
	dirty         []*memberState                    // presence or drag waiting to be relayed
	relay         relayBatch                        // merged deltas waiting to be relayed (see relay.go)
	pending       []pendingDelta                    // merged, waiting for the next store write
	pendingBytes  int
	inflight      []pendingDelta // the batch being written (or waiting to be retried)
	inflightBytes int
	backoff       time.Duration
	retry         *time.Timer
	retryArmed    bool
	linger        *time.Timer // MinWriteInterval since lastWrite
	lingerArmed   bool
	lastWrite     time.Time
	idle          *time.Timer
	idleArmed     bool
	closing       context.Context // non-nil once Registry.Close asked
	stopped       bool            // the workflow was deleted: the loop returns
	snap          snapState
	shadow        shadow       // what snapshots write (shadow.go); not owned by run
	docSize       docSizeState // docsize.go
	refresh       refreshState // store reloads (refresh.go)
	receipts      receiptState // epoch, relay sequence, durable mark (receipts.go)
	steps         []*stepping  // removals being merged in steps (stepped.go), the next one first
	stepYield     int          // inbox events to handle before the next step
	turnEnds      func()       // Config.onTurn's end of the current turn
}

type memberState struct {
	m Member
	// lastSeq is the latest relay sequence this member was sent edits
	// under that may not be durable, stableSent the latest durable mark it
	// was told (receipts.go).
	lastSeq    uint64
	stableSent uint64
	id         Identity
	entry      protocol.RosterEntry
	drag       map[string]protocol.Point // positions not yet relayed
	presence   bool                      // presence changed, not yet relayed
	queued     bool                      // in Room.dirty
	removed    bool
	// undo holds a thin client's operations for its undo and redo
	// Operations (undo.go); nil until its first operation.
	undo *workflow.UndoManager
	// wait is set while the member waits for a catch-up made off the
	// loop (capture.go); what is queued to it meanwhile is held there.
	wait *joinWait
}

type pendingDelta struct {
	m    Member // nil for a delta of another node or of an Apply
	opID string
	raw  []byte
	// unmerged: a vouched delta the document already covered, written
	// without a merge, so the shadow may not hold it (see snapHeld).
	unmerged bool
	delta    *workflow.Doc // raw decoded, merged (immutable), for the writer's join; nil in a backlog (writebatch.go)
	seq      uint64        // relayed in this frame or an earlier one (receipts.go)
	applied  time.Time
	waiter   *durableWaiter // the Apply it belongs to, if any
}

// Events a room's inbox carries.
type (
	event     interface{ isEvent() }
	joinEvent struct {
		m     Member
		opts  JoinOptions
		reply chan joinReply
	}
	joinReply  struct{ err error }
	leaveEvent struct{ m Member }
	deltaEvent struct {
		m     Member
		opID  string
		raw   []byte
		delta *workflow.Doc
		// vetted: the delta was parked for a store reload already; what is
		// still unverified now is left out rather than parked again.
		vetted bool
	}
	vouchEvent struct {
		m       Member
		opID    string
		raw     []byte
		delta   *workflow.Doc
		receipt protocol.Receipt
	}
	opEvent struct {
		m    Member
		opID string
		op   workflow.Op
	}
	presenceEvent struct {
		m      Member
		cursor *protocol.Point
		sel    protocol.Selection
		caret  protocol.TextCaret
	}
	dragEvent struct {
		m   Member
		pos map[string]protocol.Point
	}
	snapshotEvent struct {
		reply  chan *workflow.Doc
		inline bool // copy in the loop (capture.go)
	}
	deleteEvent struct{ reply chan struct{} }
)

func (*joinEvent) isEvent()     {}
func (leaveEvent) isEvent()     {}
func (*deltaEvent) isEvent()    {}
func (*opEvent) isEvent()       {}
func (*vouchEvent) isEvent()    {}
func (*presenceEvent) isEvent() {}
func (*dragEvent) isEvent()     {}
func (snapshotEvent) isEvent()  {}
func (deleteEvent) isEvent()    {}

func newRoom(r *Registry, id string) *Room {
	return &Room{
		id:       id,
		reg:      r,
		cfg:      &r.cfg,
		logger:   r.logger.With("workflow", id),
		metrics:  r.metrics,
		inbox:    make(chan event, r.cfg.InboxSize),
		closeC:   make(chan context.Context),
		written:  make(chan *writeResult, 1),
		snapC:    make(chan *snapResult, 1),
		refreshC: make(chan refreshResult, 1),
		done:     make(chan struct{}),
		loaded:   make(chan struct{}),
		members:  make(map[Member]*memberState),
	}
}

// WorkflowID returns the room's workflow id.
func (rm *Room) WorkflowID() string { return rm.id }

// send hands ev to the loop; false if the room has stopped.
func (rm *Room) send(ev event) bool {
	select {
	case rm.inbox <- ev:
		return true
	case <-rm.done:
		return false
	}
}

// Leave removes m from the room (a Leave frame or a disconnect); the other
// members get the new roster. Leaving a room m is not in does nothing.
func (rm *Room) Leave(m Member) { rm.send(leaveEvent{m}) }

// SubmitVouch hands the room a delta that a client received from a node of
// the deployment, with that node's receipt (receipts.go); raw is kept
// as SubmitDelta keeps it. The member gets Applied and later Durable, or a
// Nack (BAD_RECEIPT when the receipt does not check).
func (rm *Room) SubmitVouch(m Member, opID string, raw []byte, delta *workflow.Doc, r protocol.Receipt) {
	if !rm.send(&vouchEvent{m: m, opID: opID, raw: raw, delta: delta, receipt: r}) {
		nack(m, opID, protocol.NewError(protocol.CodeOverloaded, "room closed"))
	}
}

// SubmitDelta asks the room to admit and merge delta, which a Delta frame
// carried as raw (its workflow encoding, relayed and stored as is; the room
// keeps raw, so the caller must not reuse its bytes). The member gets
// Applied and later Durable, or a Nack.
func (rm *Room) SubmitDelta(m Member, opID string, raw []byte, delta *workflow.Doc) {
	if !rm.send(&deltaEvent{m: m, opID: opID, raw: raw, delta: delta}) {
		nack(m, opID, protocol.NewError(protocol.CodeOverloaded, "room closed"))
	}
}

// SubmitOperation asks the room to run a thin client's operation against
// its document with the server's clock, then treat the resulting delta like
// a submitted one (the author also receives it as a RemoteDelta).
func (rm *Room) SubmitOperation(m Member, opID string, op workflow.Op) {
	if !rm.send(&opEvent{m: m, opID: opID, op: op}) {
		nack(m, opID, protocol.NewError(protocol.CodeOverloaded, "room closed"))
	}
}

// Presence replaces m's cursor and selection and relays them to the others
// with m's identity. Never stored.
func (rm *Room) Presence(m Member, cursor *protocol.Point, sel protocol.Selection, caret protocol.TextCaret) {
	rm.send(&presenceEvent{m: m, cursor: cursor, sel: sel, caret: caret})
}

// Drag relays live positions of blocks m is dragging. Never merged or
// stored; under load, positions of one block are coalesced (latest wins).
func (rm *Room) Drag(m Member, positions map[string]protocol.Point) {
	rm.send(&dragEvent{m: m, pos: positions})
}

// Event sends a lifecycle notice to every member (Registry.SendEvent waits
// for it and counts them).
func (rm *Room) Event(kind protocol.EventKind, msg string) {
	rm.send(&appEvent{kind: kind, msg: msg})
}

// Snapshot returns a copy of the room's document, or ErrClosed if the room
// has stopped.
func (rm *Room) Snapshot(ctx context.Context) (*workflow.Doc, error) {
	ev := snapshotEvent{reply: make(chan *workflow.Doc, 1)}
	select {
	case rm.inbox <- ev:
	case <-rm.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case d := <-ev.reply:
		return d, nil
	case <-rm.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ---- the loop ------------------------------------------------------------

func (rm *Room) run() {
	defer close(rm.done)
	defer rm.recoverPanic()
	if !rm.start() {
		return
	}
	defer rm.loopEnded()
	for rm.turn() {
	}
}

// recoverPanic drops the room after a panic in its loop. A panic in a
// merge must not take the process down. The document may be half-merged,
// so the room is dropped: its members are closed (they reconnect and
// resync from the store) and nothing more is written from this copy.
func (rm *Room) recoverPanic() {
	if p := recover(); p != nil {
		rm.logger.Error("room panicked; closing it", "panic", p)
		rm.failWaiters(errDropped("the room failed"))
		rm.reg.queueHost(rm.id, false)
		rm.reg.remove(rm)
		for _, ms := range rm.members {
			ms.m.Close(protocol.CloseInternalError, "internal error")
		}
		rm.metrics.gauges(0, -float64(len(rm.members)), 0)
		clear(rm.members)
	}
}

// start loads the document and announces the room; false if the load
// failed (the room then stops).
//
//go:noinline
func (rm *Room) start() bool {
	if !rm.load() {
		return false
	}
	close(rm.loaded)
	rm.reg.queueHost(rm.id, true)
	rm.armPeriodicRefresh()
	return true
}

// loopEnded runs as the loop returns: it stops the timers made so far
// (timers.go) and takes the room's unwritten bytes off the gauge.
func (rm *Room) loopEnded() {
	stopTimer(rm.refresh.timer)
	stopTimer(rm.linger)
	stopTimer(rm.retry)
	stopTimer(rm.idle)
	stopTimer(rm.snap.timer)
	rm.metrics.gauges(0, 0, -float64(rm.pendingBytes+rm.inflightBytes))
}

// turn waits for the room's next event and handles it; false when the loop
// must return. It is apart from run, and its rare branches are in methods
// of their own, so that the frames a room blocks in stay small: the
// runtime halves a parked goroutine's stack only while its frames and an
// 800-byte reserve take less than a quarter of it, so a room parked in
// more than about 1.2 KiB of frames keeps an 8 KiB stack (4 KiB below
// that), and a node holds one such goroutine per loaded room. Every
// received value has a slot in this frame: results come as pointers.
// TestIdleFootprint (sync/session) bounds the stack per idle connection.
func (rm *Room) turn() bool {
	var idleC, retryC, snapTimerC, lingerC, refreshC <-chan time.Time
	if rm.refresh.armed {
		refreshC = rm.refresh.timer.C
	}
	if rm.lingerArmed {
		lingerC = rm.linger.C
	}
	var closingC <-chan struct{}
	rm.armIdle()
	if rm.idleArmed {
		idleC = rm.idle.C
	}
	if rm.retryArmed {
		retryC = rm.retry.C
	}
	if rm.closing != nil {
		closingC = rm.closing.Done()
	}
	if rm.snap.armed {
		snapTimerC = rm.snap.timer.C
	}
	var stepC <-chan struct{}
	if len(rm.steps) > 0 && rm.stepYield == 0 {
		stepC = ready
	}

	select {
	case ev := <-rm.inbox:
		rm.turnStarts(ev)
		rm.stepYield = max(rm.stepYield-1, 0)
		rm.handle(ev)
	case <-stepC:
		rm.turnStarts(stepTurn{})
		rm.step()
	case res := <-rm.written:
		rm.writeDone(res)
	case <-retryC:
		rm.retryArmed = false
		rm.startWrite()
	case res := <-rm.snapC:
		rm.handleSnapshot(*res)
	case <-snapTimerC:
		rm.snap.armed = false
	case <-lingerC:
		rm.lingerArmed = false
	case res := <-rm.refreshC:
		rm.handleRefresh(res)
	case <-refreshC:
		rm.refreshTick()
	case <-idleC:
		rm.evictIdle()
		return false
	case ctx := <-rm.closeC:
		rm.closing = ctx
	case <-closingC:
		rm.closeAtDeadline()
		return false
	}
	if rm.stopped {
		rm.stopDeleted()
		return false
	}
	return rm.afterEvent()
}

// evictIdle unloads the room after IdleTimeout without members. A cold path,
// kept out of turn's frame.
//
//go:noinline
func (rm *Room) evictIdle() {
	rm.idleArmed = false
	rm.logger.Debug("room evicted: idle")
	rm.reg.queueHost(rm.id, false)
	rm.reg.remove(rm)
	rm.evictSnapshot()
}

// closeAtDeadline ends the room when Registry.Close's deadline passes
// before its writes settled. A cold path,
// kept out of turn's frame.
//
//go:noinline
func (rm *Room) closeAtDeadline() {
	rm.logger.Warn("shutdown deadline: closing with deltas not yet durable",
		"pending", len(rm.pending)+len(rm.inflight))
	rm.finish()
}

// stopDeleted leaves after the workflow was deleted (closeDeleted):
// remember it and leave the bus. A cold path,
// kept out of turn's frame.
//
//go:noinline
func (rm *Room) stopDeleted() {
	rm.reg.markTomb(rm.id)
	rm.reg.queueHost(rm.id, false)
}

// afterEvent relays, writes and snapshots what the event left to do; false
// when a closing room has settled and the loop must return.
func (rm *Room) afterEvent() bool {
	rm.dropSlow()
	if len(rm.inbox) == 0 {
		rm.flushRelay()
		// Nothing else waiting: relay the latest presence and drag
		// positions. Under load the inbox is not empty, so later
		// frames fold into these first (latest wins).
		rm.flushEphemeral()
		rm.dropSlow()
	}
	rm.maybeWrite()
	rm.maybeSnapshot()
	if rm.turnEnds != nil {
		rm.turnEnds()
		rm.turnEnds = nil
	}
	if rm.closing != nil && len(rm.pending) == 0 && rm.inflight == nil && len(rm.steps) == 0 && rm.snapSettled() {
		rm.finish()
		return false
	}
	return true
}

// load reads the document; on failure the room stops and joiners get the
// error.
func (rm *Room) load() bool {
	ctx, cancel := context.WithTimeout(rm.reg.ctx, rm.cfg.LoadTimeout)
	defer cancel()
	doc, err := rm.reg.store.Load(ctx, rm.id)
	if err != nil {
		rm.metrics.storeError("load")
		if errors.Is(err, storage.ErrDeleted) {
			rm.loadErr = err
			rm.reg.markTomb(rm.id)
		} else {
			rm.logger.Warn("loading workflow failed", "err", err)
			rm.loadErr = errors.Join(ErrLoad, err)
		}
		rm.reg.remove(rm)
		return false
	}
	if _, err := rm.reg.loadLock(ctx, rm.id); err != nil {
		// Serving the room without knowing its lock could admit edits a
		// lock refuses: fail the load instead (the join may retry).
		rm.metrics.storeError("load")
		rm.logger.Warn("loading workflow lock failed", "err", err)
		rm.loadErr = errors.Join(ErrLoad, err)
		rm.reg.remove(rm)
		return false
	}
	if rm.cfg.RequireExisting && doc.IsEmpty() {
		// Only an empty document can be one nobody created.
		if err := rm.checkExists(ctx); err != nil {
			rm.loadErr = err
			rm.reg.remove(rm)
			return false
		}
	}
	// Before any member is served: built on the first operation, the
	// index would stall the loop for as long (workflow.Doc.PrimeIndex).
	doc.PrimeIndex()
	rm.doc = doc
	rm.loadBase()
	rm.receipts.epoch = newEpoch()
	rm.clock = crdt.NewClock(rm.cfg.ServerReplicaID)
	return true
}

func (rm *Room) armIdle() {
	// A dirty snapshot does not keep a room loaded: eviction hands it to
	// the background, so a failing store cannot pin documents in memory.
	idle := len(rm.members) == 0 && len(rm.pending) == 0 && rm.inflight == nil && rm.closing == nil && len(rm.steps) == 0
	switch {
	case idle && !rm.idleArmed:
		armTimer(&rm.idle, rm.cfg.IdleTimeout)
		rm.idleArmed = true
	case !idle && rm.idleArmed:
		rm.idle.Stop()
		rm.idleArmed = false
	}
}

// finish closes every member with 1012 and forgets the room. What it has not
// written stays in the clients' outboxes; an Apply waiting for it is told.
func (rm *Room) finish() {
	rm.failWaiters(errDropped("shut down before the store write"))
	rm.reg.queueHost(rm.id, false)
	rm.reg.remove(rm)
	for _, ms := range rm.members {
		ms.m.Close(protocol.CloseServiceRestart, "server restart")
	}
	rm.metrics.gauges(0, -float64(len(rm.members)), 0)
	clear(rm.members)
}

func (rm *Room) handle(ev event) {
	if rm.holds(ev) {
		return
	}
	switch ev := ev.(type) {
	case *joinEvent:
		rm.handleJoin(ev)
	case leaveEvent:
		if ms, ok := rm.members[ev.m]; ok {
			rm.remove(ms)
			rm.rosterChanged(nil)
		}
	case *deltaEvent:
		rm.handleDelta(ev)
	case *vouchEvent:
		rm.handleVouch(ev)
	case *opEvent:
		rm.handleOperation(ev)
	case *undoEvent:
		rm.handleUndo(ev)
	case *presenceEvent:
		if ms, ok := rm.members[ev.m]; ok {
			if ms.presence {
				rm.metrics.coalesced()
			}
			ms.entry.Cursor, ms.entry.Selection, ms.entry.Caret = ev.cursor, ev.sel, ev.caret
			ms.entry.LastActivityMs = rm.nowMs()
			ms.presence = true
			rm.markDirty(ms)
		}
	case *dragEvent:
		// A read member may not drag (the session refuses it first); the
		// room checks again, as admission does for edits.
		if ms, ok := rm.members[ev.m]; ok && ms.id.Role != protocol.RoleRead && len(ev.pos) <= protocol.MaxDragBlocks {
			if ms.drag == nil {
				ms.drag = make(map[string]protocol.Point, len(ev.pos))
			} else {
				rm.metrics.coalesced()
				if len(ms.drag)+len(ev.pos) > protocol.MaxDragBlocks {
					// Folding frames must not build a DragUpdate over the
					// bound no single frame may reach: the latest wins.
					clear(ms.drag)
				}
			}
			maps.Copy(ms.drag, ev.pos)
			ms.entry.LastActivityMs = rm.nowMs()
			rm.markDirty(ms)
		}
	case *appEvent:
		rm.handleAppEvent(ev)
	case snapshotEvent:
		rm.readDoc(ev.reply, ev.inline)
	case *catchUpDone:
		rm.handleCatchUp(ev)
	case *applyEvent:
		rm.handleApply(ev)
	case viewEvent:
		rm.readDoc(ev.reply, false)
	case rosterEvent:
		ev.reply <- rm.roster()
	case deleteEvent:
		rm.closeDeleted("workflow deleted")
		close(ev.reply)
	case *remoteEvent:
		rm.handleRemote(ev)
	case contextEvent:
		ev.reply <- rm.doc.Context().Clone()
	case sinceEvent:
		ev.reply <- rm.doc.DeltaSince(ev.have)
	case *remotePresenceEvent:
		rm.handleRemotePresence(ev)
	case *remoteEphemeralEvent:
		rm.handleRemoteEphemeral(ev)
	}
}

func (rm *Room) nowMs() int64 { return rm.cfg.now().UnixMilli() }

// stepTurn is what Config.onTurn is told a step of a stepped merge or
// prepare is.
type stepTurn struct{}

// turnStarts calls Config.onTurn, if set; afterEvent calls what it returns.
// The result is kept in the Room, not in turn's frame (see turn).
func (rm *Room) turnStarts(what any) {
	if rm.cfg.onTurn != nil {
		rm.turnEnds = rm.cfg.onTurn(what)
	}
}

// maxLagMs is Config.MaxClockLag in ms, -1 for no bound.
func (rm *Room) maxLagMs() int64 {
	if rm.cfg.MaxClockLag < 0 {
		return -1
	}
	return rm.cfg.MaxClockLag.Milliseconds()
}

// ---- membership ----------------------------------------------------------

func (rm *Room) handleJoin(ev *joinEvent) {
	// Frames gathered for the relay go out first, before the joiner is a
	// member: the catch-up holds their edits, Joined.Seq counts them, and
	// nothing of this room may reach the joiner before its Joined.
	rm.flushRelay()
	if rm.closing != nil {
		ev.reply <- joinReply{err: ErrClosed}
		return
	}
	id := ev.m.Identity()
	if !id.Role.Valid() {
		id.Role = protocol.RoleRead
	}
	if old, ok := rm.members[ev.m]; ok {
		// A re-join by the server (a role change) carries no context; the
		// member's replica was checked when it joined.
		rm.remove(old)
	} else if err := rm.replicaBehind(id.ReplicaID, ev.opts.Have); err != nil {
		ev.reply <- joinReply{err: err}
		return
	} else if c := rm.cfg.MaxMembers; c > 0 && len(rm.members) >= c {
		// Every join and leave sends the roster to every member: the
		// cap keeps that, and the Roster frame, bounded.
		ev.reply <- joinReply{err: protocol.NewError(protocol.CodeOverloaded, "the room has %d members, the most it takes", c)}
		return
	}
	if tab := ev.opts.TabSessionID; tab != "" {
		// A reload of the same tab replaces its ghost entry.
		for _, ms := range rm.members {
			if ms.id.UserID == id.UserID && ms.entry.TabSessionID == tab {
				rm.logger.Debug("same-tab rejoin replaces a session", "conn", ev.m.SessionID(), "replaced_conn", ms.entry.SessionID)
				rm.remove(ms)
			}
		}
	}
	now := rm.nowMs()
	ms := &memberState{m: ev.m, id: id, entry: protocol.RosterEntry{
		SessionID: ev.m.SessionID(), TabSessionID: ev.opts.TabSessionID,
		UserID: id.UserID, Name: id.Name, Avatar: id.Avatar, Role: id.Role,
		JoinedAtMs: now, LastActivityMs: now,
	}}
	rm.members[ev.m] = ms
	rm.metrics.gauges(0, 1, 0)

	have := ev.opts.Have
	if have == nil {
		have = crdt.NewContext()
	}
	ctx := workflow.New()
	ctx.Context().Merge(rm.doc.Context())
	joined := &protocol.Joined{
		WorkflowID: rm.id, Role: id.Role, Context: ctx.Encode(),
		Roster: rm.roster(),
		Epoch:  rm.receipts.epoch, Seq: rm.receipts.relaySeq, Stable: rm.stableMark(),
	}
	// The catch-up may hold edits not durable yet: the member is told when
	// they are, as for relayed ones.
	ms.lastSeq, ms.stableSent = joined.Seq, joined.Stable
	if !rm.inline() && (have.IsEmpty() || rm.lacksMuch(have)) {
		// The whole document, encoded off the loop (capture.go).
		rm.joinLater(ms, joined)
		ev.reply <- joinReply{}
		rm.rosterChanged(ms)
		return
	}
	// The whole reply goes out from here, in one call: Joined, then every
	// chunk, so no other frame of this room can come before Joined.
	frames := rm.catchUpFrames(have)
	joined.CatchUpChunks = uint64(len(frames))
	reply := make([][]byte, 1+len(frames))
	reply[0] = protocol.AppendFrame(nil, joined)
	copy(reply[1:], frames)
	if ev.m.EnqueueReply(reply) {
		rm.metrics.frameOut(protocol.FrameJoined, 1, len(reply[0]))
		for _, b := range reply[1:] {
			rm.metrics.frameOut(protocol.FrameCatchUp, 1, len(b))
		}
	} else {
		rm.markSlow(ms)
	}
	ev.reply <- joinReply{}
	rm.rosterChanged(ms)
}

// remove takes ms out of the room without telling anyone.
func (rm *Room) remove(ms *memberState) {
	if ms.removed {
		return
	}
	ms.removed = true
	delete(rm.members, ms.m)
	rm.metrics.gauges(0, -1, 0)
}

// localRoster returns the entries of this node's members.
func (rm *Room) localRoster() []protocol.RosterEntry {
	es := make([]protocol.RosterEntry, 0, len(rm.members))
	for _, ms := range rm.members {
		es = append(es, ms.entry)
	}
	sortRoster(es)
	return es
}

// roster returns the roster members see: this node's members and those
// other nodes published (see handleRemotePresence). A remote entry of a
// tab that is a member here (it moved to this node; its old node has not
// withdrawn it yet) is left out.
func (rm *Room) roster() []protocol.RosterEntry {
	es := rm.localRoster()
	if len(rm.remote) == 0 {
		return es
	}
	type tab struct{ user, tab string }
	here := make(map[tab]bool, len(rm.members))
	for _, ms := range rm.members {
		if ms.entry.TabSessionID != "" {
			here[tab{ms.entry.UserID, ms.entry.TabSessionID}] = true
		}
	}
	for _, node := range slices.Sorted(maps.Keys(rm.remote)) {
		for _, e := range rm.remote[node] {
			if e.TabSessionID == "" || !here[tab{e.UserID, e.TabSessionID}] {
				es = append(es, e)
			}
		}
	}
	sortRoster(es)
	return es
}

func sortRoster(es []protocol.RosterEntry) {
	slices.SortFunc(es, func(a, b protocol.RosterEntry) int {
		return cmp.Or(cmp.Compare(a.JoinedAtMs, b.JoinedAtMs), cmp.Compare(a.SessionID, b.SessionID))
	})
}

// rosterChanged tells the members (but except) and the other nodes that
// the local membership changed.
func (rm *Room) rosterChanged(except *memberState) {
	rm.broadcastRoster(except)
	rm.publishPresence()
}

func (rm *Room) broadcastRoster(except *memberState) {
	if len(rm.members) == 0 || (len(rm.members) == 1 && except != nil) {
		return
	}
	f := &protocol.Roster{WorkflowID: rm.id, Entries: rm.roster()}
	rm.broadcast(f, protocol.AppendFrame(nil, f), except)
}

// ---- edits ---------------------------------------------------------------

func (rm *Room) handleDelta(ev *deltaEvent) {
	ms, ok := rm.members[ev.m]
	if !ok {
		nack(ev.m, ev.opID, protocol.NewError(protocol.CodeNotJoined, "join %q first", rm.id))
		return
	}
	if err := rm.canTakeWork(len(ev.raw)); err != nil {
		rm.refuse(ms, ev.opID, err)
		return
	}
	start := rm.cfg.now()
	nowMs := rm.nowMs()
	c := &Change{WorkflowID: rm.id, Member: ms.id, Conn: ms.entry.SessionID, Delta: ev.delta}
	latest, err := admit(rm.doc, c, rm.cfg.ServerReplicaID, nowMs, rm.cfg.MaxClockSkew.Milliseconds())
	var v workflow.Vetted
	if err == nil {
		if v, err = rm.doc.Vet(ev.delta, ms.id.ReplicaID); err != nil {
			code := protocol.CodeForgedDot
			if errors.Is(err, workflow.ErrInvalidText) {
				code = protocol.CodeInvalidDelta
			}
			err = protocol.NewError(code, "%v", err)
		}
	}
	if err == nil {
		err = checkLag(v.Delta, nowMs, rm.maxLagMs())
	}
	if err == nil && !v.Unverified.IsEmpty() && !ev.vetted && rm.cfg.Cluster != nil && rm.park(ev) {
		// Another node may have made those dots durable: read the store
		// before leaving them out (refresh.go).
		return
	}
	if err == nil && rm.cfg.Admit != nil {
		c.Delta = v.Delta
		err = rm.cfg.Admit(rm.doc, c)
	}
	if err != nil {
		rm.refuse(ms, ev.opID, err)
		return
	}
	raw := ev.raw
	if v.Changed {
		// What goes out and into the store is what the room merged, never
		// the client's bytes with content the room could not vouch for.
		rm.metrics.vetted(v.Unverified.Len(), v.Dead)
		raw = v.Delta.Encode()
	}
	if err := rm.checkDocSize(len(raw)); err != nil {
		rm.refuse(ms, ev.opID, err)
		return
	}
	if !latest.IsZero() {
		rm.clock.Observe(latest, nowMs)
	}
	rm.mergeThen(ms.m, v.Delta, func() {
		rm.metrics.observeMerge(rm.cfg.since(start))
		if v.Delta.IsEmpty() {
			// Nothing of it was new here: an ack is all it needs.
			ack := &protocol.Applied{OpID: ev.opID}
			rm.sendTo(ms, ack, protocol.AppendFrame(nil, ack))
			return
		}
		rm.publish(raw)
		// The author already holds what it sent: it is not sent it back,
		// unless Vet changed it. Then what the room took differs from what
		// the author holds (an entry whose dot the room has seen removed,
		// which the author drops on merging what the room took), and only
		// that frame tells it.
		rm.applied(ms, ev.opID, raw, v.Delta, string(ms.id.ReplicaID), v.Changed)
	})
}

func (rm *Room) handleOperation(ev *opEvent) {
	ms, ok := rm.members[ev.m]
	if !ok {
		nack(ev.m, ev.opID, protocol.NewError(protocol.CodeNotJoined, "join %q first", rm.id))
		return
	}
	record := func(ts crdt.Timestamp) *workflow.UndoRecording {
		if ms.undo == nil {
			ms.undo = workflow.NewUndoManager(thinUndoConfig)
		}
		return ms.undo.StartRecord(ts)
	}
	rm.runOperation(ms.id, ms.entry.SessionID, ev.op, ms.m, record, func(delta *workflow.Doc, parts []opDelta, err error) {
		if err != nil {
			rm.refuse(ms, ev.opID, err)
			return
		}
		rm.applied(ms, ev.opID, parts[0].raw, delta, "", true) // a member's operation is one delta
	})
}

// runOperation runs op on behalf of id against the document with the
// server's clock, for an Operation frame or an Apply: admission (the role,
// before Prepare; then the built-in checks and Config.Admit), the merge and
// the publish to the cluster. It calls done once, with the merged delta
// and its encoding (an application's too large for one delta: its chunks,
// see operationChunks), or with why op was refused, the document unchanged:
// at once, or, when op is a large removal prepared or merged in steps
// (stepped.go), after the last step. record, when not nil, is given the
// admitted delta's timestamp just before the merge and returns the undo
// recording (a thin client's undo capture) that the merge feeds part by
// part.
func (rm *Room) runOperation(id Identity, conn string, op workflow.Op, author any, record func(crdt.Timestamp) *workflow.UndoRecording, done func(*workflow.Doc, []opDelta, error)) {
	if err := rm.canTakeWork(0); err != nil {
		done(nil, nil, err)
		return
	}
	if r := id.Role; r != protocol.RoleWrite && r != protocol.RoleAdmin {
		// Before Prepare: a read member must learn nothing about the
		// document from why an operation would have been refused.
		done(nil, nil, protocol.NewError(protocol.CodePermissionDenied, "role %q may not edit", r))
		return
	}
	start := rm.cfg.now()
	prep, err := rm.doc.StepPrepare(op, rm.prepareSteps())
	if err != nil {
		done(nil, nil, err)
		return
	}
	finish := func() {
		if err := rm.canTakeWork(0); err != nil {
			done(nil, nil, err) // shutting down meanwhile
			return
		}
		nowMs := rm.nowMs()
		ts := rm.clock.Now(nowMs)
		var delta *workflow.Doc
		var err error
		if prep != nil {
			delta, err = prep.Finish(ts)
		} else {
			delta, err = rm.doc.Prepare(ts, op)
		}
		if err == nil {
			c := &Change{WorkflowID: rm.id, Member: id, Conn: conn, Delta: delta, Op: op}
			_, err = admit(rm.doc, c, rm.cfg.ServerReplicaID, nowMs, rm.cfg.MaxClockSkew.Milliseconds())
			if err == nil && rm.cfg.Admit != nil {
				err = rm.cfg.Admit(rm.doc, c)
			}
		}
		if err != nil {
			done(nil, nil, err)
			return
		}
		raw := delta.Encode()
		parts, err := operationChunks(delta, raw, author == any(appAuthor))
		if err != nil {
			done(nil, nil, err)
			return
		}
		if err := rm.checkDocSize(len(raw)); err != nil {
			done(nil, nil, err)
			return
		}
		var rec *workflow.UndoRecording
		if record != nil {
			rec = record(ts)
		}
		rm.recordMergeThen(author, delta, rec, func() {
			rm.metrics.observeMerge(rm.cfg.since(start))
			for _, p := range parts {
				rm.publish(p.raw)
			}
			done(delta, parts, nil)
		})
	}
	if prep == nil || prep.Step() {
		finish()
		return
	}
	rm.steps = append(rm.steps, &stepping{prep: prep, author: author, then: finish})
}

// canTakeWork refuses new edits while shutting down or while too much is
// waiting for the store.
func (rm *Room) canTakeWork(size int) error {
	if rm.closing != nil {
		return protocol.NewError(protocol.CodeOverloaded, "server shutting down")
	}
	if rm.pendingBytes+rm.inflightBytes+size > rm.cfg.MaxPendingBytes {
		return protocol.NewError(protocol.CodeStorageUnavailable, "too many edits waiting for the store")
	}
	return nil
}

// applied relays a merged delta (encoded once, the same bytes for every
// member), acks it to its author and queues it for the store. With
// toAuthor the author is sent the relay too, before the Applied: a thin
// client's operation (it has no replica that holds it), a delta the room
// changed before taking it.
func (rm *Room) applied(ms *memberState, opID string, raw []byte, delta *workflow.Doc, replica string, toAuthor bool) {
	ms.entry.LastActivityMs = rm.nowMs()
	origin := protocol.Origin{UserID: ms.id.UserID, ReplicaID: replica, SessionID: ms.entry.SessionID}
	except := ms
	if toAuthor {
		except = nil
	}
	rm.relay.add(raw, delta, origin, except)
	if len(rm.inbox) == 0 || rm.relay.full() {
		rm.flushRelay()
	}
	ack := &protocol.Applied{OpID: opID}
	rm.sendTo(ms, ack, protocol.AppendFrame(make([]byte, 0, 16+len(opID)), ack))
	rm.queueWrite(pendingDelta{m: ms.m, opID: opID, raw: raw, delta: delta, applied: rm.cfg.now()})
}

// queueWrite queues a merged delta for the next store write.
func (rm *Room) queueWrite(p pendingDelta) {
	p.seq = rm.pendingSeq()
	if rm.pendingBytes+rm.inflightBytes > keepDecodedBytes {
		p.delta = nil // a backlog: the writer decodes it (writebatch.go)
	}
	rm.markSnapDirty()
	rm.pending = append(rm.pending, p)
	rm.pendingBytes += len(p.raw)
	rm.grewBy(len(p.raw))
	rm.metrics.gauges(0, 0, float64(len(p.raw)))
}

// flushRelay sends the coalesced RemoteDelta, if any, to the room.
func (rm *Room) flushRelay() {
	f, except, ok := rm.relay.take(rm.id)
	if !ok {
		return
	}
	start := rm.cfg.now()
	f.Seq, f.Receipt = rm.nextSeq(), rm.sign(f.Delta)
	frame := protocol.AppendFrame(make([]byte, 0, 128+len(rm.id)+len(f.Delta)+len(f.Origin.UserID)+len(f.Origin.ReplicaID)+len(f.Origin.SessionID)), f)
	rm.broadcast(f, frame, except)
	for _, ms := range rm.members {
		if ms != except {
			ms.lastSeq = f.Seq
		}
	}
	rm.metrics.observeFanout(rm.cfg.since(start))
}

func (rm *Room) refuse(ms *memberState, opID string, err error) {
	code := protocol.CodeFor(err)
	rm.metrics.refused(code)
	if code == protocol.CodeInternal {
		rm.logger.Error("refusing an edit", "conn", ms.entry.SessionID, "op", opID, "err", err)
	}
	n := nackFrame(opID, code, err)
	rm.sendTo(ms, n, protocol.AppendFrame(nil, n))
}

func nackFrame(opID string, code protocol.Code, err error) *protocol.Nack {
	msg := err.Error()
	var pe *protocol.Error
	if errors.As(err, &pe) {
		msg = pe.Message
	}
	if len(msg) > protocol.MaxTextBytes {
		msg = msg[:protocol.MaxTextBytes]
	}
	return &protocol.Nack{OpID: opID, Code: code, Message: msg, Retryable: code.Retryable()}
}

// nack answers a member the room does not hold (no slow-consumer handling:
// it is not a member).
func nack(m Member, opID string, err error) {
	m.Enqueue(protocol.AppendFrame(nil, nackFrame(opID, protocol.CodeFor(err), err)))
}

// ---- sending -------------------------------------------------------------

func (rm *Room) sendTo(ms *memberState, f protocol.Frame, frame []byte) {
	if ms.removed {
		return
	}
	if !rm.enqueue(ms, frame) {
		rm.markSlow(ms)
		return
	}
	rm.metrics.frameOut(f.Type(), 1, len(frame))
}

// broadcast queues one encoded frame to every member but except and
// returns to how many.
func (rm *Room) broadcast(f protocol.Frame, frame []byte, except *memberState) int {
	n := 0
	for _, ms := range rm.members {
		if ms == except || ms.removed {
			continue
		}
		if !rm.enqueue(ms, frame) {
			rm.markSlow(ms)
			continue
		}
		n++
	}
	rm.metrics.frameOut(f.Type(), n, len(frame))
	return n
}

func (rm *Room) markSlow(ms *memberState) {
	for _, s := range rm.slow {
		if s == ms {
			return
		}
	}
	rm.slow = append(rm.slow, ms)
}

// dropSlow closes the members whose queue overflowed, then tells the rest.
// Nothing is dropped silently: the closed client resyncs on reconnect.
func (rm *Room) dropSlow() {
	for len(rm.slow) > 0 {
		slow := rm.slow
		rm.slow = nil
		for _, ms := range slow {
			if ms.removed {
				continue
			}
			rm.remove(ms)
			rm.metrics.slowConsumer()
			rm.logger.Info("closing slow consumer", "conn", ms.entry.SessionID)
			ms.m.Close(protocol.CloseSlowConsumer, "outbound queue full")
		}
		rm.rosterChanged(nil) // may mark more members slow
	}
}

func (rm *Room) markDirty(ms *memberState) {
	if !ms.queued {
		ms.queued = true
		rm.dirty = append(rm.dirty, ms)
	}
}

// flushEphemeral relays the presence and drag positions that changed since
// the last flush, one frame per member that changed.
func (rm *Room) flushEphemeral() {
	dirty := rm.dirty
	rm.dirty = nil
	for _, ms := range dirty {
		ms.queued = false
		if ms.removed {
			continue
		}
		if ms.presence {
			ms.presence = false
			f := &protocol.PresenceUpdate{WorkflowID: rm.id, SessionID: ms.entry.SessionID, UserID: ms.id.UserID,
				Name: ms.id.Name, Avatar: ms.id.Avatar, Cursor: ms.entry.Cursor, Selection: ms.entry.Selection, Caret: ms.entry.Caret}
			b := protocol.AppendFrame(nil, f)
			rm.broadcast(f, b, ms)
			rm.publishEphemeral(f, b)
		}
		if len(ms.drag) > 0 {
			f := &protocol.DragUpdate{WorkflowID: rm.id, SessionID: ms.entry.SessionID, UserID: ms.id.UserID, Positions: ms.drag}
			b := protocol.AppendFrame(nil, f)
			rm.broadcast(f, b, ms)
			rm.publishEphemeral(f, b)
			ms.drag = nil
		}
	}
}

// ---- durability (group commit) -------------------------------------------

// maybeWrite starts a store write of what is pending if none is in flight.
func (rm *Room) maybeWrite() {
	if rm.inflight != nil || len(rm.pending) == 0 {
		return
	}
	if wait := rm.cfg.MinWriteInterval - rm.cfg.since(rm.lastWrite); wait > 0 && rm.closing == nil &&
		len(rm.pending) < rm.cfg.MaxBatchDeltas {
		if !rm.lingerArmed {
			armTimer(&rm.linger, wait)
			rm.lingerArmed = true
		}
		return
	}
	rm.lastWrite = rm.cfg.now()
	n := min(len(rm.pending), rm.cfg.MaxBatchDeltas)
	rm.inflight = rm.pending[:n:n]
	rm.pending = rm.pending[n:]
	for _, p := range rm.inflight {
		rm.inflightBytes += len(p.raw)
		rm.pendingBytes -= len(p.raw)
	}
	if len(rm.pending) == 0 {
		rm.pending = nil
	}
	rm.startWrite()
}

// startWrite writes rm.inflight on a pooled goroutine (the registry's
// workers: hashing and encoding the row grew a fresh goroutine's stack
// every time), as one log row (writebatch.go); the result comes back on
// rm.written.
func (rm *Room) startWrite() {
	raws := make([][]byte, len(rm.inflight))
	deltas := make([]*workflow.Doc, len(rm.inflight))
	inShadow := true
	for i, p := range rm.inflight {
		raws[i], deltas[i] = p.raw, p.delta
		inShadow = inShadow && !p.unmerged
	}
	reg := rm.reg
	bytes := rm.inflightBytes
	reg.wg.Add(1)
	reg.workers.Go(func() {
		defer reg.wg.Done()
		// Every delta was decoded (or encoded) when it was admitted: the
		// writer joins them, off the loop, and the store gets the join's
		// bytes and key and never decodes them again.
		batch := batchRows(deltas, raws)
		ctx, cancel := context.WithTimeout(reg.ctx, rm.cfg.WriteTimeout)
		defer cancel()
		start := rm.cfg.now()
		err := reg.store.Append(ctx, rm.id, batch)
		rm.metrics.observeAppend(rm.cfg.since(start), len(raws), bytes, err)
		reg.noteWrite(err)
		res := &writeResult{err: err}
		if err == nil && inShadow {
			res.rows = rowKeys(batch)
		}
		rm.written <- res
	})
}

func (rm *Room) handleWritten(err error) {
	if err != nil {
		rm.metrics.storeError("append")
		if errors.Is(err, storage.ErrDeleted) {
			// Deleted on another node (or by DeleteWorkflow racing this
			// write): deleted stays deleted.
			rm.closeDeleted("workflow deleted")
			return
		}
		if errors.Is(err, storage.ErrCorrupt) {
			// Retrying cannot help. The clients keep these deltas in their
			// outboxes (no Durable came), so nothing acknowledged is lost.
			rm.logger.Error("store refused a batch; dropping it", "deltas", len(rm.inflight), "err", err)
			for _, p := range rm.inflight {
				if p.waiter != nil {
					p.waiter.failed(err)
				}
			}
		} else {
			rm.backoff = min(max(rm.backoff*2, rm.cfg.RetryBackoff), rm.cfg.MaxRetryBackoff)
			rm.logger.Warn("store write failed; retrying", "deltas", len(rm.inflight), "backoff", rm.backoff, "err", err)
			armTimer(&rm.retry, rm.backoff)
			rm.retryArmed = true
			return
		}
	} else {
		rm.backoff = 0
		rm.ackDurable(rm.inflight)
		rm.noteDurable(rm.inflight)
	}
	rm.metrics.gauges(0, 0, -float64(rm.inflightBytes))
	rm.inflight, rm.inflightBytes = nil, 0
	rm.announceStable()
}

// ackDurable sends one Durable per member still present, listing its ops in
// the order they were applied. Members that left miss it: their clients
// resend after rejoining, and merging is idempotent.
func (rm *Room) ackDurable(batch []pendingDelta) {
	now := rm.cfg.now()
	var order []Member
	ops := make(map[Member][]string)
	for _, p := range batch {
		rm.metrics.observeDurable(now.Sub(p.applied))
		if p.waiter != nil {
			p.waiter.written()
		}
		if p.m == nil {
			continue
		}
		if _, ok := ops[p.m]; !ok {
			order = append(order, p.m)
		}
		ops[p.m] = append(ops[p.m], p.opID)
	}
	for _, m := range order {
		ms, ok := rm.members[m]
		if !ok {
			continue
		}
		f := &protocol.Durable{OpIDs: ops[m]}
		rm.sendTo(ms, f, protocol.AppendFrame(nil, f))
	}
}
