package rooms

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// TestScenarios runs the room scripts in testdata/*.txt, in the style of
// etcd-raft's interaction tests: each script drives one workflow's room
// through members and a store, and the expected output is the frames each
// member was sent, decoded, and what reached the store. Each script runs in
// a synctest bubble, so time moves only by "advance" and the output is the
// same on every run. After a change of behaviour, regenerate the expected
// output with
//
//	go test ./rooms -run TestScenarios -rewrite
//
// and read the diff.
//
// Commands (members are named by a capital letter or word; a member's
// replica is "r" + its lowercased name, its user "u-" + its name):
//
//	config [idle=D] [snapshot-interval=D] [snapshot-max-delay=D] [max-pending=N] [clock-offset=D]
//	    before anything else: the registry's Config (zero fields: defaults)
//	join A [role=read|write|admin] [tab=T] [reload]
//	    A joins with what its client holds; a member that was closed, or
//	    reloads its tab, joins as a new session (A#2, …) of the same client
//	    (the old session, if open, is not told)
//	leave A
//	send A delta OP [forge=REPLICA] [skew=D] [hold]
//	    A's client applies OP locally and sends the delta (hold: later, on
//	    "release A", as a client that edited before it saw what came
//	    meanwhile); skew writes it
//	    with a clock ahead by D (once: the client's clock is left alone),
//	    forge with another replica's dots (then the client's document is
//	    left alone too)
//	release A
//	    sends A's held deltas, in order
//	send A op OP
//	    A sends OP as a thin client; the room prepares it
//	    OPs: add-block id=B [name=N] | rename id=B name=N | move id=B x=X y=Y |
//	         remove id=B | lock id=B (toggles)
//	presence A x=X y=Y
//	deliver
//	    prints every frame each member was sent since the last deliver, and
//	    closed sessions
//	advance D
//	    moves fake time on by D
//	kill store | heal store
//	    store writes fail (and load keeps working) | succeed again
//	lock workflow | unlock workflow
//	restart
//	    closes the registry gracefully and starts a new one on the store
//	delete
//
// Every command then lets the room finish what it was given, and prints
// the store writes made meanwhile (+time since the start: the appends with
// their number of deltas, the snapshots with the blocks their document
// shows; ok or failed) and whether the room was loaded or went away.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in testdata (%v)", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &scenario{t: t, store: &scriptStore{Store: memory.New()}, locks: &WorkflowLocks{},
					start: time.Now(), members: map[string]*scriptMember{}}
				t.Cleanup(s.close)
				datadriven.RunTest(t, path, s.run)
			})
		})
	}
}

// The workflow every script edits.
const scenarioWF = "wf"

type scenario struct {
	t       *testing.T
	cfg     Config
	store   *scriptStore
	locks   *WorkflowLocks
	reg     *Registry
	start   time.Time
	members map[string]*scriptMember
	order   []string // member names in order of first join
	live    bool     // the room was live when last looked at
}

// scriptMember is a session in the room and its client's document.
type scriptMember struct {
	*fakeMember
	name     string
	sessions int
	doc      *workflow.Doc // what the client holds: its own edits and what it was sent
	clock    *crdt.Clock
	room     *Room
	ops      int
	held     []heldDelta // written, not yet sent (send … hold)
	printed  int         // frames printed so far
	absorbed int         // frames merged into doc so far
	shown    bool        // its close was printed
}

type heldDelta struct {
	opID  string
	delta *workflow.Doc
}

// scriptStore is the in-memory store with writes that can be made to fail;
// it logs each write for the scripts.
type scriptStore struct {
	storage.Store
	mu   sync.Mutex
	down bool
	log  []storeEvent
}

type storeEvent struct {
	at   time.Time
	what string // the write and what it carried
	err  error
}

func (s *scriptStore) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

func (s *scriptStore) record(what string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, storeEvent{at: time.Now(), what: what, err: err})
}

