package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Point is a canvas position (cursor, dragged block).
type Point = protocol.Point

// Client is one replica of one workflow. Create it with New, drive its
// connection with Run, edit with Apply, and stop it with Close.
type Client struct {
	// Static after New.
	cfg      Config
	log      *slog.Logger
	opPrefix string
	closing  context.Context // done once Close was called
	close    context.CancelFunc
	persist  bool // Config.Dir is set

	// Status notification (see notifyStatus).
	statusMu    sync.Mutex // held while OnStatus runs; guards lastStatus
	statusDirty atomic.Bool
	lastStatus  Status
	// callbacks counts callbacks in progress, so that Close called from one
	// does not wait for the goroutine it runs on.
	callbacks atomic.Int32
	// texts are the Text handles' change listeners (text.go).
	texts textWatchers

	// editMu keeps Reset and replica resets, which rename or drop the
	// replica's dots (write lock), from running while an Apply (read lock)
	// waits for its edit to be stored with mu released: the edit would join
	// the outbox under the old id after the reset.
	editMu sync.RWMutex
	// storeMu serializes commits to Config.Dir (see flush). disk is guarded
	// by it: nil without Config.Dir, and after Close.
	storeMu sync.Mutex
	disk    *disk

	// Lock order: statusMu, editMu, storeMu, mu (OnStatus, run with
	// statusMu held, may call Apply). No other callback runs with any of
	// them held.
	mu sync.Mutex
	// Guarded by mu.
	replica  crdt.ReplicaID
	doc      *workflow.Doc
	clock    *crdt.Clock
	opSeq    uint64
	out      outbox
	storing  map[*entry]bool // edits merged whose Apply waits for Config.Dir; not yet in out
	recent   recent          // durable deltas kept to re-send to a node that lacks them
	kept     keptSet         // deltas of others kept with their receipts until durable
	rejected []*rejection    // edits refused for good, until Reset
	// loadMax is the greatest counter of replica in the document the client
	// started from (Config.Doc or Dir); sentMax the greatest it has sent.
	// A server holding a counter beyond both saw writes of this id that
	// this client neither loaded nor sent: the id was reused (see behindLocked).
	loadMax, sentMax uint64
	store            storeQueue // writes to Config.Dir not yet committed
	state            State
	attempt          int
	closed           bool
	deleted          bool          // the workflow was deleted: see enterDeleted
	runDone          chan struct{} // closed when the running Run returns; nil when none runs
	// connCancel ends the current connection attempt (nil when none);
	// resetting makes Run reconnect at once after it ends.
	connCancel context.CancelFunc
	resetting  bool
	gen        uint64 // generation of the latest connection
	conn       *conn  // the joined connection whose writer runs; nil otherwise
	sessionID  string
	user       protocol.User
	limits     protocol.ServerLimits
	roster     []protocol.RosterEntry
	cursor     *Point
	selection  protocol.Selection
	caret      protocol.TextCaret
	presDirty  bool             // presence changed since the last Presence frame
	drag       map[string]Point // positions not yet sent; nil when none
	renames    renames          // reported by OnRename; nil without OnRename
	undo       *workflow.UndoManager
}

// New returns a Client for cfg. It does not connect: call Run. It returns an
// error wrapping ErrConfig when cfg is invalid. With Config.Dir it opens (or
// creates) the client's file there and resumes what it holds; it returns
// ErrDirLocked when another Client holds the directory, and an error
// wrapping ErrStorage when the file cannot be read.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.TabSessionID == "" {
		cfg.TabSessionID = "tab-" + randomHex(8)
	}
	doc := cfg.Doc
	if doc == nil {
		doc = workflow.New()
	}
	cfg.Doc = nil
	closing, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:      cfg,
		opPrefix: randomHex(6),
		closing:  closing,
		close:    cancel,
		persist:  cfg.Dir != "",
		replica:  crdt.ReplicaID(cfg.ReplicaID),
		doc:      doc,
		state:    StateOffline,
		undo:     workflow.NewUndoManager(cfg.Undo),
	}
	if c.persist {
		if err := c.openDir(doc); err != nil {
			cancel()
			return nil, err
		}
	}
	c.clock = crdt.NewClock(c.replica)
	c.loadMax = c.doc.Context().Max(c.replica)
	if cfg.OnRename != nil {
		c.renames = seedRenames(c.doc, c.replica)
	}
	// A saved or stored document may hold writes stamped ahead of this
	// machine's clock (observed from a faster one): the next local write
	// must still order after them, or it would lose to what it overwrites.
	if latest := c.doc.Latest(); !latest.IsZero() {
		c.clock.Observe(latest, c.nowMs())
	}
	if c.deleted {
		c.state = StateDeleted
	}
	c.log = cfg.Logger.With("replica", string(c.replica), "workflow", cfg.WorkflowID)
	c.lastStatus = c.statusLocked()
	return c, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// nextOpIDLocked returns a fresh op id: unique per session (the counter)
