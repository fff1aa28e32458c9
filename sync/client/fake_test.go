package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/receipt"
	"github.com/gorilla/websocket"
)

// fakeServer speaks sync/protocol for one workflow room: it keeps a
// workflow.Doc, answers Hello and Join (Joined plus CatchUp chunks), acks
// deltas with Applied then Durable, relays RemoteDelta, presence and drag to
// the other connections, and can be told to drop connections, refuse dials
// or refuse deltas. It is small on purpose: the real server has its own
// tests; this one exists to drive the client into every state.
type fakeServer struct {
	t        *testing.T
	srv      *httptest.Server
	handlers sync.WaitGroup // hijacked connections are not tracked by srv.Close

	mu sync.Mutex
	// Guarded by mu.
	doc         *workflow.Doc
	log         []*workflow.Doc // every merged delta, in order (catch-up chunks when split)
	conns       map[*fakeConn]bool
	nextSID     int
	refuseDials bool
	splitChunks bool // send the catch-up as one chunk per logged delta
	holdDurable bool // send Applied but keep Durable back until releaseDurable
	held        map[*fakeConn][]string
	limits      protocol.ServerLimits
	authFail    bool
	joinError   *protocol.Error
	// checkBehind refuses a Join with REPLICA_BEHIND when the server holds
	// dots of the session's replica that the Join's context lacks.
	checkBehind  bool
	behindErrors int // Joins refused with REPLICA_BEHIND
	// nack decides whether to refuse a delta (nil: accept).
	nack      func(opID string, d *workflow.Doc) *protocol.Nack
	deltas    int            // Delta frames received
	opsSeen   map[string]int // op id -> Delta frames received with it
	nacks     int
	hellos    []protocol.Hello
	joins     []protocol.Join
	presences []protocol.Presence

	// Receipts (withReceipts): every delta sent carries a receipt under
	// ring, relayed ones a sequence of the room's epoch; when a delta is
	// durable (with its Durable) it joins stored and the room's durable
	// mark is announced in a Stable frame; crash loses what is not stored
	// and starts a new epoch; Vouch frames are checked and merged.
	ring        *receipt.Keyring // nil: no receipts, epochs or Stable frames
	epoch       string
	epochs      int
	relaySeq    uint64
	stable      uint64
	stored      *workflow.Doc
	quietStable bool // durable marks move without a Stable frame
	// vouchNack decides whether to refuse a Vouch whose receipt checks
	// (nil: accept).
	vouchNack func(v *protocol.Vouch) *protocol.Nack
	vouches   []protocol.Vouch     // Vouch frames received
	edits     []protocol.FrameType // Delta and Vouch frames received, in order
}

type fakeConn struct {
	ws     *websocket.Conn
	wmu    sync.Mutex // one writer at a time
	sid    string
	uid    string
	rid    string
	tab    string
	joined bool
	cursor *protocol.Point
	sel    protocol.Selection
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, doc: workflow.New(), conns: map[*fakeConn]bool{}, held: map[*fakeConn][]string{}, opsSeen: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.set(func(f *fakeServer) { f.refuseDials = true })
		f.dropAll(protocol.CloseServiceRestart)
		f.srv.Close()
		f.handlers.Wait()
	})
	return f
}

func (f *fakeServer) url() string { return "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/v1/sync" }

func (f *fakeServer) set(fn func(f *fakeServer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeServer) snapshot() *workflow.Doc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.doc.Clone()
}

// seed merges a delta into the server's document as if another replica had
// written it.
func (f *fakeServer) seed(d *workflow.Doc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.doc.Merge(d)
	f.log = append(f.log, d)
}

// dropAll closes every connection with code (or, for code 0, drops the TCP
// connection without a close frame).
func (f *fakeServer) dropAll(code protocol.CloseCode) {
	f.mu.Lock()
	conns := make([]*fakeConn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	for _, c := range conns {
		f.closeConn(c, code)
	}
}

func (f *fakeServer) closeConn(c *fakeConn, code protocol.CloseCode) {
	if code != 0 {
		c.wmu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(int(code), code.String()), time.Now().Add(time.Second))
		c.wmu.Unlock()
	}
	c.ws.Close()
}

func (f *fakeServer) numConns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

func (f *fakeServer) numJoins() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.joins)
}

// releaseDurable sends the Durable frames held back by holdDurable.
func (f *fakeServer) releaseDurable() {
	f.mu.Lock()
	held := f.held
	f.held = map[*fakeConn][]string{}
	f.holdDurable = false
	f.mu.Unlock()
	for c, ids := range held {
		f.send(c, &protocol.Durable{OpIDs: ids})
	}
	f.markStable()
}