func (s *scriptStore) Append(ctx context.Context, wf string, deltas []storage.Delta) error {
	err := errDown
	if !s.isDown() {
		err = s.Store.Append(ctx, wf, deltas)
	}
	// A write is one row, the join of its operations' deltas: the log
	// shows the rows and, when a row covers several, how many operations.
	what := fmt.Sprintf("append of %d deltas", len(deltas))
	if len(deltas) == 1 {
		what = "append of 1 delta"
		if n := deltas[0].Ops(); n > 1 {
			what = fmt.Sprintf("append of 1 delta covering %d ops", n)
		}
	}
	s.record(what, err)
	return err
}

func (s *scriptStore) Snapshot(ctx context.Context, wf string, doc *workflow.Doc, held ...storage.RowKey) (int64, error) {
	var v int64
	err := errDown
	if !s.isDown() {
		v, err = s.Store.Snapshot(ctx, wf, doc, held...)
	}
	// What the snapshot stores, or would have: doc joined with what the
	// store holds. A room hands over what it merged since it loaded (its
	// shadow replica, shadow.go), not the whole document.
	stores := doc.Clone()
	if held, lerr := s.Store.Load(ctx, wf); lerr == nil {
		stores.Merge(held)
	}
	s.record("snapshot of blocks "+blockNames(stores), err)
	return v, err
}

func (s *scenario) registry() *Registry {
	if s.reg == nil {
		cfg := s.cfg
		cfg.ServerReplicaID = "server"
		cfg.Admit = Admissions(LockAdmission(s.locks.IsLocked))
		r, err := NewRegistry(cfg, s.store, nil, NewMetrics(nil))
		if err != nil {
			s.t.Fatal(err)
		}
		s.reg = r
	}
	return s.reg
}

func (s *scenario) close() {
	if s.reg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.reg.Close(ctx); err != nil {
		s.t.Error(err)
	}
	s.reg = nil
}