// and, through the random prefix, unlikely to collide with another client's
// ids in logs.
func (c *Client) nextOpIDLocked() string {
	c.opSeq++
	return c.opPrefix + "-" + strconv.FormatUint(c.opSeq, 36)
}

func (c *Client) nowMs() int64 { return c.cfg.Now().UnixMilli() }

// Apply runs op against the local document, stamped with the client's
// hybrid logical clock, and returns its delta. The delta is merged locally
// and queued in the outbox, which sends it when connected and keeps it until
// the server reports it durable. With Config.Dir, Apply returns only once
// the edit is stored there (one fsynced commit; concurrent calls share
// commits), and nothing is sent before that, so an edit Apply accepted
// survives a crash of the process and is sent by the next Client that opens
// the directory. The returned delta is shared with the outbox: do not
// modify it.
//
// A refused operation changes nothing and returns the workflow package's
// typed error (workflow.ErrNoEffect, ErrUnknownBlock, ErrLocked, …), or
// ErrDeltaTooLarge when its delta exceeds the server's delta limit,
// ErrWorkflowDeleted once the workflow is known deleted, ErrClosed after
// Close. An edit that cannot be stored returns an error wrapping ErrStorage
// (or ErrClosed when Close released the directory meanwhile): the local
// document shows it, but it is never sent, and the directory lacks it.
func (c *Client) Apply(op workflow.Op) (*workflow.Doc, error) {
	c.editMu.RLock()
	delta, err := c.apply(op)
	c.editMu.RUnlock()
	if err != nil {
		return nil, err
	}
	c.notifyStatus()
	c.changed(delta, false)
	return delta, nil
}

// apply is Apply with editMu read-locked.
func (c *Client) apply(op workflow.Op) (*workflow.Doc, error) {
	return c.edit(func(ts crdt.Timestamp) (localEdit, error) {
		delta, err := c.doc.Prepare(ts, op)
		if err != nil {
			return localEdit{}, err
		}
		return localEdit{
			name:        op.Name(),
			delta:       delta,
			beforeMerge: func() { c.undo.Record(c.doc, delta, ts) },
		}, nil
	})
}

// localEdit is an edit prepared against the document (not merged), with
// what the undo manager does around its merge.
type localEdit struct {
	name        string
	delta       *workflow.Doc
	beforeMerge func() // capture for undo (Record)
	afterMerge  func() // an undo's or redo's Commit
}

// edit runs prepare under mu at a fresh timestamp, merges the edit, and
// queues it in the outbox (with Config.Dir, once it is stored), with editMu
// read-locked.
func (c *Client) edit(prepare func(ts crdt.Timestamp) (localEdit, error)) (*workflow.Doc, error) {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil, ErrClosed
	case c.deleted:
		c.mu.Unlock()
		return nil, ErrWorkflowDeleted
	case c.store.err != nil:
		err := c.store.err
		c.mu.Unlock()
		return nil, err
	}
	before := c.doc.Context().Max(c.replica)
	ts := c.clock.Now(c.nowMs())
	le, err := prepare(ts)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	delta := le.delta
	enc := delta.Encode()
	if limit := c.maxDeltaLocked(); len(enc) > limit {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrDeltaTooLarge, le.name, len(enc), limit)
	}
	es, err := c.entriesLocked(delta, enc, before)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	if le.beforeMerge != nil {
		le.beforeMerge()
	}
	// Merged at once, so that the next Apply, which may run while this one
	// waits for the disk, mints after it.
	c.doc.Merge(delta)
	if le.afterMerge != nil {
		le.afterMerge()
	}
	if !c.persist {
		for _, e := range es {
			c.out.add(e)
		}
		c.kickLocked()
		c.mu.Unlock()
		return delta, nil
	}
	if c.storing == nil {
		c.storing = make(map[*entry]bool)
	}
	var ticket uint64
	for _, e := range es {
		e.seq = c.nextSeqLocked()
		ticket = c.queueLocked(opPutEntry(e))
		c.storing[e] = true
	}
	c.mu.Unlock()
	// Only a stored edit joins the outbox, which is all the writer sends
	// (and the catch-up after a join leaves the edits in storing out).
	err = c.flush(ticket)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range es {
		delete(c.storing, e)
	}
	if err != nil {
		return nil, err
	}
	if c.deleted {
		return nil, ErrWorkflowDeleted // the deletion dropped the stored entry too
	}
	for _, e := range es {
		c.out.add(e)
	}
	c.kickLocked()
	return delta, nil
}

