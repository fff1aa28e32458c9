// Package loadgen drives real websocket clients (sync/client) against a
// flowsync-protocol server and measures what issue 7 asks for: operations/s
// made durable, deliveries/s, delivery latency (sender → each receiver),
// durable-ack latency, bytes on the wire per operation, and the server's CPU
// time and resident memory read from /proc.
//
// How the figures are taken:
//
//   - Every operation carries its send time. A typing operation sets the
//     sub-block SubBlockID of the sender's own block to "t=<unix nanos>"; a
//     position operation moves the sender's block to x = nanoseconds since
//     the run's epoch (exact in a float64 for 104 days). Both are taken on
//     the monotonic clock (the epoch's wall time plus the monotonic time
//     since), senders and receivers being one process. Receivers read these
//     from the delta in OnChange(remote=true), straight from the delta's
//     store entries, so a frame that folds several operations counts each
//     value it carries. A delivery is one such value arriving at one
//     receiver for the first time (by its dot; repeats are counted apart as
//     duplicates, and a sender's own values sent back to it as echoes);
//     only values sent inside the measured window count.
//   - Durable-ack latency: each client's driver goroutine keeps the apply
//     times of its operations in order. OnStatus wakes it; it then reads
//     Pending() and retires the oldest (queued − pending) entries. This
//     assumes the server makes a client's operations durable in order (both
//     flowsync and the baseline do); the count is exact either way.
//   - Bytes on the wire: the client's dialer wraps net.Conn and counts bytes
//     read and written (websocket framing included, TCP/IP headers not),
//     inside the measured window, divided by the operations sent.
//   - Server CPU and RSS: /proc/<pid>/stat and /proc/<pid>/status of
//     Config.ServerPID, or of /proc/self when Config.ServerInProcess is set
//     (then the figure includes the load generator itself; Result says which).
package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/client"
)

// Operation mixes.
const (
	MixMixed     = "mixed"     // half position updates, half sub-block typing
	MixPositions = "positions" // position updates only
	MixTyping    = "typing"    // sub-block typing only
)

// SubBlockID is the sub-block that typing operations write.
const SubBlockID = "bench-t"

// Config describes one run.
type Config struct {
	// URL is the server's websocket endpoint. Required.
	URL string
	// Clients is the number of websocket clients, spread round-robin over
	// Rooms workflows. Required.
	Clients, Rooms int
	// Rate is operations per client per second. Required.
	Rate float64
	// Duration is the measured window. Required.
	Duration time.Duration
	// Mix is MixMixed (default), MixPositions or MixTyping.
	Mix string
	// Drain bounds the wait for outstanding durable acks after the window.
	// Default: 10 s.
	Drain time.Duration
	// ConnectTimeout bounds connecting and joining every client and making
	// their setup edit durable. Default: 60 s.
	ConnectTimeout time.Duration
	// WorkflowPrefix names the rooms: prefix + room index. Default: a
	// random prefix, so repeated runs against one server do not share rooms.
	WorkflowPrefix string
	// ServerPID is the server's process id for CPU and RSS figures; 0:
	// none, unless ServerInProcess.
	ServerPID int
	// ServerInProcess reads /proc/self: the server runs in this process.
	ServerInProcess bool
	// Target, Scenario and Store label the result (Store: the target's
	// storage, e.g. "postgres", "memory", "none").
	Target, Scenario, Store string
	// Progress, when set, is called about once a second during the window.
	Progress func(Progress)
}

// Progress is one second of a run.
type Progress struct {
	ElapsedS         float64 `json:"elapsed_s"`
	OpsPerSec        float64 `json:"ops_per_s"`        // durable acks in the last interval
	DeliveriesPerSec float64 `json:"deliveries_per_s"` // deliveries in the last interval
	DeliveryP99Ms    float64 `json:"delivery_p99_ms"`  // over the last interval
}