func (s *scenario) run(t *testing.T, d *datadriven.TestData) string {
	var out strings.Builder
	pos := func(i int) string {
		if i >= len(d.CmdArgs) {
			d.Fatalf(t, "%s: missing argument %d", d.Cmd, i+1)
		}
		return d.CmdArgs[i].Key
	}
	switch d.Cmd {
	case "config":
		if s.reg != nil {
			d.Fatalf(t, "config must come first")
		}
		for _, a := range d.CmdArgs {
			v := a.SingleVal(t)
			switch a.Key {
			case "idle":
				s.cfg.IdleTimeout = duration(t, d, v)
			case "snapshot-interval":
				s.cfg.SnapshotInterval = duration(t, d, v)
			case "snapshot-max-delay":
				s.cfg.SnapshotMaxDelay = duration(t, d, v)
			case "clock-offset":
				s.cfg.ClockOffset = duration(t, d, v)
			case "max-pending":
				n, err := strconv.Atoi(v)
				if err != nil {
					d.Fatalf(t, "max-pending: %v", err)
				}
				s.cfg.MaxPendingBytes = n
			default:
				d.Fatalf(t, "config: unknown %s", a.Key)
			}
		}
	case "join":
		s.join(t, d, pos(0), &out)
	case "leave":
		m := s.member(t, d, pos(0))
		m.room.Leave(m)
	case "send":
		s.send(t, d, s.member(t, d, pos(0)), pos(1))
	case "release":
		m := s.member(t, d, pos(0))
		for _, h := range m.held {
			m.room.SubmitDelta(m, h.opID, h.delta.Encode(), h.delta)
		}
		m.held = nil
	case "presence":
		m := s.member(t, d, pos(0))
		var x, y float64
		d.ScanArgs(t, "x", &x)
		d.ScanArgs(t, "y", &y)
		m.room.Presence(m, &protocol.Point{X: x, Y: y}, protocol.Selection{}, protocol.TextCaret{})
	case "deliver":
		s.settle()
		s.deliver(&out)
	case "advance":
		time.Sleep(duration(t, d, pos(0))) // fake time
	case "kill", "heal":
		if pos(0) != "store" {
			d.Fatalf(t, "%s store", d.Cmd)
		}
		s.store.mu.Lock()
		s.store.down = d.Cmd == "kill"
		s.store.mu.Unlock()
	case "lock", "unlock":
		if pos(0) != "workflow" {
			d.Fatalf(t, "%s workflow", d.Cmd)
		}
		if d.Cmd == "lock" {
			s.locks.Lock(scenarioWF)
		} else {
			s.locks.Unlock(scenarioWF)
		}
	case "restart":
		s.settle()
		s.report(&out)
		s.close()
		fmt.Fprintln(&out, "registry closed")
	case "delete":
		if err := s.registry().DeleteWorkflow(context.Background(), scenarioWF); err != nil {
			fmt.Fprintf(&out, "delete: %v\n", err)
		}
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	s.settle()
	s.report(&out)
	return out.String()
}

func duration(t *testing.T, d *datadriven.TestData, v string) time.Duration {
	dur, err := time.ParseDuration(v)
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	return dur
}

func (s *scenario) member(t *testing.T, d *datadriven.TestData, name string) *scriptMember {
	m, ok := s.members[name]
	if !ok {
		d.Fatalf(t, "%s has not joined", name)
	}
	return m
}

// settle waits until the room is idle and merges what each client was sent
// into its document, as a client would.
func (s *scenario) settle() {
	synctest.Wait()
	for _, name := range s.order {
		m := s.members[name]
		for _, f := range m.decoded(s.t)[m.absorbed:] {
			var raw []byte
			switch f := f.(type) {
			case *protocol.RemoteDelta:
				raw = f.Delta
			case *protocol.CatchUp:
				raw = f.Delta
			}
			if raw != nil {
				delta, err := workflow.Decode(raw, workflow.DeltaLimits)
				if err != nil {
					s.t.Fatalf("%s was sent an undecodable delta: %v", name, err)
				}
				m.doc.Merge(delta)
			}
			m.absorbed++
		}
	}
}

func (s *scenario) join(t *testing.T, d *datadriven.TestData, name string, out *strings.Builder) {
	role := protocol.RoleWrite
	var tab string
	reload := false
	for _, a := range d.CmdArgs[1:] {
		switch a.Key {
		case "role":
			role = protocol.Role(a.SingleVal(t))
		case "tab":
			tab = a.SingleVal(t)
		case "reload":
			reload = true
		default:
			d.Fatalf(t, "join: unknown %s", a.Key)
		}
	}
	m, ok := s.members[name]
	if !ok {
		replica := crdt.ReplicaID("r" + strings.ToLower(name))
		m = &scriptMember{name: name, doc: workflow.New(), clock: crdt.NewClock(replica)}
		s.members[name] = m
		s.order = append(s.order, name)
	}
	if m.fakeMember == nil || m.fakeMember.closed != 0 || m.room == nil || reload {
		m.sessions++
		sid := name
		if m.sessions > 1 {
			sid = fmt.Sprintf("%s#%d", name, m.sessions)
		}
		m.fakeMember = &fakeMember{sid: sid, id: Identity{UserID: "u-" + name, Name: name,
			ReplicaID: m.clock.Replica(), Role: role}}
		m.printed, m.absorbed, m.shown = 0, 0, false
	}
	m.id.Role = role
	have := m.doc.Context().Clone()
	rm, err := s.registry().Join(context.Background(), scenarioWF, m, JoinOptions{Have: have, TabSessionID: tab})
	if err != nil {
		fmt.Fprintf(out, "join: %v (%s)\n", err, ErrorCode(err))
		return
	}
	m.room = rm
}

func (s *scenario) send(t *testing.T, d *datadriven.TestData, m *scriptMember, kind string) {
	if len(d.CmdArgs) < 3 {
		d.Fatalf(t, "send %s %s: which operation?", m.name, kind)
	}
	op := parseOp(t, d, d.CmdArgs[2].Key)
	m.ops++
	opID := fmt.Sprintf("%s%d", m.name, m.ops)
	rm := m.room
	if rm == nil {
		// Never joined: the frame still reaches the room, which answers.
		rm, _ = s.registry().room(scenarioWF)
	}
	switch kind {
	case "op":
		rm.SubmitOperation(m, opID, op)
	case "delta":
		clock, wall := m.clock, time.Now().UnixMilli()
		forged := d.HasArg("forge")
		if forged {
			var replica string
			d.ScanArgs(t, "forge", &replica)
			clock = crdt.NewClock(crdt.ReplicaID(replica))
		}
		if d.HasArg("skew") {
			var v string
			d.ScanArgs(t, "skew", &v)
			wall += duration(t, d, v).Milliseconds()
			c := *clock // a hybrid clock never goes back: leave the client's alone
			clock = &c
		}
		var delta *workflow.Doc
		var err error
		if forged {
			// Not the client's own write: what it holds stays as it was.
			delta, err = m.doc.Prepare(clock.Now(wall), op)
		} else {
			delta, err = m.doc.Apply(clock.Now(wall), op)
		}
		if err != nil {
			d.Fatalf(t, "%s's client refuses %s: %v", m.name, op.Name(), err)
		}
		if d.HasArg("hold") {
			m.held = append(m.held, heldDelta{opID, delta})
			return
		}
		rm.SubmitDelta(m, opID, delta.Encode(), delta)
	default:
		d.Fatalf(t, "send %s %s: delta or op", m.name, kind)
	}
}

// parseOp reads the operation named op from the arguments after it.
func parseOp(t *testing.T, d *datadriven.TestData, op string) workflow.Op {
	str := func(key, def string) string {
		if !d.HasArg(key) {
			if def == "" {
				d.Fatalf(t, "%s needs %s=", op, key)
			}
			return def
		}
		var v string
		d.ScanArgs(t, key, &v)
		return v
	}
	num := func(key string) float64 {
		f, err := strconv.ParseFloat(str(key, "0"), 64)
		if err != nil {
			d.Fatalf(t, "%s: %v", key, err)
		}
		return f
	}
	id := str("id", "")
	switch op {
	case "add-block":
		return workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: str("name", id),
			Position: &workflow.Position{X: num("x"), Y: num("y")}}}}
	case "rename":
		return workflow.UpdateName{ID: id, NewName: str("name", "")}
	case "move":
		return workflow.UpdatePosition{ID: id, Position: workflow.Position{X: num("x"), Y: num("y")}}
	case "remove":
		return workflow.BatchRemoveBlocks{IDs: []string{id}}
	case "lock":
		return workflow.BatchToggleLocked{BlockIDs: []string{id}}
	}
	d.Fatalf(t, "unknown operation %q", op)
	return nil
}