// entriesLocked turns an edit's delta (encoded as enc; the replica's
// counters up to before were minted earlier) into outbox entries: one, or,
// when the delta passes the work caps a server holds every delta to
// (workflow.DeltaCaps), its chunks (Doc.EncodeChunks), each a delta of its
// own that the server admits. The chunks commute, so their order and
// any loss between them do not matter.
func (c *Client) entriesLocked(delta *workflow.Doc, enc []byte, before uint64) ([]*entry, error) {
	minted := func(ctx *crdt.Context) []crdt.Range {
		var out []crdt.Range
		for _, r := range ctx.Ranges(c.replica) {
			if r.Hi > before {
				out = append(out, crdt.Range{Lo: max(r.Lo, before+1), Hi: r.Hi})
			}
		}
		return out
	}
	if len(enc) <= workflow.DeltaCaps.SafeBytes() || delta.Counts().Within(workflow.DeltaCaps) {
		return []*entry{{id: c.nextOpIDLocked(), delta: delta, enc: enc, mine: minted(delta.Context())}}, nil
	}
	var es []*entry
	for _, chunk := range delta.EncodeChunks(c.maxDeltaLocked()) {
		d, err := workflow.Decode(chunk, workflow.DocLimits)
		if err != nil {
			return nil, fmt.Errorf("client: a chunk of an edit does not decode: %w", err)
		}
		es = append(es, &entry{id: c.nextOpIDLocked(), delta: d, enc: chunk, mine: minted(d.Context())})
	}
	return es, nil
}

// maxDeltaLocked is the largest delta the server accepts.
func (c *Client) maxDeltaLocked() int {
	if l := c.limits.MaxDeltaBytes; l > 0 && l < math.MaxInt32 {
		return int(l)
	}
	return DefaultMaxDeltaBytes
}

// kickLocked wakes the writer of the joined connection, if any.
func (c *Client) kickLocked() {
	if c.conn != nil {
		c.conn.kick()
	}
}

// Reset discards the local document, the outbox and the refused edits,
// switches to a new replica id and rejoins with an empty context (the server
// sends the whole document). It is what PROTOCOL.md §9 asks after a
// non-retryable Nack (see RejectError): the local replica held writes the
// server will never have. replicaID must be new: never a replica id this or
// another client used. Re-apply the edits the user still wants after the
// catch-up (Status reaches StateLive). With Config.Dir the reset is stored
// before Reset returns.
func (c *Client) Reset(replicaID string) error {
	if replicaID == "" || len(replicaID) > protocol.MaxIDBytes {
		return fmt.Errorf("%w: replica id must be 1 to %d bytes", ErrConfig, protocol.MaxIDBytes)
	}
	err := c.reset(crdt.ReplicaID(replicaID))
	c.notifyStatus()
	return err
}