// String renders a progress line.
func (p Progress) String() string {
	return fmt.Sprintf("t=%5.1fs  ops/s %9.0f  deliveries/s %10.0f  delivery p99 %8.2f ms",
		p.ElapsedS, p.OpsPerSec, p.DeliveriesPerSec, p.DeliveryP99Ms)
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Result is what one run measured. It marshals to JSON as is.
type Result struct {
	Target        string  `json:"target"`
	Store         string  `json:"store,omitempty"`
	Scenario      string  `json:"scenario"`
	Clients       int     `json:"clients"`
	Rooms         int     `json:"rooms"`
	RatePerClient float64 `json:"rate_per_client"`
	Mix           string  `json:"mix"`
	WindowS       float64 `json:"window_s"`

	OpsSent             int64   `json:"ops_sent"`              // applied by clients in the window
	OpsDurable          int64   `json:"ops_durable"`           // of those, acked durable (window + drain)
	OpsDurableInWin     int64   `json:"ops_durable_in_window"` // of those, acked before the window closed
	OpsUnacked          int64   `json:"ops_unacked"`           // still pending after the drain
	OpsRejected         int64   `json:"ops_rejected"`
	ApplyErrors         int64   `json:"apply_errors"`
	OpsPerSec           float64 `json:"ops_per_s"`            // OpsDurableInWin / window: sustained, the drain not counted
	Deliveries          int64   `json:"deliveries"`           // values sent in the window and received (window + drain)
	DeliveriesInWin     int64   `json:"deliveries_in_window"` // of those, received before the window closed
	DeliveriesPerSec    float64 `json:"deliveries_per_s"`     // DeliveriesInWin / window
	ExpectedDeliveries  int64   `json:"expected_deliveries"`  // Σ ops sent × (room size − 1)
	DuplicateDeliveries int64   `json:"duplicate_deliveries"` // values a receiver got again (not counted above)
	EchoedValues        int64   `json:"echoed_values"`        // own values a sender got back in a remote delta (not counted above)

	DeliveryLatency Percentiles `json:"delivery_latency"`
	AckLatency      Percentiles `json:"durable_ack_latency"`

	BytesWritten int64   `json:"client_bytes_written"`
	BytesRead    int64   `json:"client_bytes_read"`
	BytesPerOp   float64 `json:"wire_bytes_per_op"` // (written + read) / ops sent

	ServerProcess         string  `json:"server_process,omitempty"` // "pid N" or "self (includes the load generator)"
	ServerCPUS            float64 `json:"server_cpu_s,omitempty"`
	ServerCPUPerDeliveryU float64 `json:"server_cpu_per_delivery_us,omitempty"`
	ServerRSSBytes        int64   `json:"server_rss_bytes,omitempty"`
	ServerPeakRSSBytes    int64   `json:"server_peak_rss_bytes,omitempty"`

	Reconnects int        `json:"reconnects"`
	Machine    string     `json:"machine"`
	Started    time.Time  `json:"started"`
	Timeline   []Progress `json:"timeline"`
}

// bench is the shared state of a run.
type bench struct {
	cfg        Config
	epoch      time.Time
	epochNs    int64        // epoch.UnixNano()
	winStart   atomic.Int64 // unix nanos; 0 until the window opens
	winEnd     atomic.Int64
	bytesW     atomic.Int64
	bytesR     atomic.Int64
	rejected   atomic.Int64
	reconnects atomic.Int64
	lastState  sync.Map // client index → client.State, for reconnect counting
}

// recorder collects latency samples (nanoseconds) of one client.
type recorder struct {
	mu     sync.Mutex
	all    []int64
	window []int64
}

func (r *recorder) add(ns int64) {
	r.mu.Lock()
	r.all = append(r.all, ns)
	r.window = append(r.window, ns)
	r.mu.Unlock()
}

func (r *recorder) takeWindow() []int64 {
	r.mu.Lock()
	w := r.window
	r.window = nil
	r.mu.Unlock()
	return w
}

func (r *recorder) snapshot() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.all)
}

