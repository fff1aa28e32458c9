package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/gorilla/websocket"
)

// conn is one joined websocket connection.
type conn struct {
	// Static after creation.
	gen    uint64
	ws     *websocket.Conn
	wake   chan struct{} // capacity 1: wakes the writer
	limits protocol.ServerLimits

	// flights maps the op id of each Delta frame sent on this connection and
	// not yet answered to the entries it carries. Guarded by the Client's
	// mutex.
	flights map[string][]*entry
	// vouches maps the op id of each Vouch frame sent on this connection
	// and not yet answered to the kept delta it hands back. Guarded by the
	// Client's mutex.
	vouches map[string]*kept
	// epoch is the room incarnation joined (Joined.Epoch; empty for a
	// server without receipts), joinSeq its relay sequence at the join,
	// and stable the greatest durable mark of epoch heard on this
	// connection (Joined.Stable, then Stable frames; guarded by the
	// Client's mutex).
	epoch   string
	joinSeq uint64
	stable  uint64

	// Owned by the writer goroutine.
	bucket       tokenBucket
	lastPresence time.Time
	lastDrag     time.Time
}

func (cn *conn) kick() {
	select {
	case cn.wake <- struct{}{}:
	default:
	}
}

// Run connects to the server and keeps the client in sync until ctx ends,
// Close is called, or the server closes the connection with a terminal
// code. Between connections it waits Config.Backoff (full jitter; attempts
// count from the last successful join).
//
// When the server refuses the Join with REPLICA_BEHIND, or its Joined holds
// a counter of this client's replica beyond what the client loaded or sent
// (the replica id was reused after local state was lost), Run switches to a
// fresh replica id, re-mints the unsent edits under it (workflow.Doc.Remint),
// stores that with Config.Dir, and joins again at once.
//
// It returns ErrClosed after Close; ctx.Err() when ctx ended; an error
// wrapping ErrWorkflowDeleted once the workflow is known deleted (it also
// wraps the *CloseError 4503 or the *protocol.Error WORKFLOW_DELETED that
// said so, if any); a *CloseError for another terminal close code
// (authentication failed, access revoked, …); a *protocol.Error when the
// server refused the Join with a non-retryable code (ACCESS_DENIED,
// UNKNOWN_WORKFLOW, TOO_MANY_ROOMS, …); ErrRunning when another Run of this Client has not
// returned. Run may be called again after it returned for ctx (the outbox
// and document are kept).
func (c *Client) Run(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.runDone != nil:
		c.mu.Unlock()
		return ErrRunning
	case c.deleted:
		c.mu.Unlock()
		return ErrWorkflowDeleted
	}
	done := make(chan struct{})
	c.runDone = done
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.runDone = nil
		c.mu.Unlock()
		close(done)
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.closing, cancel)
	defer stop()

	attempt, retired := 0, 0
	for {
		joined, err := c.connect(ctx)
		c.flushAll() // what the connection left waiting for a commit
		if ctx.Err() != nil {
			if c.closing.Err() != nil {
				c.setState(StateClosed)
				return ErrClosed
			}
			c.setState(StateOffline)
			return ctx.Err()
		}
		if ce := (*CloseError)(nil); errors.As(err, &ce) && ce.Code == protocol.CloseWorkflowDeleted {
			c.enterDeleted(ce.Reason)
		}
		if c.isDeleted() {
			c.log.Warn("workflow deleted", "err", err)
			c.setState(StateDeleted)
			switch {
			case err == nil:
				return ErrWorkflowDeleted
			case errors.Is(err, ErrWorkflowDeleted):
				return err
			}
			return fmt.Errorf("%w: %w", ErrWorkflowDeleted, err)
		}
		if rb := (*replicaBehindError)(nil); errors.As(err, &rb) {
			c.retireReplica(rb.server)
			retired++
			if retired == 1 {
				continue // join at once under the new id
			}
			// A fresh id cannot be behind: a server that says so again is
			// broken, and reconnecting at once would spin.
		} else if joined {
			retired = 0
		}
		if terminal(err) {
			c.log.Warn("connection ended for good", "err", err)
			c.setState(StateClosed)
			return err
		}
		if joined {
			attempt = 0
		}
		c.mu.Lock()
		resetting := c.resetting
		c.resetting = false
		c.mu.Unlock()
		if resetting {
			continue
		}
		delay := c.cfg.Backoff.Delay(attempt, nil)
		attempt++
		c.mu.Lock()
		c.attempt = attempt
		c.mu.Unlock()
		c.setState(StateOffline)
		c.log.Info("disconnected; reconnecting", "err", err, "attempt", attempt, "delay", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// terminal reports whether err ends Run instead of a reconnect.
func terminal(err error) bool {
	var ce *CloseError
	if errors.As(err, &ce) {
		return !ce.Code.ShouldReconnect()
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return !pe.Retryable
	}
	return false
}

// connect runs one connection from dial to disconnect and returns the
// reason it ended, and whether it got as far as Joined.
func (c *Client) connect(ctx context.Context) (joined bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false, ErrClosed
	}
	c.connCancel = cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.connCancel = nil
		c.mu.Unlock()
	}()
	c.setState(StateConnecting)

	dialCtx, dialCancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	ws, resp, err := c.cfg.Dialer.DialContext(dialCtx, c.cfg.URL, c.cfg.Header)
	dialCancel()
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return false, fmt.Errorf("client: dial: %w", err)
	}
	ws.SetReadLimit(int64(c.cfg.MaxFrameBytes))
	ws.SetPingHandler(func(data string) error {
		_ = ws.SetReadDeadline(time.Now().Add(c.cfg.ReadTimeout))
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.cfg.WriteTimeout))
		var ne net.Error
		if errors.Is(err, websocket.ErrCloseSent) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil
		}
		return err
	})
	// Ending ctx ends the connection: a close frame if the client is
	// stopping, then the socket, which unblocks the reader and the writer.
	closed := make(chan struct{})
	stopClose := context.AfterFunc(ctx, func() {
		defer close(closed)
		if c.closing.Err() != nil {
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "client closing")
			_ = ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		}
		ws.Close()
	})
	defer func() {
		if !stopClose() {
			<-closed // no goroutine outlives Run
		}
		ws.Close()
	}()

	cn, chunks, err := c.handshake(ws)
	if err != nil {
		return false, err
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := c.writeLoop(ctx, cn); err != nil && ctx.Err() == nil {
			c.log.Debug("write failed", "err", err)
			ws.Close() // unblocks the reader
		}
	}()
	defer func() {
		cancel()
		wg.Wait()
		c.mu.Lock()
		if c.conn == cn {
			c.conn = nil
			c.roster = nil
			c.drag = nil
		}
		c.mu.Unlock()
	}()
	return true, c.readLoop(ctx, cn, chunks)
}