// reset is Reset without the notification, which must run without editMu
// (OnStatus may call Apply).
func (c *Client) reset(replicaID crdt.ReplicaID) error {
	c.editMu.Lock()
	defer c.editMu.Unlock()
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.deleted:
		c.mu.Unlock()
		return ErrWorkflowDeleted
	case replicaID == c.replica:
		c.mu.Unlock()
		return fmt.Errorf("%w: Reset needs a new replica id, not %q", ErrConfig, replicaID)
	}
	c.replica = replicaID
	c.clock = crdt.NewClock(c.replica)
	c.loadMax, c.sentMax = 0, 0
	c.doc = workflow.New()
	if c.renames != nil {
		c.renames = renames{}
	}
	c.out.clear()
	c.recent = recent{}
	c.rejected = nil
	c.drag = nil
	c.undo.Clear()
	var ticket uint64
	if c.persist {
		c.queueLocked(opReplica(c.replica))
		c.queueLocked(opReplaceOutbox(nil))
		c.queueLocked(opClearRejected())
		ticket = c.queueSnapshotLocked()
	}
	cancel := c.connCancel
	if cancel != nil {
		c.resetting = true
	}
	c.mu.Unlock()
	var err error
	if ticket != 0 {
		err = c.flush(ticket)
	}
	if cancel != nil {
		cancel()
	}
	return err
}

// View returns the document as an editor renders it (workflow.Doc.View).
func (c *Client) View() *workflow.View {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.doc.View()
}

// Doc returns a copy of the local document.
func (c *Client) Doc() *workflow.Doc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.doc.Clone()
}

// Read calls fn with the local document under the client's lock: fn must
// not modify doc, keep it, or call the Client's methods.
func (c *Client) Read(fn func(doc *workflow.Doc)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(c.doc)
}

// ReplicaID returns the replica id the client writes with: Config.ReplicaID,
// or the one stored in Config.Dir, until Reset or a replica reset (the
// server found the id reused after lost state) switches to a new one.
func (c *Client) ReplicaID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.replica)
}

// TabSessionID returns the tab session id sent with every Join.
func (c *Client) TabSessionID() string { return c.cfg.TabSessionID }

// Session returns the id of the latest session and the user the server
// authenticated (empty before the first Welcome).
func (c *Client) Session() (sessionID string, user protocol.User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID, c.user
}

// Pending returns the number of local deltas not yet durable.
func (c *Client) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.len()
}

// Status returns the current connection state and outbox counts.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statusLocked()
}

func (c *Client) statusLocked() Status {
	var gen uint64
	if c.conn != nil {
		gen = c.conn.gen
	}
	return Status{State: c.state, Pending: c.out.len(), Unacked: c.out.unacked(gen), Rejected: len(c.rejected), Attempt: c.attempt}
}

// Roster returns a copy of the room's roster as last received (empty while
// not joined).
func (c *Client) Roster() []protocol.RosterEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cloneRoster(c.roster)
}

func cloneRoster(r []protocol.RosterEntry) []protocol.RosterEntry {
	out := make([]protocol.RosterEntry, len(r))
	copy(out, r)
	for i := range out {
		if p := out[i].Cursor; p != nil {
			q := *p
			out[i].Cursor = &q
		}
	}
	return out
}

// SetCursor sets this session's cursor, in canvas coordinates. Presence is
// sent at most every Config.PresenceInterval (the latest state wins) and
// again after every rejoin; it never enters the document.
func (c *Client) SetCursor(x, y float64) error {
	if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
		return fmt.Errorf("client: cursor (%v, %v) is not finite", x, y)
	}
	return c.setPresence(func() { c.cursor = &Point{X: x, Y: y} })
}

// ClearCursor says the pointer left the canvas.
func (c *Client) ClearCursor() error { return c.setPresence(func() { c.cursor = nil }) }

// SetSelection sets what this session has selected: protocol.SelectBlock or
// SelectEdge with an id, or SelectNone (or "") with an empty id.
func (c *Client) SetSelection(kind protocol.SelectionType, id string) error {
	sel := protocol.Selection{Type: kind, ID: id}
	switch kind {
	case "", protocol.SelectNone:
		if id != "" {
			return fmt.Errorf("client: selection %q has an id", kind)
		}
		sel = protocol.Selection{}
	case protocol.SelectBlock, protocol.SelectEdge:
		if id == "" || len(id) > protocol.MaxIDBytes {
			return fmt.Errorf("client: selection id must be 1 to %d bytes", protocol.MaxIDBytes)
		}
	default:
		return fmt.Errorf("client: unknown selection type %q", kind)
	}
	return c.setPresence(func() { c.selection = sel })
}