// report prints the store writes since the last report and a change in
// whether the room is live.
func (s *scenario) report(out *strings.Builder) {
	s.store.mu.Lock()
	log := s.store.log
	s.store.log = nil
	s.store.mu.Unlock()
	// Writes started at one instant (a closing room's last append and
	// snapshot) run on goroutines of their own, in either order.
	slices.SortStableFunc(log, func(a, b storeEvent) int {
		return cmp.Or(a.at.Compare(b.at), strings.Compare(a.what, b.what))
	})
	for _, e := range log {
		result := "ok"
		if e.err != nil {
			result = "failed: " + e.err.Error()
		}
		fmt.Fprintf(out, "+%v store: %s %s\n", e.at.Sub(s.start), e.what, result)
	}
	live := s.reg != nil && s.reg.Room(scenarioWF) != nil
	switch {
	case live && !s.live:
		fmt.Fprintf(out, "+%v room loaded\n", time.Since(s.start))
	case !live && s.live:
		fmt.Fprintf(out, "+%v room gone\n", time.Since(s.start))
	}
	s.live = live
}

// deliver prints the frames each member was sent since the last deliver.
func (s *scenario) deliver(out *strings.Builder) {
	for _, name := range s.order {
		m := s.members[name]
		frames := m.decoded(s.t)
		for _, f := range frames[m.printed:] {
			fmt.Fprintf(out, "%s <- %s\n", m.sid, describeFrame(f))
		}
		m.printed = len(frames)
		m.mu.Lock()
		code := m.closed
		m.mu.Unlock()
		if code != 0 && !m.shown {
			fmt.Fprintf(out, "%s closed: %d %s\n", m.sid, code, code)
			m.shown = true
		}
	}
}