// handshake says Hello, waits for Welcome, joins and waits for Joined. It
// returns the joined connection and the number of catch-up chunks to expect.
func (c *Client) handshake(ws *websocket.Conn) (*conn, uint64, error) {
	_ = ws.SetReadDeadline(time.Now().Add(c.cfg.DialTimeout))
	c.mu.Lock()
	hello := &protocol.Hello{
		ProtocolVersion: protocol.ProtocolVersion,
		Token:           c.cfg.Token,
		ReplicaID:       string(c.replica),
		ClientName:      c.cfg.ClientName,
		ClientVersion:   c.cfg.ClientVersion,
		Caps:            []string{protocol.CapabilityAcks},
	}
	c.mu.Unlock()
	if err := c.write(ws, hello); err != nil {
		return nil, 0, err
	}
	var last *protocol.Error // the latest Error frame, reported with the close
	var welcome *protocol.Welcome
	for welcome == nil {
		f, err := c.read(ws, last)
		if err != nil {
			return nil, 0, err
		}
		switch f := f.(type) {
		case *protocol.Welcome:
			welcome = f
		case *protocol.Error:
			c.log.Warn("server error before Welcome", "err", f)
			last = f
		default:
			c.log.Debug("ignoring frame before Welcome", "type", f.Type())
		}
	}
	if welcome.ProtocolVersion != protocol.ProtocolVersion {
		return nil, 0, fmt.Errorf("client: server speaks protocol %d, not %d", welcome.ProtocolVersion, protocol.ProtocolVersion)
	}

	c.mu.Lock()
	c.sessionID, c.user, c.limits = welcome.SessionID, welcome.User, welcome.Limits
	c.clock.Observe(crdt.Timestamp{Wall: welcome.ServerTimeMs}, c.nowMs())
	have := workflow.New()
	have.Context().Merge(c.doc.Context())
	join := &protocol.Join{WorkflowID: c.cfg.WorkflowID, Context: have.Encode(), TabSessionID: c.cfg.TabSessionID}
	c.mu.Unlock()
	c.setState(StateJoining)
	if err := c.write(ws, join); err != nil {
		return nil, 0, err
	}

	var joined *protocol.Joined
	for joined == nil {
		f, err := c.read(ws, last)
		if err != nil {
			return nil, 0, err
		}
		switch f := f.(type) {
		case *protocol.Joined:
			if f.WorkflowID == c.cfg.WorkflowID {
				joined = f
			}
		case *protocol.Error:
			if f.WorkflowID == c.cfg.WorkflowID {
				switch f.Code {
				case protocol.CodeReplicaBehind:
					return nil, 0, &replicaBehindError{cause: f}
				case protocol.CodeWorkflowDeleted:
					c.enterDeleted(f.Message)
					return nil, 0, fmt.Errorf("%w: %w", ErrWorkflowDeleted, f)
				}
				return nil, 0, f // the Join was refused
			}
			c.log.Warn("server error", "err", f)
			last = f
		default:
			c.log.Debug("ignoring frame before Joined", "type", f.Type())
		}
	}

	serverCtx, err := workflow.Decode(joined.Context, workflow.DocLimits)
	if err != nil {
		return nil, 0, fmt.Errorf("client: Joined context from the server: %w", err)
	}
	c.mu.Lock()
	if behind := c.behindLocked(serverCtx.Context()); behind != nil {
		c.mu.Unlock()
		return nil, 0, behind
	}
	// Deltas made durable by a node that then died may be missing from the
	// node we joined: re-send them (see recent).
	for _, e := range c.recent.lacking(serverCtx.Context(), c.replica) {
		e.gen, e.applied, e.retries, e.solo = 0, false, 0, false
		c.out.add(e)
	}
	// Writes of this replica that neither the outbox nor the server has (a
	// document passed in Config.Doc, recent deltas past the bound): the
	// catch-up in the other direction.
	c.ownCatchUpLocked(serverCtx.Context())
	// Deltas of other sessions that a server relayed and may have lost:
	// handed back (before the outbox, see collect) or dropped.
	c.joinedLocked(joined.Epoch, joined.Stable, serverCtx.Context())
	c.gen++
	cn := &conn{
		gen: c.gen, ws: ws, wake: make(chan struct{}, 1), limits: c.limits,
		flights: map[string][]*entry{}, vouches: map[string]*kept{},
		epoch: joined.Epoch, joinSeq: joined.Seq, stable: joined.Stable,
	}
	cn.bucket = newTokenBucket(c.limits.MaxOpsPerSecond, c.limits.OpsBurst, time.Now())
	c.conn = cn
	c.roster = cloneRoster(joined.Roster)
	c.attempt = 0
	c.presDirty = c.cursor != nil || !c.selection.IsZero()
	c.state = StateJoining
	if joined.CatchUpChunks == 0 {
		c.state = StateLive
	}
	roster := cloneRoster(c.roster)
	c.mu.Unlock()
	c.log.Debug("joined", "role", joined.Role, "chunks", joined.CatchUpChunks, "session", welcome.SessionID)
	c.notifyStatus()
	if fn := c.cfg.OnRoster; fn != nil {
		c.callback(func() { fn(roster) })
	}
	return cn, joined.CatchUpChunks, nil
}