func (f *fakeServer) send(c *fakeConn, fr protocol.Frame) {
	b, err := protocol.Encode(fr)
	if err != nil {
		f.t.Errorf("fake server: encode %s: %v", fr.Type(), err)
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// othersLocked returns the joined connections other than c.
func (f *fakeServer) othersLocked(c *fakeConn) []*fakeConn {
	var out []*fakeConn
	for o := range f.conns {
		if o != c && o.joined {
			out = append(out, o)
		}
	}
	return out
}

func (f *fakeServer) rosterLocked() []protocol.RosterEntry {
	var es []protocol.RosterEntry
	for c := range f.conns {
		if c.joined {
			es = append(es, protocol.RosterEntry{SessionID: c.sid, TabSessionID: c.tab, UserID: c.uid, Role: protocol.RoleWrite, JoinedAtMs: 1, LastActivityMs: 1, Cursor: c.cursor, Selection: c.sel})
		}
	}
	return es
}

func (f *fakeServer) broadcastRoster() {
	f.mu.Lock()
	r := &protocol.Roster{WorkflowID: "wf-1", Entries: f.rosterLocked()}
	others := f.othersLocked(nil)
	f.mu.Unlock()
	for _, o := range others {
		f.send(o, r)
	}
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	f.handlers.Add(1)
	defer f.handlers.Done()
	f.mu.Lock()
	refuse := f.refuseDials
	f.mu.Unlock()
	if refuse {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	up := websocket.Upgrader{}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &fakeConn{ws: ws}
	f.mu.Lock()
	f.nextSID++
	c.sid = fmt.Sprintf("s%d", f.nextSID)
	f.conns[c] = true
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		delete(f.held, c)
		wasJoined := c.joined
		f.mu.Unlock()
		ws.Close()
		if wasJoined {
			f.broadcastRoster()
		}
	}()
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			return
		}
		fr, err := protocol.Decode(b, protocol.Limits{})
		if err != nil {
			f.t.Errorf("fake server: decode: %v", err)
			return
		}
		if !f.handle(c, fr) {
			return
		}
	}
}