// describeFrame writes a frame for a human: its type and the fields that
// matter to the room's behaviour (never wall-clock times).
func describeFrame(f protocol.Frame) string {
	switch f := f.(type) {
	case *protocol.Joined:
		ctx, err := workflow.Decode(f.Context, workflow.DeltaLimits)
		if err != nil {
			return fmt.Sprintf("Joined with an undecodable context: %v", err)
		}
		return fmt.Sprintf("Joined role=%s context=%s roster=%s catch-up=%d seq=%d stable=%d",
			f.Role, describeContext(ctx.Context()), describeRoster(f.Roster), f.CatchUpChunks, f.Seq, f.Stable)
	case *protocol.CatchUp:
		return fmt.Sprintf("CatchUp %d last=%v %s", f.Seq, f.Last, describeDelta(f.Delta))
	case *protocol.Applied:
		return "Applied " + f.OpID
	case *protocol.Durable:
		return "Durable " + strings.Join(f.OpIDs, " ")
	case *protocol.Nack:
		return fmt.Sprintf("Nack %s %s retryable=%v %q", f.OpID, f.Code, f.Retryable, f.Message)
	case *protocol.RemoteDelta:
		return fmt.Sprintf("RemoteDelta seq=%d from %s/%s %s", f.Seq, f.Origin.SessionID, f.Origin.ReplicaID, describeDelta(f.Delta))
	case *protocol.Stable:
		return fmt.Sprintf("Stable seq=%d", f.Seq)
	case *protocol.Roster:
		return "Roster " + describeRoster(f.Entries)
	case *protocol.PresenceUpdate:
		cursor := "none"
		if f.Cursor != nil {
			cursor = fmt.Sprintf("(%g,%g)", f.Cursor.X, f.Cursor.Y)
		}
		return fmt.Sprintf("PresenceUpdate %s cursor=%s", f.SessionID, cursor)
	case *protocol.Event:
		return fmt.Sprintf("Event %s %q", f.Kind, f.Message)
	}
	return fmt.Sprintf("%s %+v", f.Type(), f)
}

func describeRoster(es []protocol.RosterEntry) string {
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.SessionID + ":" + string(e.Role)
	}
	return "[" + strings.Join(names, " ") + "]"
}

// describeContext lists a causal context's dots per replica.
func describeContext(c *crdt.Context) string {
	var parts []string
	for _, r := range slices.Sorted(slices.Values(c.Replicas())) {
		var rs []string
		for _, rg := range c.Ranges(r) {
			if rg.Lo == rg.Hi {
				rs = append(rs, strconv.FormatUint(rg.Lo, 10))
			} else {
				rs = append(rs, fmt.Sprintf("%d-%d", rg.Lo, rg.Hi))
			}
		}
		parts = append(parts, string(r)+":"+strings.Join(rs, ","))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// describeDelta shows a delta's context and, per block, the parts it
// writes (the block itself as "+", fields by name with their values).
func describeDelta(raw []byte) string {
	d, err := workflow.Decode(raw, workflow.DeltaLimits)
	if err != nil {
		return fmt.Sprintf("<undecodable: %v>", err)
	}
	var parts []string
	d.Store().Range(func(k workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		for _, e := range es {
			switch k.Kind {
			case workflow.KindBlock:
				parts = append(parts, "+"+k.ID)
			case workflow.KindBlockField:
				if k.Sub != "name" && k.Sub != "position" && k.Sub != "locked" {
					continue // the defaults every new block writes
				}
				v, err := e.Value.Value.Decode()
				if err != nil {
					v = "<undecodable>"
				}
				parts = append(parts, fmt.Sprintf("%s.%s=%v", k.ID, k.Sub, v))
			default:
				parts = append(parts, fmt.Sprintf("%s:%d/%s", k.ID, k.Kind, k.Sub))
			}
		}
		return true
	})
	slices.Sort(parts)
	return strings.Join(append([]string{describeContext(d.Context())}, parts...), " ")
}

// blockNames lists the blocks a document shows, by id.
func blockNames(d *workflow.Doc) string {
	if d == nil {
		return "-"
	}
	ids := slices.Sorted(maps.Keys(d.View().Blocks))
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, " ")
}