// write encodes f and writes it. Only the goroutine that owns the socket's
// writes may call it: the reader during the handshake, the writer after.
func (c *Client) write(ws *websocket.Conn, f protocol.Frame) error {
	b, err := protocol.Encode(f)
	if err != nil {
		return fmt.Errorf("client: encode %s: %w", f.Type(), err)
	}
	_ = ws.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	if err := ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		return fmt.Errorf("client: write %s: %w", f.Type(), err)
	}
	return nil
}

// read reads and decodes the next frame. A close from the server becomes a
// *CloseError carrying last; frames of a type this build does not know are
// skipped (the server may be newer).
func (c *Client) read(ws *websocket.Conn, last *protocol.Error) (protocol.Frame, error) {
	for {
		mt, b, err := ws.ReadMessage()
		if err != nil {
			var we *websocket.CloseError
			if errors.As(err, &we) {
				return nil, &CloseError{Code: protocol.CloseCode(we.Code), Reason: we.Text, Last: last}
			}
			if last != nil && !last.Retryable {
				// The server refused us and dropped the connection
				// without a close frame: the refusal is the reason.
				return nil, last
			}
			return nil, fmt.Errorf("client: read: %w", err)
		}
		if mt != websocket.BinaryMessage {
			return nil, fmt.Errorf("client: read: %w: text message from the server", protocol.ErrInvalidFrame)
		}
		f, err := protocol.Decode(b, protocol.Limits{MaxFrameBytes: c.cfg.MaxFrameBytes})
		if errors.Is(err, protocol.ErrUnknownFrameType) {
			c.log.Debug("skipping unknown frame", "err", err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("client: read: %w", err)
		}
		return f, nil
	}
}

// readLoop reads frames until the connection ends.
func (c *Client) readLoop(ctx context.Context, cn *conn, chunks uint64) error {
	var last *protocol.Error
	got := uint64(0)
	for {
		_ = cn.ws.SetReadDeadline(time.Now().Add(c.cfg.ReadTimeout))
		f, err := c.read(cn.ws, last)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		switch f := f.(type) {
		case *protocol.CatchUp:
			if f.WorkflowID != c.cfg.WorkflowID {
				continue
			}
			// A catch-up that may hold edits not yet durable is kept as
			// of the join's relay sequence.
			if err := c.mergeRemote(cn, f.Delta, cn.joinSeq, f.Receipt); err != nil {
				return err
			}
			got++
			if f.Last || got >= chunks {
				c.setLive(cn)
			}
		case *protocol.RemoteDelta:
			if f.WorkflowID != c.cfg.WorkflowID {
				continue
			}
			if err := c.mergeRemote(cn, f.Delta, f.Seq, f.Receipt); err != nil {
				return err
			}
		case *protocol.Stable:
			if f.WorkflowID == c.cfg.WorkflowID {
				c.onStable(cn, f)
			}
		case *protocol.Applied:
			c.onApplied(cn, f.OpID)
		case *protocol.Durable:
			c.onDurable(cn, f.OpIDs)
		case *protocol.Acks:
			// Asked for in Hello: one frame for what a server flush
			// answered, applied ids first.
			if len(f.Applied) > 0 {
				c.onApplied(cn, f.Applied...)
			}
			if len(f.Durable) > 0 {
				c.onDurable(cn, f.Durable)
			}
		case *protocol.Nack:
			if f.Code == protocol.CodeWorkflowDeleted {
				c.enterDeleted(f.Message)
				return fmt.Errorf("%w: %s", ErrWorkflowDeleted, f.Message)
			}
			if f.Code == protocol.CodeNotJoined {
				// The server no longer counts this connection in the room (a
				// newer connection from the same tab replaced it, or the room
				// was reset). Resending would only be refused again: drop the
				// connection so that the reconnect joins afresh and resends
				// the outbox.
				return errNotJoined
			}
			c.onNack(cn, f)
		case *protocol.Roster:
			if f.WorkflowID == c.cfg.WorkflowID {
				c.onRoster(f.Entries)
			}
		case *protocol.PresenceUpdate:
			if f.WorkflowID == c.cfg.WorkflowID {
				c.onPresence(f)
			}
		case *protocol.DragUpdate:
			if fn := c.cfg.OnDrag; fn != nil && f.WorkflowID == c.cfg.WorkflowID {
				c.callback(func() { fn(*f) })
			}
		case *protocol.Event:
			if f.WorkflowID == c.cfg.WorkflowID {
				c.onEvent(f)
			}
		case *protocol.Error:
			c.log.Warn("server error", "err", f)
			last = f
			if f.WorkflowID == c.cfg.WorkflowID && f.Code == protocol.CodeWorkflowDeleted {
				c.enterDeleted(f.Message)
				return fmt.Errorf("%w: %w", ErrWorkflowDeleted, f)
			}
			if f.WorkflowID == c.cfg.WorkflowID && !f.Retryable && !ephemeralRefusal(f.Code) {
				return f
			}
		default:
			c.log.Debug("ignoring frame", "type", f.Type())
		}
	}
}

func (c *Client) setLive(cn *conn) {
	c.mu.Lock()
	if c.conn == cn && c.state == StateJoining {
		c.state = StateLive
	}
	c.mu.Unlock()
	c.flushAll() // the catch-up, written at once rather than re-fetched after a crash
	c.notifyStatus()
}

// mergeRemote decodes a delta from the server, merges it, moves the clock
// past its latest write and, when it carries a receipt, keeps it as relay
// sequence relay of the connection's epoch until it is durable. A delta that
// does not decode ends the connection: the server is broken, and a
// reconnect resyncs by context.
func (c *Client) mergeRemote(cn *conn, b []byte, relay uint64, r protocol.Receipt) error {
	delta, err := workflow.Decode(b, workflow.DeltaLimits)
	if err != nil {
		return fmt.Errorf("client: delta from the server: %w", err)
	}
	latest := delta.Latest()
	c.mu.Lock()
	if c.deleted {
		c.mu.Unlock()
		return nil
	}
	c.doc.Merge(delta)
	var renamed []workflow.Renamed
	if c.renames != nil && touchesNames(delta) {
		renamed = c.renames.check(c.doc, c.replica)
	}
	c.logLocked(b)
	if !r.IsZero() {
		c.keepLocked(cn, &kept{epoch: cn.epoch, relay: relay, enc: b, receipt: r, ctx: delta.Context().Clone()})
	}
	if !latest.IsZero() {
		c.clock.Observe(latest, c.nowMs())
	}
	flush := c.flushDueLocked()
	c.mu.Unlock()
	if flush {
		c.flushAll()
	}
	c.changed(delta, true)
	for _, r := range renamed {
		c.callback(func() { c.cfg.OnRename(r) })
	}
	return nil
}

// latestWrite returns the greatest hybrid timestamp of d's values.

func (c *Client) onApplied(cn *conn, ids ...string) {
	c.mu.Lock()
	for _, id := range ids {
		for _, e := range cn.flights[id] {
			if e.gen == cn.gen {
				e.applied = true
			}
		}
	}
	c.mu.Unlock()
	c.notifyStatus()
}

// onDurable drops the entries of the frames ids from the outbox; with
// Config.Dir they move to the log (the document keeps them).
func (c *Client) onDurable(cn *conn, ids []string) {
	c.mu.Lock()
	for _, id := range ids {
		if c.vouchAnsweredLocked(cn, id, nil) {
			continue
		}
		entries := cn.flights[id]
		delete(cn.flights, id)
		for _, e := range entries {
			if c.out.get(e.id) != e {
				continue
			}
			c.out.remove(e.id)
			if e.seq != 0 {
				c.queueLocked(opDurable(e.seq, c.nextSeqLocked(), e.enc))
				c.store.bytes += len(e.enc)
				c.store.logItems++
				c.store.logBytes += len(e.enc)
				e.seq = 0
			}
			c.recent.add(e)
		}
	}
	flush := c.flushDueLocked()
	c.mu.Unlock()
	if flush {
		c.flushAll()
	}
	c.notifyStatus()
}

// onNack answers a refused frame. A retryable refusal resends its entries
// after backoff. A final refusal of a frame that folded several edits
// refuses no edit yet: they are resent one per frame, so that the server
// answers each. A final refusal of a frame of one edit reports that edit
// (OnReject, Status.Rejected) and drops it from the outbox (PROTOCOL.md §9;
// see RejectError).
func (c *Client) onNack(cn *conn, n *protocol.Nack) {
	c.mu.Lock()
	if c.vouchAnsweredLocked(cn, n.OpID, n) {
		flush := c.flushDueLocked()
		c.mu.Unlock()
		if flush {
			c.flushAll()
		}
		return
	}
	var entries []*entry
	for _, e := range cn.flights[n.OpID] {
		if c.out.get(e.id) == e && e.gen == cn.gen {
			entries = append(entries, e)
		}
	}
	delete(cn.flights, n.OpID)
	switch {
	case len(entries) == 0:
		c.mu.Unlock()
		return
	case n.Retryable:
		retries := 0
		for _, e := range entries {
			retries = max(retries, e.retries)
		}
		delay := c.cfg.Backoff.Delay(retries, nil)
		at := time.Now().Add(delay)
		for _, e := range entries {
			e.retries = retries + 1
			e.gen, e.applied = 0, false
			e.retryAt = at
		}
		cn.kick()
		c.mu.Unlock()
		c.log.Info("delta refused for now; resending", "op", n.OpID, "code", n.Code, "delay", delay)
		c.notifyStatus()
		return
	case len(entries) > 1:
		for _, e := range entries {
			e.solo = true
			e.gen, e.applied = 0, false
		}
		cn.kick()
		c.mu.Unlock()
		c.log.Info("folded delta refused; resending its edits one by one", "op", n.OpID, "code", n.Code, "edits", len(entries))
		return
	}
	rej := c.rejectLocked(entries[0], n.Code, n.Message)
	c.mu.Unlock()
	c.log.Error("edit refused", "op", n.OpID, "code", n.Code, "msg", n.Message)
	c.flushAll()
	c.notifyStatus()
	if fn := c.cfg.OnReject; fn != nil {
		c.callback(func() { fn(rej) })
	}
}

func (c *Client) onRoster(entries []protocol.RosterEntry) {
	c.mu.Lock()
	c.roster = cloneRoster(entries)
	c.mu.Unlock()
	if fn := c.cfg.OnRoster; fn != nil {
		c.callback(func() { fn(cloneRoster(entries)) })
	}
}

// onPresence folds a PresenceUpdate into the roster and reports it.
func (c *Client) onPresence(u *protocol.PresenceUpdate) {
	c.mu.Lock()
	for i := range c.roster {
		if c.roster[i].SessionID == u.SessionID {
			c.roster[i].Cursor = nil
			if u.Cursor != nil {
				p := *u.Cursor
				c.roster[i].Cursor = &p
			}
			c.roster[i].Selection = u.Selection
			c.roster[i].Caret = u.Caret
		}
	}
	c.mu.Unlock()
	if fn := c.cfg.OnPresence; fn != nil {
		c.callback(func() { fn(*u) })
	}
}

// onEvent reports a lifecycle event; workflow-deleted also enters the
// deleted state (see enterDeleted), which reports it.
func (c *Client) onEvent(e *protocol.Event) {
	if e.Kind == protocol.EventWorkflowDeleted {
		c.enterDeletedEvent(*e)
		return
	}
	if fn := c.cfg.OnEvent; fn != nil {
		c.callback(func() { fn(*e) })
	}
}

// ephemeralRefusal reports whether an Error about the joined workflow,
// after Joined, refused a Drag (a read role's, PERMISSION_DENIED; one
// over protocol.MaxDragBlocks or MaxDragBytes, TOO_LARGE; one in a locked
// workflow, WORKFLOW_LOCKED): nothing was
// relayed, and the session and its edits are unaffected, so it is logged,
// not the end of Run.
func ephemeralRefusal(code protocol.Code) bool {
	return code == protocol.CodePermissionDenied || code == protocol.CodeTooLarge || code == protocol.CodeWorkflowLocked
}