func (f *fakeServer) handle(c *fakeConn, fr protocol.Frame) bool {
	switch fr := fr.(type) {
	case *protocol.Hello:
		f.mu.Lock()
		f.hellos = append(f.hellos, *fr)
		authFail := f.authFail
		c.rid, c.uid = fr.ReplicaID, "u-"+fr.ReplicaID
		lim := f.limits
		f.mu.Unlock()
		if authFail {
			f.send(c, protocol.NewError(protocol.CodeAuthenticationFailed, "bad token"))
			f.closeConn(c, protocol.CloseAuthenticationFailed)
			return false
		}
		f.send(c, &protocol.Welcome{ProtocolVersion: protocol.ProtocolVersion, SessionID: c.sid, User: protocol.User{ID: c.uid}, Limits: lim, ServerTimeMs: time.Now().UnixMilli()})
	case *protocol.Join:
		have, err := workflow.Decode(fr.Context, workflow.DocLimits)
		if len(fr.Context) == 0 {
			have, err = workflow.New(), nil
		}
		if err != nil {
			f.t.Errorf("fake server: join context: %v", err)
			return false
		}
		f.mu.Lock()
		f.joins = append(f.joins, *fr)
		if je := f.joinError; je != nil {
			f.mu.Unlock()
			e := *je
			e.WorkflowID = fr.WorkflowID
			f.send(c, &e)
			return true
		}
		if f.checkBehind {
			theirs := crdt.NewContext()
			for _, r := range f.doc.Context().Ranges(crdt.ReplicaID(c.rid)) {
				theirs.AddRange(crdt.ReplicaID(c.rid), r)
			}
			if !theirs.Missing(have.Context()).IsEmpty() {
				f.behindErrors++
				f.mu.Unlock()
				e := protocol.NewError(protocol.CodeReplicaBehind, "the server holds writes of %s beyond your context", c.rid)
				e.WorkflowID = fr.WorkflowID
				f.send(c, e)
				return true
			}
		}
		var chunks [][]byte
		if f.splitChunks {
			for _, d := range f.log {
				chunks = append(chunks, d.Encode())
			}
		} else if missing := f.doc.DeltaSince(have.Context()); !missing.IsEmpty() {
			chunks = append(chunks, missing.Encode())
		}
		c.joined, c.tab = true, fr.TabSessionID
		roster := f.rosterLocked()
		serverCtx := workflow.New()
		serverCtx.Context().Merge(f.doc.Context())
		joined := &protocol.Joined{WorkflowID: fr.WorkflowID, Role: protocol.RoleWrite, Context: serverCtx.Encode(), Roster: roster, CatchUpChunks: uint64(len(chunks))}
		catchUps := make([]*protocol.CatchUp, len(chunks))
		for i, ch := range chunks {
			catchUps[i] = &protocol.CatchUp{WorkflowID: fr.WorkflowID, Seq: uint64(i), Last: i == len(chunks)-1, Delta: ch}
			if f.ring != nil {
				catchUps[i].Receipt = f.receiptLocked(fr.WorkflowID, ch)
			}
		}
		if f.ring != nil {
			joined.Epoch, joined.Seq, joined.Stable = f.epoch, f.relaySeq, f.stable
		}
		f.mu.Unlock()
		f.send(c, joined)
		for _, cu := range catchUps {
			f.send(c, cu)
		}
		f.broadcastRoster()
	case *protocol.Delta:
		d, err := workflow.Decode(fr.Delta, workflow.DeltaLimits)
		if err != nil {
			f.send(c, &protocol.Nack{OpID: fr.OpID, Code: protocol.CodeInvalidDelta, Retryable: false})
			return true
		}
		f.mu.Lock()
		f.deltas++
		f.opsSeen[fr.OpID]++
		f.edits = append(f.edits, protocol.FrameDelta)
		if f.nack != nil {
			if n := f.nack(fr.OpID, d); n != nil {
				f.nacks++
				f.mu.Unlock()
				f.send(c, n)
				return true
			}
		}
		f.mergeAndRelay(c, fr.WorkflowID, fr.OpID, fr.Delta, d)
	case *protocol.Vouch:
		f.mu.Lock()
		f.vouches = append(f.vouches, *fr)
		f.edits = append(f.edits, protocol.FrameVouch)
		var n *protocol.Nack
		if f.ring == nil || f.ring.Verify(fr.WorkflowID, fr.Delta, receipt.Receipt{KeyID: fr.Receipt.KeyID, MAC: fr.Receipt.MAC}) != nil {
			n = &protocol.Nack{OpID: fr.OpID, Code: protocol.CodeBadReceipt, Message: "receipt does not check"}
		} else if f.vouchNack != nil {
			n = f.vouchNack(fr)
		}
		if n != nil {
			f.mu.Unlock()
			f.send(c, n)
			return true
		}
		d, err := workflow.Decode(fr.Delta, workflow.DeltaLimits)
		if err != nil {
			f.mu.Unlock()
			f.t.Errorf("fake server: vouched delta: %v", err)
			return false
		}
		f.mergeAndRelay(c, fr.WorkflowID, fr.OpID, fr.Delta, d)
	case *protocol.Presence:
		f.mu.Lock()
		f.presences = append(f.presences, *fr)
		c.cursor, c.sel = fr.Cursor, fr.Selection
		others := f.othersLocked(c)
		f.mu.Unlock()
		for _, o := range others {
			f.send(o, &protocol.PresenceUpdate{WorkflowID: fr.WorkflowID, SessionID: c.sid, UserID: c.uid, Cursor: fr.Cursor, Selection: fr.Selection})
		}
	case *protocol.Drag:
		f.mu.Lock()
		others := f.othersLocked(c)
		f.mu.Unlock()
		for _, o := range others {
			f.send(o, &protocol.DragUpdate{WorkflowID: fr.WorkflowID, SessionID: c.sid, UserID: c.uid, Positions: fr.Positions})
		}
	case *protocol.Leave:
	default:
		f.t.Errorf("fake server: unexpected %s", fr.Type())
		return false
	}
	return true
}

// mergeAndRelay merges an admitted delta (f.mu held; it unlocks it), acks
// it, relays it to the other members if it is new to the room and, unless
// Durable is held back, makes it durable.
func (f *fakeServer) mergeAndRelay(c *fakeConn, wf, op string, b []byte, d *workflow.Doc) {
	var others []*fakeConn
	if !f.doc.Context().Covers(d.Context()) { // like the real server, relay only what is new
		others = f.othersLocked(c)
	}
	f.doc.Merge(d)
	f.log = append(f.log, d)
	hold := f.holdDurable
	if hold {
		f.held[c] = append(f.held[c], op)
	}
	relay := &protocol.RemoteDelta{WorkflowID: wf, Delta: b, Origin: protocol.Origin{UserID: c.uid, ReplicaID: c.rid, SessionID: c.sid}}
	if f.ring != nil && len(others) > 0 {
		f.relaySeq++
		relay.Seq, relay.Receipt = f.relaySeq, f.receiptLocked(wf, b)
	}
	f.mu.Unlock()
	f.send(c, &protocol.Applied{OpID: op})
	for _, o := range others {
		f.send(o, relay)
	}
	if !hold {
		f.send(c, &protocol.Durable{OpIDs: []string{op}})
		f.markStable()
	}
}