type benchClient struct {
	idx     int
	room    int
	block   string
	c       *client.Client
	wake    chan struct{}
	deliv   recorder // deliveries received by this client
	acks    recorder // durable-ack latencies of this client's ops
	queue   []time.Time
	sent    int64
	durable int64
	durWin  int64                 // durable acks seen before the window closed
	delWin  atomic.Int64          // deliveries received before the window closed
	seen    map[crdt.Dot]struct{} // values received (reader goroutine only)
	dups    atomic.Int64          // values received again
	echoes  atomic.Int64          // own values the server sent back
	replica crdt.ReplicaID
	errs    int64
	done    chan struct{}
}

func (cfg Config) withDefaults() (Config, error) {
	switch {
	case cfg.URL == "":
		return cfg, errors.New("loadgen: URL is required")
	case cfg.Clients <= 0 || cfg.Rooms <= 0:
		return cfg, errors.New("loadgen: Clients and Rooms must be positive")
	case cfg.Rooms > cfg.Clients:
		return cfg, errors.New("loadgen: more rooms than clients")
	case cfg.Rate <= 0 || math.IsInf(cfg.Rate, 0) || math.IsNaN(cfg.Rate):
		return cfg, errors.New("loadgen: Rate must be positive")
	case cfg.Duration <= 0:
		return cfg, errors.New("loadgen: Duration must be positive")
	}
	switch cfg.Mix {
	case "":
		cfg.Mix = MixMixed
	case MixMixed, MixPositions, MixTyping:
	default:
		return cfg, fmt.Errorf("loadgen: unknown mix %q", cfg.Mix)
	}
	if cfg.Drain == 0 {
		cfg.Drain = 10 * time.Second
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 60 * time.Second
	}
	if cfg.WorkflowPrefix == "" {
		cfg.WorkflowPrefix = "bench-" + randHex(4) + "-"
	}
	return cfg, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Run connects the clients, runs the window, drains the acks and returns
// the result. The clients are closed before it returns.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	epoch := time.Now()
	b := &bench{cfg: cfg, epoch: epoch, epochNs: epoch.UnixNano()}
	res := &Result{
		Target: cfg.Target, Store: cfg.Store, Scenario: cfg.Scenario, Clients: cfg.Clients, Rooms: cfg.Rooms,
		RatePerClient: cfg.Rate, Mix: cfg.Mix, Started: b.epoch.UTC(), Machine: Machine(),
	}

	runCtx, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	clients := make([]*benchClient, cfg.Clients)
	defer func() {
		stopClients()
		for _, bc := range clients {
			if bc != nil && bc.c != nil {
				_ = bc.c.Close()
			}
		}
		wg.Wait()
	}()
	dialer := b.dialer()
	for i := range clients {
		bc := &benchClient{seen: map[crdt.Dot]struct{}{}, idx: i, room: i % cfg.Rooms, block: "b" + strconv.Itoa(i), wake: make(chan struct{}, 1), done: make(chan struct{})}
		bc.replica = crdt.ReplicaID("r" + strconv.Itoa(i) + "-" + randHex(6))
		clients[i] = bc
		c, err := client.New(client.Config{
			URL:               cfg.URL,
			Token:             fmt.Sprintf("u%d:Bench user %d", i, i),
			ReplicaID:         string(bc.replica),
			WorkflowID:        cfg.WorkflowPrefix + strconv.Itoa(bc.room),
			DialTimeout:       cfg.ConnectTimeout,
			Backoff:           client.Backoff{Base: 100 * time.Millisecond, Cap: 2 * time.Second},
			DisableCoalescing: true,
			Dialer:            dialer,
			OnChange: func(delta *workflow.Doc, remote bool) {
				if remote {
					b.received(bc, delta)
				}
			},
			OnStatus: func(s client.Status) {
				if prev, ok := b.lastState.Swap(i, s.State); ok && prev == client.StateLive && s.State != client.StateLive {
					b.reconnects.Add(1)
				}
				select {
				case bc.wake <- struct{}{}:
				default:
				}
			},
			OnReject: func(*client.RejectError) { b.rejected.Add(1) },
		})
		if err != nil {
			return nil, err
		}
		bc.c = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Run(runCtx)
		}()
	}

	// Setup: every client joins and adds its own block, durably.
	deadline := time.Now().Add(cfg.ConnectTimeout)
	if err := waitAll(ctx, clients, deadline, func(bc *benchClient) bool { return bc.c.Status().State == client.StateLive }); err != nil {
		return nil, fmt.Errorf("loadgen: connecting: %w", err)
	}
	for _, bc := range clients {
		if _, err := bc.c.Apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: bc.block, Type: "agent", Name: "Bench " + bc.block}}}); err != nil {
			return nil, fmt.Errorf("loadgen: setup edit: %w", err)
		}
	}
	if err := waitAll(ctx, clients, deadline, func(bc *benchClient) bool { return bc.c.Pending() == 0 }); err != nil {
		return nil, fmt.Errorf("loadgen: setup edits not durable: %w", err)
	}
	b.reconnects.Store(0)

	// The window.
	proc0, procErr := b.readProc()
	w0, r0 := b.bytesW.Load(), b.bytesR.Load()
	start := time.Now()
	end := start.Add(cfg.Duration)
	b.winStart.Store(b.epochNs + start.Sub(epoch).Nanoseconds())
	b.winEnd.Store(b.epochNs + end.Sub(epoch).Nanoseconds())
	for _, bc := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.drive(ctx, bc, start, end)
		}()
	}
	res.Timeline = b.progress(ctx, clients, start, end)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	// Let the last frames arrive, then read the counters.
	for _, bc := range clients {
		select {
		case <-bc.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// Relays of the last operations may still be on their way when their
	// senders have their acks: wait until every expected delivery arrived,
	// or none arrived for 500 ms (at most 5 s).
	b.settle(ctx, clients)
	window := time.Since(start)
	if window > cfg.Duration {
		window = cfg.Duration // the drain is not part of the window
	}
	proc1, procErr1 := b.readProc()
	w1, r1 := b.bytesW.Load(), b.bytesR.Load()

	res.WindowS = window.Seconds()
	var deliv, acks []int64
	sizes := make([]int, cfg.Rooms)
	for _, bc := range clients {
		sizes[bc.room]++
	}
	for _, bc := range clients {
		res.OpsSent += bc.sent
		res.OpsDurable += bc.durable
		res.OpsDurableInWin += bc.durWin
		res.DeliveriesInWin += bc.delWin.Load()
		res.DuplicateDeliveries += bc.dups.Load()
		res.EchoedValues += bc.echoes.Load()
		res.OpsUnacked += int64(len(bc.queue))
		res.ApplyErrors += bc.errs
		res.ExpectedDeliveries += bc.sent * int64(sizes[bc.room]-1)
		deliv = append(deliv, bc.deliv.snapshot()...)
		acks = append(acks, bc.acks.snapshot()...)
	}
	res.OpsRejected = b.rejected.Load()
	res.Reconnects = int(b.reconnects.Load())
	res.Deliveries = int64(len(deliv))
	res.OpsPerSec = float64(res.OpsDurableInWin) / res.WindowS
	res.DeliveriesPerSec = float64(res.DeliveriesInWin) / res.WindowS
	res.DeliveryLatency = percentiles(deliv)
	res.AckLatency = percentiles(acks)
	res.BytesWritten, res.BytesRead = w1-w0, r1-r0
	if res.OpsSent > 0 {
		res.BytesPerOp = float64(res.BytesWritten+res.BytesRead) / float64(res.OpsSent)
	}
	if procErr == nil && procErr1 == nil && (cfg.ServerPID > 0 || cfg.ServerInProcess) {
		res.ServerProcess = "pid " + strconv.Itoa(cfg.ServerPID)
		if cfg.ServerInProcess {
			res.ServerProcess = "self (in-process: includes the load generator)"
		}
		res.ServerCPUS = (proc1.CPU - proc0.CPU).Seconds()
		if res.Deliveries > 0 {
			res.ServerCPUPerDeliveryU = res.ServerCPUS * 1e6 / float64(res.Deliveries)
		}
		res.ServerRSSBytes = proc1.RSSBytes
		res.ServerPeakRSSBytes = proc1.HWMBytes
	}
	return res, nil
}

func (b *bench) readProc() (ProcSample, error) {
	switch {
	case b.cfg.ServerInProcess:
		return ReadProc(0)
	case b.cfg.ServerPID > 0:
		return ReadProc(b.cfg.ServerPID)
	}
	return ProcSample{}, errors.New("no server process")
}

func waitAll(ctx context.Context, clients []*benchClient, deadline time.Time, ok func(*benchClient) bool) error {
	for {
		n := 0
		for _, bc := range clients {
			if ok(bc) {
				n++
			}
		}
		if n == len(clients) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d clients ready at the deadline", n, len(clients))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// drive applies bc's operations at the configured rate until end, then
// waits for their durable acks until the drain deadline.
func (b *bench) drive(ctx context.Context, bc *benchClient, start, end time.Time) {
	defer close(bc.done)
	interval := time.Duration(float64(time.Second) / b.cfg.Rate)
	// A random phase, so that the clients do not tick together.
	next := start.Add(time.Duration(mrand.Int64N(int64(interval))))
	rng := mrand.New(mrand.NewPCG(uint64(bc.idx), uint64(start.UnixNano())))
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for next.Before(end) {
		select {
		case <-ctx.Done():
			return
		case <-bc.wake:
			b.reap(bc)
		case <-timer.C:
			b.apply(bc, rng)
			b.reap(bc)
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				timer.Reset(d)
			} else {
				// Behind schedule (an overloaded machine): skip to now
				// rather than burst, and say so in the figures (fewer ops).
				for !next.After(time.Now()) {
					next = next.Add(interval)
				}
				timer.Reset(time.Until(next))
			}
		}
	}
	drain := time.NewTimer(time.Until(end) + b.cfg.Drain)
	defer drain.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for len(bc.queue) > 0 {
		select {
		case <-ctx.Done():
			return
		case <-drain.C:
			return
		case <-bc.wake:
		case <-poll.C:
		}
		b.reap(bc)
	}
}

// nowNs is the time in unix nanoseconds on the monotonic clock: the
// epoch's wall time plus the monotonic time since, so that send and
// receive times never disagree by a wall-clock step.
func (b *bench) nowNs() int64 { return b.epochNs + time.Since(b.epoch).Nanoseconds() }

func (b *bench) apply(bc *benchClient, rng *mrand.Rand) {
	now := time.Now()
	nowNs := b.epochNs + now.Sub(b.epoch).Nanoseconds()
	var op workflow.Op
	typing := b.cfg.Mix == MixTyping || (b.cfg.Mix == MixMixed && rng.IntN(2) == 0)
	if typing {
		op = workflow.UpdateSubBlock{BlockID: bc.block, SubBlockID: SubBlockID, Value: "t=" + strconv.FormatInt(nowNs, 10)}
	} else {
		op = workflow.UpdatePosition{ID: bc.block, Position: workflow.Position{X: float64(nowNs - b.epochNs), Y: float64(bc.idx)}}
	}
	if _, err := bc.c.Apply(op); err != nil {
		bc.errs++
		return
	}
	bc.sent++
	bc.queue = append(bc.queue, now)
}

// reap retires the ops that left the outbox (see the package doc).
func (b *bench) reap(bc *benchClient) {
	n := len(bc.queue) - bc.c.Pending()
	if n <= 0 {
		return
	}
	now := time.Now()
	for _, t := range bc.queue[:n] {
		bc.acks.add(now.Sub(t).Nanoseconds())
	}
	bc.durable += int64(n)
	if b.epochNs+now.Sub(b.epoch).Nanoseconds() <= b.winEnd.Load() {
		bc.durWin += int64(n)
	}
	bc.queue = slices.Delete(bc.queue, 0, n)
}

// received records the send times carried by a remote delta.
func (b *bench) received(bc *benchClient, delta *workflow.Doc) {
	now := b.nowNs()
	ws, we := b.winStart.Load(), b.winEnd.Load()
	if ws == 0 {
		return
	}
	delta.Store().Range(func(k workflow.Key, cells []crdtCell) bool {
		for _, cell := range cells {
			sent, ok := b.sendTime(k, cell.Value.Value)
			if ok && sent >= ws && sent <= we {
				if cell.Dot.Replica == bc.replica {
					bc.echoes.Add(1)
					continue
				}
				if _, dup := bc.seen[cell.Dot]; dup {
					bc.dups.Add(1)
					continue
				}
				bc.seen[cell.Dot] = struct{}{}
				bc.deliv.add(now - sent)
				if now <= we {
					bc.delWin.Add(1)
				}
			}
		}
		return true
	})
}

// sendTime decodes the send time (unix nanos) a benchmark value carries.
func (b *bench) sendTime(k workflow.Key, v workflow.Value) (int64, bool) {
	switch {
	case k.Kind == workflow.KindSubBlock && k.Sub == SubBlockID:
		x, err := v.Decode()
		s, _ := x.(string)
		rest, ok := strings.CutPrefix(s, "t=")
		if err != nil || !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(rest, 10, 64)
		return n, err == nil
	case k.Kind == workflow.KindBlockField && k.Sub == workflow.FieldPosition:
		x, err := v.Decode()
		p, _ := x.([]any)
		if err != nil || len(p) != 2 {
			return 0, false
		}
		f, ok := p[0].(float64)
		if !ok {
			return 0, false
		}
		return b.epochNs + int64(f), true
	}
	return 0, false
}

// progress reports once a second until end and returns the timeline.
func (b *bench) progress(ctx context.Context, clients []*benchClient, start, end time.Time) []Progress {
	var out []Progress
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := start
	for {
		var stop bool
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		case <-time.After(time.Until(end)):
			stop = true
		}
		now := time.Now()
		var d, a []int64
		for _, bc := range clients {
			d = append(d, bc.deliv.takeWindow()...)
			a = append(a, bc.acks.takeWindow()...)
		}
		secs := now.Sub(last).Seconds()
		last = now
		if secs > 0.05 {
			p := Progress{
				ElapsedS:         now.Sub(start).Seconds(),
				OpsPerSec:        float64(len(a)) / secs,
				DeliveriesPerSec: float64(len(d)) / secs,
				DeliveryP99Ms:    percentiles(d).P99,
			}
			out = append(out, p)
			if b.cfg.Progress != nil {
				b.cfg.Progress(p)
			}
		}
		if stop || !now.Before(end) {
			return out
		}
	}
}

func percentiles(ns []int64) Percentiles {
	if len(ns) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ns)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		i = max(0, min(i, len(s)-1))
		return float64(s[i]) / 1e6
	}
	return Percentiles{Count: len(s), P50: at(0.50), P99: at(0.99), P999: at(0.999), Max: float64(s[len(s)-1]) / 1e6}
}