func (c *Client) setPresence(set func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	set()
	c.presDirty = true
	c.kickLocked()
	return nil
}

// Drag sends the live positions of blocks being dragged. Drag positions
// are ephemeral: relayed to the room, never merged or stored, and dropped
// while offline. On drop, Apply the final positions
// (workflow.BatchUpdatePositions) as a real edit. Calls faster than
// Config.PresenceInterval are folded, later positions winning. A call over
// protocol.MaxDragBlocks blocks or protocol.MaxDragBytes is refused. A
// session with the read role may not drag: the server answers Error
// PERMISSION_DENIED, which the client logs (Run goes on).
func (c *Client) Drag(positions map[string]Point) error {
	if len(positions) > protocol.MaxDragBlocks || dragBytes(positions) > protocol.MaxDragBytes {
		return fmt.Errorf("client: a drag carries at most %d blocks and %d bytes (the server refuses more with TOO_LARGE)",
			protocol.MaxDragBlocks, protocol.MaxDragBytes)
	}
	for id, p := range positions {
		if id == "" || len(id) > protocol.MaxIDBytes {
			return fmt.Errorf("client: drag block id must be 1 to %d bytes", protocol.MaxIDBytes)
		}
		if math.IsNaN(p.X) || math.IsInf(p.X, 0) || math.IsNaN(p.Y) || math.IsInf(p.Y, 0) {
			return fmt.Errorf("client: drag position of %q is not finite", id)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.conn == nil || len(positions) == 0 {
		return nil
	}
	if c.drag == nil {
		c.drag = make(map[string]Point, len(positions))
	} else if len(c.drag)+len(positions) > protocol.MaxDragBlocks || dragBytes(c.drag)+dragBytes(positions) > protocol.MaxDragBytes {
		// Folding calls must not build a frame over the server's bounds:
		// the latest call wins.
		clear(c.drag)
	}
	for id, p := range positions {
		c.drag[id] = p
	}
	c.kickLocked()
	return nil
}

// Close stops Run (which then returns ErrClosed), closes the connection
// with 1000 and waits until every goroutine the Client started has exited,
// unless it is called from a callback (then Run finishes shortly after).
// Pending edits are not sent; with Config.Dir they stay stored for the next
// Client, and Close writes what was waiting and releases the directory.
// Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	c.state = StateClosed
	done := c.runDone
	c.mu.Unlock()
	c.close()
	if done != nil && c.callbacks.Load() == 0 {
		<-done
	}
	err := c.closeStore()
	c.notifyStatus()
	return err
}

// callback runs fn, counting it as a callback in progress.
func (c *Client) callback(fn func()) {
	c.callbacks.Add(1)
	defer c.callbacks.Add(-1)
	fn()
}

// notifyStatus calls OnStatus if the status changed since the last call.
// Calls are serialized, and a change made while OnStatus runs (even by
// OnStatus itself, through Apply) is delivered by the loop that is already
// running, so the last call always carries the latest status.
func (c *Client) notifyStatus() {
	fn := c.cfg.OnStatus
	if fn == nil {
		return
	}
	c.statusDirty.Store(true)
	for c.statusDirty.Load() {
		if !c.statusMu.TryLock() {
			return // the holder will see statusDirty
		}
		for c.statusDirty.Swap(false) {
			s := c.Status()
			if s != c.lastStatus {
				c.lastStatus = s
				c.callback(func() { fn(s) })
			}
		}
		c.statusMu.Unlock()
	}
}

func (c *Client) setState(s State) {
	c.mu.Lock()
	switch {
	case c.closed && s != StateClosed:
	case c.deleted && s != StateClosed && s != StateDeleted:
	default:
		c.state = s
	}
	c.mu.Unlock()
	c.notifyStatus()
}

// dragBytes is an upper bound of what positions take in a Drag frame: per
// block its id (with a str header of at most 3 bytes) and a point map of
// two float64 (23 bytes), plus the frame's envelope and workflow id.
func dragBytes(positions map[string]Point) int {
	n := 16 + 3 + protocol.MaxIDBytes
	for id := range positions {
		n += 3 + len(id) + 23
	}
	return n
}