func (f *fakeServer) receiptLocked(wf string, b []byte) protocol.Receipt {
	r := f.ring.Sign(wf, b)
	return protocol.Receipt{KeyID: r.KeyID, MAC: r.MAC}
}

// withReceipts turns receipts on, signing with a fresh key.
func (f *fakeServer) withReceipts() *fakeServer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ring = newRing(f.t)
	f.stored = f.doc.Clone()
	f.epochs++
	f.epoch = fmt.Sprintf("epoch-%d", f.epochs)
	return f
}

func newRing(t *testing.T) *receipt.Keyring {
	t.Helper()
	k, err := receipt.NewKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := receipt.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

// markStable stores what the room holds and, with receipts, announces the
// durable mark to every member (unless quietStable).
func (f *fakeServer) markStable() {
	f.mu.Lock()
	if f.ring == nil {
		f.mu.Unlock()
		return
	}
	f.stored = f.doc.Clone()
	f.stable = f.relaySeq
	st := &protocol.Stable{WorkflowID: "wf-1", Epoch: f.epoch, Seq: f.stable}
	quiet := f.quietStable
	f.mu.Unlock()
	if !quiet {
		f.emit(st)
	}
}

// crash loses what the room had not stored and drops every connection: the
// next joins meet a new epoch.
func (f *fakeServer) crash() {
	f.mu.Lock()
	f.doc = f.stored.Clone()
	f.log = []*workflow.Doc{f.stored.Clone()}
	f.held = map[*fakeConn][]string{}
	f.holdDurable = false
	f.epochs++
	f.epoch = fmt.Sprintf("epoch-%d", f.epochs)
	f.relaySeq, f.stable = 0, 0
	f.edits = nil
	f.mu.Unlock()
	f.dropAll(protocol.CloseServiceRestart)
}

// emit sends fr to every joined connection.
func (f *fakeServer) emit(fr protocol.Frame) {
	f.mu.Lock()
	all := f.othersLocked(nil)
	f.mu.Unlock()
	for _, c := range all {
		f.send(c, fr)
	}
}

// ---- helpers -------------------------------------------------------------

// testClient is a Client run in the background for one test.
type testClient struct {
	*Client
	done chan error
}

func startClient(t *testing.T, f *fakeServer, replica string, edit func(*Config)) *testClient {
	t.Helper()
	cfg := Config{
		URL:        f.url(),
		Token:      "dev",
		ReplicaID:  replica,
		WorkflowID: "wf-1",
		Backoff:    Backoff{Base: 5 * time.Millisecond, Cap: 50 * time.Millisecond},
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc := &testClient{Client: c, done: make(chan error, 1)}
	go func() { tc.done <- c.Run(t.Context()) }()
	t.Cleanup(func() {
		c.Close()
		if err := <-tc.done; !errors.Is(err, ErrClosed) && !errors.Is(err, t.Context().Err()) {
			var ce *CloseError
			if !errors.As(err, &ce) {
				t.Errorf("Run: %v", err)
			}
		}
	})
	return tc
}

func (c *testClient) waitLive(t *testing.T) {
	t.Helper()
	testutil.WaitFor(t, c.ReplicaID()+" live", func() bool { return c.Status().State == StateLive })
}

func (c *testClient) waitSaved(t *testing.T) {
	t.Helper()
	testutil.WaitFor(t, c.ReplicaID()+" saved", func() bool { s := c.Status(); return s.State == StateLive && s.Pending == 0 })
}

func addBlock(id, name string) workflow.Op {
	return workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: name, Position: &workflow.Position{X: 1, Y: 2}}}}
}

func mustApply(t *testing.T, c *Client, op workflow.Op) *workflow.Doc {
	t.Helper()
	d, err := c.Apply(op)
	if err != nil {
		t.Fatalf("Apply(%s): %v", op.Name(), err)
	}
	return d
}

// serverDelta builds a delta written by replica "other" on top of base.
func serverDelta(t *testing.T, base *workflow.Doc, wall int64, op workflow.Op) *workflow.Doc {
	t.Helper()
	d, err := base.Apply(crdt.Timestamp{Wall: wall, Replica: "other"}, op)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
