package loadgen

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/client"
)

// StormStats is what RunReconnectStorm measured.
type StormStats struct {
	Mode            string  `json:"mode"` // "connections closed" or "server restart"
	RestartS        float64 `json:"restart_s,omitempty"`
	Dropped         int     `json:"connections_dropped"`
	Resynced        int     `json:"clients_resynced"` // live again, caught up, and every op applied before the drop acked durable
	ResyncAllS      float64 `json:"resync_all_s"`     // drop → the last client resynced
	ResyncP50S      float64 `json:"resync_p50_s"`
	ResyncP99S      float64 `json:"resync_p99_s"`
	TimedOut        bool    `json:"timed_out"`
	AppliedAtDrop   int64   `json:"ops_applied_before_drop"`
	Verified        bool    `json:"verified"`       // the final documents were checked (not for a target without storage)
	CheckedValues   int64   `json:"checked_values"` // values of durable-acked ops looked up in the server's documents
	Lost            int64   `json:"lost_values"`    // of those, missing from the server's causal context
	ConvergedClient int     `json:"clients_equal_to_server"`
	Note            string  `json:"note,omitempty"`
}

// RunReconnectStorm connects Config.Clients clients editing at Config.Rate
// ops/s each (Config.Mix, durable kinds only), waits Config.StormWarmup,
// then closes every connection at once from the client side — what a
// server restart or a network cut does to the clients — and measures how
// long it takes until every client is live again, caught up, and has every
// operation it applied before the drop acknowledged durable. The clients
// keep editing through the storm and for 2 s after it, then drain. Then a
// fresh client joins each room and reads the server's document: every
// value of every durable-acked operation must be in its causal context
// (nothing acked was lost), and each client's document should equal it.
//
// With Config.Restart the drop is a restart of the server instead (the
// caller stops it and starts it again on the same address): then what was
// acknowledged durable must also have survived the restart.
//
// The clients reconnect with the Go client's default backoff (base 1 s,
// cap 30 s, full jitter) unless Config.Backoff says otherwise.
func RunReconnectStorm(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Backoff == (client.Backoff{}) {
		cfg.Backoff = client.Backoff{Base: client.DefaultBackoffBase, Cap: client.DefaultBackoffCap}
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.mix.Has(KindDrag) || cfg.mix.Has(KindStructural) {
		return nil, errors.New("loadgen: the reconnect storm takes position and subblock operations only")
	}
	if cfg.Rate <= 0 {
		return nil, errors.New("loadgen: Rate must be positive")
	}
	cfg.trackDots = true
	b := newBench(cfg)
	res := b.newResult()
	set, err := b.connect(ctx, cfg.Clients, cfg.Rooms)
	defer set.closeAll()
	if err != nil {
		return nil, err
	}
	clients := set.clients
	if err := b.setup(ctx, clients); err != nil {
		return nil, err
	}
	res.SetupOps = int64(len(clients))

	st := &StormStats{}
	res.Storm = st
	w := b.openWindow()
	stop := make(chan struct{})
	b.startDrivers(ctx, clients, w.start, stop)
	progDone := make(chan []Progress, 1)
	liveCount := func() int {
		n := 0
		for _, bc := range clients {
			if bc.live() {
				n++
			}
		}
		return n
	}
	go func() { progDone <- b.progress(ctx, clients, w.start, stop, liveCount) }()
	stopOnce := func() {
		select {
		case <-stop:
		default:
			b.closeWindow(stop)
		}
	}
	defer stopOnce()

	select {
	case <-time.After(cfg.StormWarmup):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// A client that is not live at the drop (reconnecting already, on an
	// overloaded machine) has nothing to drop: it counts as resynced once
	// it is live and caught up.
	type mark struct {
		drops, applied int64
		live           bool
	}
	marks := make([]mark, len(clients))
	for i, bc := range clients {
		marks[i] = mark{bc.drops.Load(), bc.applied.Load(), bc.live()}
		st.AppliedAtDrop += marks[i].applied
	}
	dropAt := time.Now()
	if cfg.Restart != nil {
		// The server goes away with every connection: count them, carry
		// the old process's CPU time over, and read the new one's from 0.
		b.connMu.Lock()
		st.Dropped = len(b.conns)
		b.connMu.Unlock()
		old, oldErr := b.readProc()
		pid, err := cfg.Restart(ctx)
		if err != nil {
			return nil, fmt.Errorf("loadgen: restarting the server: %w", err)
		}
		st.Mode = "server restart"
		st.RestartS = time.Since(dropAt).Seconds()
		if oldErr == nil && w.procErr == nil {
			w.cpuCarry = old.CPU - w.proc.CPU
			w.proc = ProcSample{}
		}
		b.cfg.ServerPID = pid
	} else {
		st.Mode = "connections closed"
		st.Dropped = b.dropAll()
	}

	resyncedAt := make([]time.Duration, len(clients))
	deadline := dropAt.Add(cfg.StormTimeout)
	for st.Resynced < len(clients) {
		for i, bc := range clients {
			dropped := bc.drops.Load() > marks[i].drops || !marks[i].live
			if resyncedAt[i] == 0 && dropped && bc.live() && bc.acks64.Load() >= marks[i].applied {
				resyncedAt[i] = time.Since(dropAt)
				st.Resynced++
			}
		}
		if st.Resynced == len(clients) {
			break
		}
		if time.Now().After(deadline) {
			st.TimedOut = true
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	var times []int64
	for _, d := range resyncedAt {
		if d > 0 {
			times = append(times, int64(d))
		}
	}
	if len(times) > 0 {
		slices.Sort(times)
		st.ResyncAllS = float64(times[len(times)-1]) / 1e9
		st.ResyncP50S = at(times, 0.5) / 1e3
		st.ResyncP99S = at(times, 0.99) / 1e3
	}
	// Edit a little longer, live, then stop and drain.
	select {
	case <-time.After(2 * time.Second):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	end := time.Now()
	stopOnce()
	res.Timeline = <-progDone
	if err := b.waitDrivers(ctx, clients); err != nil {
		return nil, err
	}
	b.settle(ctx, clients)
	b.collect(res, clients, w, end)

	if cfg.Store == "none" {
		st.Note = "not verified: the target stores nothing"
		return res, nil
	}
	if err := b.verify(ctx, set, st); err != nil {
		return res, err
	}
	return res, nil
}

// verify joins each room with a fresh client and checks the clients'
// acked values against the server's document (see RunReconnectStorm).
func (b *bench) verify(ctx context.Context, set *clientSet, st *StormStats) error {
	vset := b.newClientSet(ctx)
	defer vset.closeAll()
	docs := make([]*workflow.Doc, b.cfg.Rooms)
	for r := range docs {
		if _, err := vset.start(1_000_000+r, r, b.cfg.WorkflowPrefix+strconv.Itoa(r)); err != nil {
			return err
		}
	}
	if err := waitAll(ctx, vset.clients, time.Now().Add(b.cfg.ConnectTimeout), (*benchClient).live); err != nil {
		return fmt.Errorf("loadgen: verifying: %w", err)
	}
	for r, vc := range vset.clients {
		docs[r] = vc.c.Doc()
	}
	st.Verified = true
	for _, bc := range set.clients {
		sctx := docs[bc.room].Context()
		for _, d := range bc.acked {
			st.CheckedValues++
			if !sctx.Contains(d) {
				st.Lost++
			}
		}
		equal, note := false, ""
		bc.c.Read(func(doc *workflow.Doc) {
			if equal = doc.Equal(docs[bc.room]); !equal {
				note = fmt.Sprintf("client %d (room %d) differs from the server: %d dots only the client has, %d only the server has; %s",
					bc.idx, bc.room, missing(doc.Context(), sctx), missing(sctx, doc.Context()), firstDiff(doc, docs[bc.room]))
			}
		})
		if equal {
			st.ConvergedClient++
		} else if st.Note == "" {
			st.Note = note
		}
	}
	return nil
}

// JoinStats is what RunLargeJoin measured.
type JoinStats struct {
	DocBlocks    int         `json:"doc_blocks"`
	DocBytes     int         `json:"doc_bytes"` // the document's encoding
	BuildS       float64     `json:"build_s"`   // making the document durable, one client
	Joiners      int         `json:"joiners"`
	Complete     int         `json:"joiners_with_every_block"`
	AllLiveS     float64     `json:"all_live_s"` // first dial → the last joiner live (caught up)
	JoinLatency  Percentiles `json:"join_latency"`
	BytesPerJoin float64     `json:"bytes_per_join"` // bytes read by the joiners' sockets, per joiner
	ServerCPUS   float64     `json:"server_cpu_s,omitempty"`
}

// RunLargeJoin has one client build a document of Config.DocBlocks agent
// blocks (name, position, a system prompt; 100 blocks per BatchAddBlocks)
// and wait until it is durable, then starts Config.Clients clients joining
// that document at once and measures, for each, the time from its start
// to StateLive (Joined plus every catch-up chunk merged) and the bytes its
// socket read, then checks that each sees every block.
func RunLargeJoin(ctx context.Context, cfg Config) (*Result, error) {
	cfg.noSetupEdit = true
	cfg.Rooms = 1
	if cfg.Rate == 0 {
		cfg.Rate = 1
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := newBench(cfg)
	res := b.newResult()
	res.Rooms, res.RatePerClient, res.Mix = 1, 0, "join"
	wf := cfg.WorkflowPrefix + "doc"
	js := &JoinStats{DocBlocks: cfg.DocBlocks, Joiners: cfg.Clients}
	res.Join = js

	builder := b.newClientSet(ctx)
	defer builder.closeAll()
	bc, err := builder.start(0, 0, wf)
	if err != nil {
		return nil, err
	}
	if err := waitAll(ctx, builder.clients, time.Now().Add(cfg.ConnectTimeout), (*benchClient).live); err != nil {
		return nil, fmt.Errorf("loadgen: builder: %w", err)
	}
	t0 := time.Now()
	for i := 0; i < cfg.DocBlocks; i += 100 {
		var batch []workflow.BlockInput
		for j := i; j < min(i+100, cfg.DocBlocks); j++ {
			id := fmt.Sprintf("%08x-0000-4000-8000-%012x", j, j)
			batch = append(batch, workflow.BlockInput{
				ID: id, Type: "agent", Name: "Agent " + strconv.Itoa(j),
				Position: &workflow.Position{X: float64(j%100) * 300, Y: float64(j/100) * 200},
				SubBlocks: map[string]workflow.SubBlockInput{
					"systemPrompt": {ID: "systemPrompt", Type: "long-input", Value: "You are agent " + strconv.Itoa(j) + ". Summarise the input in one paragraph."},
				},
			})
		}
		if _, err := bc.c.Apply(workflow.BatchAddBlocks{Blocks: batch}); err != nil {
			return nil, fmt.Errorf("loadgen: building the document: %w", err)
		}
		res.SetupOps++
	}
	if err := waitAll(ctx, builder.clients, time.Now().Add(cfg.ConnectTimeout+time.Duration(cfg.DocBlocks)*time.Millisecond), func(bc *benchClient) bool { return bc.c.Pending() == 0 }); err != nil {
		return nil, fmt.Errorf("loadgen: the document did not become durable: %w", err)
	}
	js.BuildS = time.Since(t0).Seconds()
	bc.c.Read(func(doc *workflow.Doc) { js.DocBytes = len(doc.Encode()) })

	proc0, perr0 := b.readProc()
	r0 := b.bytesR.Load()
	joiners := b.newClientSet(ctx)
	defer joiners.closeAll()
	start := time.Now()
	for i := range cfg.Clients {
		if _, err := joiners.start(i+1, 0, wf); err != nil {
			return nil, err
		}
	}
	liveAt := make([]time.Duration, cfg.Clients)
	deadline := start.Add(cfg.ConnectTimeout)
	for n := 0; n < cfg.Clients; {
		for i, jc := range joiners.clients {
			if liveAt[i] == 0 && jc.live() {
				liveAt[i] = time.Since(start)
				n++
			}
		}
		if n == cfg.Clients {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("loadgen: %d of %d joiners live after %s", n, cfg.Clients, cfg.ConnectTimeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	js.AllLiveS = time.Since(start).Seconds()
	r1 := b.bytesR.Load()
	proc1, perr1 := b.readProc()
	ns := make([]int64, len(liveAt))
	for i, d := range liveAt {
		ns[i] = int64(d)
	}
	js.JoinLatency = percentiles(ns)
	js.BytesPerJoin = float64(r1-r0) / float64(cfg.Clients)
	for _, jc := range joiners.clients {
		var blocks int
		jc.c.Read(func(doc *workflow.Doc) { blocks = countBlocks(doc) })
		if blocks == cfg.DocBlocks {
			js.Complete++
		}
	}
	res.WindowS = js.AllLiveS
	res.BytesRead = r1 - r0
	if perr0 == nil && perr1 == nil && (cfg.ServerPID > 0 || cfg.ServerInProcess) {
		js.ServerCPUS = (proc1.CPU - proc0.CPU).Seconds()
		res.ServerCPUS = js.ServerCPUS
		res.ServerProcess = "pid " + strconv.Itoa(cfg.ServerPID)
		if cfg.ServerInProcess {
			res.ServerProcess = "self (in-process: includes the load generator)"
		}
		res.ServerRSSBytes, res.ServerPeakRSSBytes = proc1.RSSBytes, proc1.HWMBytes
	}
	res.LoadAvg = LoadAvg()
	return res, nil
}

// countBlocks counts the blocks present in doc (the keys of their type
// field), without building a View.
func countBlocks(doc *workflow.Doc) int {
	n := 0
	doc.Store().Range(func(k workflow.Key, cells []crdt.Dotted[workflow.Cell]) bool {
		if k.Kind == workflow.KindBlockField && k.Sub == workflow.FieldType && len(cells) > 0 {
			n++
		}
		return true
	})
	return n
}

// IdleStats is what RunIdle measured.
type IdleStats struct {
	Connections    int     `json:"connections"`
	Held           int     `json:"held"` // clients still live at the end of the hold
	Reconnects     int64   `json:"reconnects"`
	RSSBeforeBytes int64   `json:"server_rss_before_bytes"`
	RSSAfterBytes  int64   `json:"server_rss_after_bytes"`
	KiBPerConn     float64 `json:"server_kib_per_connection"`
	ConnectS       float64 `json:"connect_s"`
	HoldS          float64 `json:"hold_s"`
	NoFileSoft     uint64  `json:"rlimit_nofile_soft"`
	NoFileHard     uint64  `json:"rlimit_nofile_hard"`
}

// RaiseNoFile raises this process's RLIMIT_NOFILE soft limit to the hard
// limit (child processes started afterwards inherit it) and returns both.
// Each websocket is one file descriptor on each side, and the load
// generator and a child server are each one process: both need a little
// more than the connection count.
func RaiseNoFile() (soft, hard uint64, err error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, 0, err
		}
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, 0, err
	}
	return l.Cur, l.Max, nil
}

// RunIdle opens Config.Clients connections joined round-robin to
// Config.Rooms rooms (no edits), holds them for Config.Hold and measures
// the server's resident memory before the first and after the last
// connection (VmRSS of Config.ServerPID), per connection, and how many
// connections stayed live through the hold. It fails early when
// RLIMIT_NOFILE cannot be raised high enough for the connections.
func RunIdle(ctx context.Context, cfg Config) (*Result, error) {
	cfg.noSetupEdit = true
	if cfg.Rate == 0 {
		cfg.Rate = 1
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := newBench(cfg)
	res := b.newResult()
	res.RatePerClient, res.Mix = 0, "idle"
	is := &IdleStats{Connections: cfg.Clients}
	res.Idle = is
	soft, hard, err := RaiseNoFile()
	is.NoFileSoft, is.NoFileHard = soft, hard
	if err != nil {
		return nil, fmt.Errorf("loadgen: raising RLIMIT_NOFILE: %w", err)
	}
	if need := uint64(cfg.Clients) + 256; soft < need {
		return nil, fmt.Errorf("loadgen: RLIMIT_NOFILE is %d (hard limit %d), %d connections need about %d: raise the hard limit (ulimit -Hn, /etc/security/limits.conf or the service's LimitNOFILE)", soft, hard, cfg.Clients, need)
	}
	p0, perr := b.readProc()
	if perr == nil {
		is.RSSBeforeBytes = p0.RSSBytes
	}
	t0 := time.Now()
	set, err := b.connect(ctx, cfg.Clients, cfg.Rooms)
	defer set.closeAll()
	if err != nil {
		return nil, err
	}
	is.ConnectS = time.Since(t0).Seconds()
	r0 := b.reconnects.Load()
	holdStart := time.Now()
	stop := make(chan struct{})
	timer := time.AfterFunc(cfg.Hold, func() { close(stop) })
	defer timer.Stop()
	res.Timeline = b.progress(ctx, set.clients, holdStart, stop, func() int {
		n := 0
		for _, bc := range set.clients {
			if bc.live() {
				n++
			}
		}
		return n
	})
	is.HoldS = time.Since(holdStart).Seconds()
	for _, bc := range set.clients {
		if bc.live() {
			is.Held++
		}
	}
	is.Reconnects = b.reconnects.Load() - r0
	res.Reconnects = int(is.Reconnects)
	if p1, err := b.readProc(); err == nil && perr == nil {
		is.RSSAfterBytes = p1.RSSBytes
		is.KiBPerConn = float64(p1.RSSBytes-p0.RSSBytes) / 1024 / float64(cfg.Clients)
		res.ServerRSSBytes, res.ServerPeakRSSBytes = p1.RSSBytes, p1.HWMBytes
		res.ServerCPUS = (p1.CPU - p0.CPU).Seconds()
		res.ServerProcess = "pid " + strconv.Itoa(cfg.ServerPID)
		if cfg.ServerInProcess {
			res.ServerProcess = "self (in-process: includes the load generator)"
		}
	}
	res.WindowS = is.HoldS
	res.LoadAvg = LoadAvg()
	return res, nil
}

// missing counts the dots of a that b lacks.
func missing(a, b *crdt.Context) int {
	n := 0
	for _, r := range a.Replicas() {
		for _, rg := range a.Ranges(r) {
			for c := rg.Lo; c <= rg.Hi; c++ {
				if !b.Contains(crdt.Dot{Replica: r, Counter: c}) {
					n++
				}
			}
		}
	}
	return n
}

// firstDiff describes the first key whose values differ between a (a
// client's document) and b (the server's).
func firstDiff(a, b *workflow.Doc) string {
	out := "no differing key found"
	describe := func(cells []crdt.Dotted[workflow.Cell]) string {
		var parts []string
		for _, c := range cells {
			v, _ := c.Value.Value.Decode()
			parts = append(parts, fmt.Sprintf("%s:%d=%v", c.Dot.Replica, c.Dot.Counter, v))
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	check := func(x, y *workflow.Doc, xName string) bool {
		found := false
		x.Store().Range(func(k workflow.Key, cells []crdt.Dotted[workflow.Cell]) bool {
			other := y.Store().Get(k)
			if len(other) != len(cells) {
				out = fmt.Sprintf("key %v: %s has %s, the other %s", k, xName, describe(cells), describe(other))
				found = true
				return false
			}
			return true
		})
		return found
	}
	if !check(a, b, "the client") {
		check(b, a, "the server")
	}
	return out
}