// dialer returns a websocket dialer whose connections count their bytes.
func (b *bench) dialer() *websocket.Dialer {
	nd := &net.Dialer{Timeout: b.cfg.ConnectTimeout}
	return &websocket.Dialer{
		HandshakeTimeout: b.cfg.ConnectTimeout,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, w: &b.bytesW, r: &b.bytesR}, nil
		},
	}
}

type countingConn struct {
	net.Conn
	w, r *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.r.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.Add(int64(n))
	return n, err
}

// Machine describes the machine the run is on.
func Machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs (%s), %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version())
}

// settle waits for in-flight deliveries; see Run.
func (b *bench) settle(ctx context.Context, clients []*benchClient) {
	sizes := make([]int64, b.cfg.Rooms)
	for _, bc := range clients {
		sizes[bc.room]++
	}
	var expected int64
	for _, bc := range clients {
		expected += bc.sent * (sizes[bc.room] - 1)
	}
	count := func() int64 {
		var n int64
		for _, bc := range clients {
			bc.deliv.mu.Lock()
			n += int64(len(bc.deliv.all))
			bc.deliv.mu.Unlock()
		}
		return n
	}
	deadline := time.Now().Add(5 * time.Second)
	last, lastChange := count(), time.Now()
	for last < expected && time.Now().Before(deadline) && time.Since(lastChange) < 500*time.Millisecond {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
		if n := count(); n != last {
			last, lastChange = n, time.Now()
		}
	}
}
