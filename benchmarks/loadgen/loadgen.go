// Package loadgen drives real websocket clients (sync/client) against a
// flowsync-protocol server and measures what the benchmark goals are about
// (BENCHMARKS.md): operations/s
// made durable, deliveries/s, delivery latency (sender → each receiver),
// durable-ack latency, live-drag latency, bytes on the wire per operation,
// and the server's CPU time and resident memory read from /proc.
//
// Run is the steady-load scenarios (many rooms, hot room, drag storm,
// typing, structural edits: one Config.Mix each); RunReconnectStorm,
// RunLargeJoin and RunIdle are the other three scenarios of the issue.
//
// How the figures are taken:
//
//   - Every timed operation carries its send time. A typing operation sets
//     the sub-block SubBlockID of the sender's own block to "t=<unix nanos>"
//     followed by keystroke-sized text; a position operation moves the
//     sender's block to x = nanoseconds since the run's epoch (exact in a
//     float64 for 104 days); a structural add puts the new block at such an
//     x; a Drag frame carries such an x for the dragged block. Times are
//     taken on the monotonic clock (the epoch's wall time plus the
//     monotonic time since), senders and receivers being one process.
//     Receivers read these from the delta in OnChange(remote=true), straight
//     from the delta's store entries, so a frame that folds several
//     operations counts each value it carries, and from OnDrag. A delivery
//     is one such value arriving at one receiver for the first time (by its
//     dot; repeats are counted apart as duplicates, and a sender's own
//     values sent back to it as echoes); only values sent inside the
//     measured window count. Structural removals carry no value: they count
//     as operations, not as expected deliveries.
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
	"github.com/flowsync/flowsync/sync/protocol"
)

// SubBlockID is the sub-block that typing operations write.
const SubBlockID = "bench-t"

// typingText is what the typists type: a value grows by one character per
// keystroke and starts over at the end, so values stay keystroke-sized.
const typingText = "You are a helpful assistant. Answer briefly and cite the workflow's inputs."

// Config describes one run.
type Config struct {
	// URL is the server's websocket endpoint. Required.
	URL string
	// Clients is the number of websocket clients, spread round-robin over
	// Rooms workflows. Required.
	Clients, Rooms int
	// Rate is operations per client per second. Required by Run and
	// RunReconnectStorm.
	Rate float64
	// Duration is the measured window. Required by Run.
	Duration time.Duration
	// Mix is the operation mix, as ParseMix reads it. Default: MixMixed.
	Mix string
	// Drain bounds the wait for outstanding durable acks after the window.
	// Default: 10 s.
	Drain time.Duration
	// ConnectTimeout bounds connecting and joining every client and making
	// their setup edit durable. Default: 60 s.
	ConnectTimeout time.Duration
	// ConnectWave is how many clients start connecting at once; the next
	// wave starts when the previous one is live, so that thousands of
	// clients do not all time out in one accept queue. Default: 500.
	ConnectWave int
	// Backoff is the clients' reconnect backoff. Default: base 100 ms, cap
	// 2 s (RunReconnectStorm: the client's defaults, base 1 s, cap 30 s,
	// which is what real editors use).
	Backoff client.Backoff
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

	// Scenario-specific settings; see the Run* functions.

	// StormWarmup is how long RunReconnectStorm edits before it drops
	// every connection. Default: 5 s.
	StormWarmup time.Duration
	// StormTimeout bounds the wait for every client to be live and caught
	// up after the drop. Default: 120 s.
	StormTimeout time.Duration
	// DocBlocks is RunLargeJoin's document size. Default: 10,000.
	DocBlocks int
	// Hold is how long RunIdle keeps the connections open before it counts
	// them. Default: 10 s.
	Hold time.Duration
	// Restart, when set, is how RunReconnectStorm drops every connection:
	// it restarts the server on the same address and returns the new
	// server process's id (0 if none). Default: the load generator closes
	// every client connection itself.
	Restart func(context.Context) (pid int, err error)

	mix         Mix
	trackDots   bool
	noSetupEdit bool
}

// Progress is one second of a run.
type Progress struct {
	ElapsedS         float64 `json:"elapsed_s"`
	OpsPerSec        float64 `json:"ops_per_s"`        // durable acks in the last interval
	DeliveriesPerSec float64 `json:"deliveries_per_s"` // deliveries (values and drags) in the last interval
	DeliveryP99Ms    float64 `json:"delivery_p99_ms"`  // over the last interval
	AckP99Ms         float64 `json:"ack_p99_ms"`       // over the last interval
	Live             int     `json:"live,omitempty"`   // clients live at the tick (reconnect storm, idle)
}

// String renders a progress line.
func (p Progress) String() string {
	s := fmt.Sprintf("t=%5.1fs  ops/s %8.0f  deliveries/s %9.0f  delivery p99 %8.2f ms  ack p99 %8.2f ms",
		p.ElapsedS, p.OpsPerSec, p.DeliveriesPerSec, p.DeliveryP99Ms, p.AckP99Ms)
	if p.Live > 0 {
		s += fmt.Sprintf("  live %d", p.Live)
	}
	return s
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
	// CDF is the distribution at quantiles 0, 0.005, …, 1 and 0.999,
	// 0.9999, for charts: (quantile, ms) pairs in increasing order.
	CDF [][2]float64 `json:"cdf,omitempty"`
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

	SetupOps            int64   `json:"setup_ops"`             // durable edits made before the window (the clients' own blocks, the large document)
	OpsSent             int64   `json:"ops_sent"`              // durable-kind operations applied by clients in the window
	OpsDurable          int64   `json:"ops_durable"`           // of those, acked durable (window + drain)
	OpsDurableInWin     int64   `json:"ops_durable_in_window"` // of those, acked before the window closed
	OpsUnacked          int64   `json:"ops_unacked"`           // still pending after the drain
	OpsRejected         int64   `json:"ops_rejected"`
	ApplyErrors         int64   `json:"apply_errors"`
	OpsPerSec           float64 `json:"ops_per_s"`            // OpsDurableInWin / window: sustained, the drain not counted
	Deliveries          int64   `json:"deliveries"`           // values sent in the window and received (window + drain)
	DeliveriesInWin     int64   `json:"deliveries_in_window"` // of those, received before the window closed
	DeliveriesPerSec    float64 `json:"deliveries_per_s"`     // DeliveriesInWin / window
	ExpectedDeliveries  int64   `json:"expected_deliveries"`  // Σ timed ops sent × (room size − 1)
	DuplicateDeliveries int64   `json:"duplicate_deliveries"` // values a receiver got again (not counted above)
	EchoedValues        int64   `json:"echoed_values"`        // own values a sender got back in a remote delta (not counted above)

	DragSent             int64   `json:"drag_sent,omitempty"`       // Drag calls in the window (the client folds calls faster than its presence interval)
	DragDeliveries       int64   `json:"drag_deliveries,omitempty"` // DragUpdate positions received from the window
	DragDeliveriesInWin  int64   `json:"drag_deliveries_in_window,omitempty"`
	DragDeliveriesPerSec float64 `json:"drag_deliveries_per_s,omitempty"`
	DragExpected         int64   `json:"drag_expected,omitempty"` // Σ drag calls × (room size − 1): the most a relay without folding could deliver

	DeliveryLatency Percentiles `json:"delivery_latency"`
	AckLatency      Percentiles `json:"durable_ack_latency"`
	DragLatency     Percentiles `json:"drag_latency,omitzero"`

	BytesWritten int64   `json:"client_bytes_written"`
	BytesRead    int64   `json:"client_bytes_read"`
	BytesPerOp   float64 `json:"wire_bytes_per_op"` // (written + read) / (ops + drags sent)

	ServerProcess         string  `json:"server_process,omitempty"` // "pid N" or "self (includes the load generator)"
	ServerCPUS            float64 `json:"server_cpu_s,omitempty"`
	ServerCPUPerDeliveryU float64 `json:"server_cpu_per_delivery_us,omitempty"`
	ServerRSSBytes        int64   `json:"server_rss_bytes,omitempty"`
	ServerPeakRSSBytes    int64   `json:"server_peak_rss_bytes,omitempty"`
	// LoadgenCPUS is the load generator's own CPU time over the window
	// and the drain (when the server is another process): on a machine
	// this small the clients compete with the server for the same cores.
	LoadgenCPUS float64 `json:"loadgen_cpu_s,omitempty"`

	Postgres *PGWrites   `json:"postgres,omitempty"`
	Storm    *StormStats `json:"reconnect_storm,omitempty"`
	Join     *JoinStats  `json:"large_join,omitempty"`
	Idle     *IdleStats  `json:"idle,omitempty"`

	Reconnects int        `json:"reconnects"`
	Machine    string     `json:"machine"`
	LoadAvg    string     `json:"load_average,omitempty"` // /proc/loadavg at the end of the run
	Started    time.Time  `json:"started"`
	Timeline   []Progress `json:"timeline"`
}

// PGWrites is what Postgres wrote during a run (filled in by the caller,
// which owns the server's lifecycle; see benchmarks/pgstats).
type PGWrites struct {
	Database       string  `json:"database"`
	Transactions   int64   `json:"xact_commit"`  // pg_stat_database.xact_commit delta
	RowsInserted   int64   `json:"tup_inserted"` // pg_stat_database.tup_inserted delta
	RowsUpdated    int64   `json:"tup_updated"`
	RowsDeleted    int64   `json:"tup_deleted"`
	WALBytes       int64   `json:"wal_bytes"` // pg_stat_wal.wal_bytes delta (cluster-wide)
	Ops            int64   `json:"ops"`       // operations the counts are divided by: made durable (setup + window)
	TxPer1kOps     float64 `json:"tx_per_1k_ops"`
	RowsPer1kOps   float64 `json:"row_writes_per_1k_ops"` // inserted + updated + deleted
	WALBytesPerOp  float64 `json:"wal_bytes_per_op"`
	OtherActivity  string  `json:"note,omitempty"`
	WritesPer1kOps float64 `json:"writes_per_1k_ops"` // = TxPer1kOps: one write is one commit (one fsync)
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

	connMu sync.Mutex
	conns  map[*countingConn]struct{} // open connections, for RunReconnectStorm's drop
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

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}

// pendingOp is an operation waiting for its durable ack.
type pendingOp struct {
	at   time.Time
	dots []crdt.Dot // the values it wrote, when Config.trackDots
}

type benchClient struct {
	idx     int
	room    int
	block   string
	c       *client.Client
	wake    chan struct{}
	deliv   recorder // deliveries received by this client
	drags   recorder // drag positions received by this client
	acks    recorder // durable-ack latencies of this client's ops
	queue   []pendingOp
	acked   []crdt.Dot // values of acked ops (trackDots)
	sent    int64
	timed   int64 // ops whose delta carries a send time
	dragged int64
	durable int64
	durWin  int64        // durable acks seen before the window closed
	delWin  atomic.Int64 // deliveries received before the window closed
	dragWin atomic.Int64 // drag positions received before the window closed
	seen    crdt.Context // values received (reader goroutine only): ranges per sender, far smaller than a set of dots
	dups    atomic.Int64 // values received again
	echoes  atomic.Int64 // own values the server sent back
	replica crdt.ReplicaID
	errs    int64
	step    int // position in the structural cycle
	cycle   int // structural cycles started
	keys    int // keystrokes typed
	done    chan struct{}

	state   atomic.Int32 // client.State, set by OnStatus
	drops   atomic.Int64 // times the client left StateLive
	applied atomic.Int64 // durable-kind ops applied (sent), for RunReconnectStorm
	acks64  atomic.Int64 // of those, acked durable
}

func (cfg Config) withDefaults() (Config, error) {
	switch {
	case cfg.URL == "":
		return cfg, errors.New("loadgen: URL is required")
	case cfg.Clients <= 0 || cfg.Rooms <= 0:
		return cfg, errors.New("loadgen: Clients and Rooms must be positive")
	case cfg.Rooms > cfg.Clients:
		return cfg, errors.New("loadgen: more rooms than clients")
	case cfg.Rate < 0 || math.IsInf(cfg.Rate, 0) || math.IsNaN(cfg.Rate):
		return cfg, errors.New("loadgen: Rate must be positive")
	case cfg.Duration < 0:
		return cfg, errors.New("loadgen: Duration must be positive")
	}
	m, err := ParseMix(cfg.Mix)
	if err != nil {
		return cfg, err
	}
	cfg.mix, cfg.Mix = m, m.String()
	if cfg.Drain == 0 {
		cfg.Drain = 10 * time.Second
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 60 * time.Second
	}
	if cfg.ConnectWave <= 0 {
		cfg.ConnectWave = 500
	}
	if cfg.Backoff == (client.Backoff{}) {
		cfg.Backoff = client.Backoff{Base: 100 * time.Millisecond, Cap: 2 * time.Second}
	}
	if cfg.WorkflowPrefix == "" {
		cfg.WorkflowPrefix = "bench-" + randHex(4) + "-"
	}
	if cfg.StormWarmup == 0 {
		cfg.StormWarmup = 5 * time.Second
	}
	if cfg.StormTimeout == 0 {
		cfg.StormTimeout = 120 * time.Second
	}
	if cfg.DocBlocks == 0 {
		cfg.DocBlocks = 10_000
	}
	if cfg.Hold == 0 {
		cfg.Hold = 10 * time.Second
	}
	return cfg, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newBench(cfg Config) *bench {
	epoch := time.Now()
	return &bench{cfg: cfg, epoch: epoch, epochNs: epoch.UnixNano(), conns: map[*countingConn]struct{}{}}
}

func (b *bench) newResult() *Result {
	c := b.cfg
	return &Result{
		Target: c.Target, Store: c.Store, Scenario: c.Scenario, Clients: c.Clients, Rooms: c.Rooms,
		RatePerClient: c.Rate, Mix: c.Mix, Started: b.epoch.UTC(), Machine: Machine(),
	}
}

// Run connects the clients, runs the window, drains the acks and returns
// the result. The clients are closed before it returns.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Rate <= 0 || cfg.Duration <= 0 {
		return nil, errors.New("loadgen: Rate and Duration must be positive")
	}
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

	m := b.openWindow()
	stop := make(chan struct{})
	end := m.start.Add(cfg.Duration)
	timer := time.AfterFunc(cfg.Duration, func() { b.closeWindow(stop) })
	defer timer.Stop()
	b.startDrivers(ctx, clients, m.start, stop)
	res.Timeline = b.progress(ctx, clients, m.start, stop, nil)
	if err := b.waitDrivers(ctx, clients); err != nil {
		return nil, err
	}
	b.settle(ctx, clients)
	b.collect(res, clients, m, end)
	return res, nil
}

// window holds what was read when the measured window opened.
type window struct {
	start      time.Time
	self       ProcSample
	proc       ProcSample
	cpuCarry   time.Duration // CPU of a server process restarted during the window
	procErr    error
	bytesW     int64
	bytesR     int64
	reconnects int64
}

func (b *bench) openWindow() window {
	p, perr := b.readProc()
	w := window{proc: p, procErr: perr, bytesW: b.bytesW.Load(), bytesR: b.bytesR.Load(), reconnects: b.reconnects.Load()}
	w.self, _ = ReadProc(0)
	w.start = time.Now()
	b.winStart.Store(b.nowAt(w.start))
	b.winEnd.Store(math.MaxInt64) // until the window closes
	return w
}

func (b *bench) nowAt(t time.Time) int64 { return b.epochNs + t.Sub(b.epoch).Nanoseconds() }

// closeWindow marks the end of the measured window and stops the drivers.
func (b *bench) closeWindow(stop chan struct{}) {
	b.winEnd.Store(b.nowNs())
	close(stop)
}

// startDrivers starts one driver goroutine per client; they edit until
// stop is closed, then wait out their acks (Config.Drain).
func (b *bench) startDrivers(ctx context.Context, clients []*benchClient, start time.Time, stop <-chan struct{}) {
	for _, bc := range clients {
		go b.drive(ctx, bc, start, stop)
	}
}

func (b *bench) waitDrivers(ctx context.Context, clients []*benchClient) error {
	for _, bc := range clients {
		select {
		case <-bc.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// collect fills res from the clients' counters. end is when the window
// closed (the drain is not part of it).
func (b *bench) collect(res *Result, clients []*benchClient, w window, end time.Time) {
	proc1, procErr1 := b.readProc()
	w1, r1 := b.bytesW.Load(), b.bytesR.Load()
	window := end.Sub(w.start)
	res.WindowS = window.Seconds()
	var deliv, acks, drags []int64
	sizes := roomSizes(clients, b.cfg.Rooms)
	for _, bc := range clients {
		res.OpsSent += bc.sent
		res.OpsDurable += bc.durable
		res.OpsDurableInWin += bc.durWin
		res.DeliveriesInWin += bc.delWin.Load()
		res.DragDeliveriesInWin += bc.dragWin.Load()
		res.DragSent += bc.dragged
		res.DuplicateDeliveries += bc.dups.Load()
		res.EchoedValues += bc.echoes.Load()
		res.OpsUnacked += int64(len(bc.queue))
		res.ApplyErrors += bc.errs
		res.ExpectedDeliveries += bc.timed * int64(sizes[bc.room]-1)
		res.DragExpected += bc.dragged * int64(sizes[bc.room]-1)
		deliv = append(deliv, bc.deliv.snapshot()...)
		acks = append(acks, bc.acks.snapshot()...)
		drags = append(drags, bc.drags.snapshot()...)
	}
	res.OpsRejected = b.rejected.Load()
	res.Reconnects = int(b.reconnects.Load() - w.reconnects)
	res.Deliveries = int64(len(deliv))
	res.DragDeliveries = int64(len(drags))
	if res.WindowS > 0 {
		res.OpsPerSec = float64(res.OpsDurableInWin) / res.WindowS
		res.DeliveriesPerSec = float64(res.DeliveriesInWin) / res.WindowS
		res.DragDeliveriesPerSec = float64(res.DragDeliveriesInWin) / res.WindowS
	}
	res.DeliveryLatency = percentiles(deliv)
	res.AckLatency = percentiles(acks)
	res.DragLatency = percentiles(drags)
	res.BytesWritten, res.BytesRead = w1-w.bytesW, r1-w.bytesR
	if n := res.OpsSent + res.DragSent; n > 0 {
		res.BytesPerOp = float64(res.BytesWritten+res.BytesRead) / float64(n)
	}
	if w.procErr == nil && procErr1 == nil && (b.cfg.ServerPID > 0 || b.cfg.ServerInProcess) {
		res.ServerProcess = "pid " + strconv.Itoa(b.cfg.ServerPID)
		if b.cfg.ServerInProcess {
			res.ServerProcess = "self (in-process: includes the load generator)"
		}
		res.ServerCPUS = (proc1.CPU - w.proc.CPU + w.cpuCarry).Seconds()
		if n := res.Deliveries + res.DragDeliveries; n > 0 {
			res.ServerCPUPerDeliveryU = res.ServerCPUS * 1e6 / float64(n)
		}
		res.ServerRSSBytes = proc1.RSSBytes
		res.ServerPeakRSSBytes = proc1.HWMBytes
	}
	if self, err := ReadProc(0); err == nil && !b.cfg.ServerInProcess && w.self.CPU > 0 {
		res.LoadgenCPUS = (self.CPU - w.self.CPU).Seconds()
	}
	res.LoadAvg = LoadAvg()
}

func roomSizes(clients []*benchClient, rooms int) []int {
	sizes := make([]int, rooms)
	for _, bc := range clients {
		sizes[bc.room]++
	}
	return sizes
}

// clientSet is a set of clients started by connect or startClient.
type clientSet struct {
	b        *bench
	runCtx   context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	dialer   *websocket.Dialer
	presence time.Duration
	clients  []*benchClient
}

func (b *bench) newClientSet(ctx context.Context) *clientSet {
	presence := client.DefaultPresenceInterval
	if b.cfg.mix.Has(KindDrag) && b.cfg.Rate > 0 {
		// Let the client send every Drag call (up to 1 kHz): the point is
		// to load the server's relay, not the client's throttle.
		presence = max(time.Millisecond, min(presence, time.Duration(float64(time.Second)/b.cfg.Rate/2)))
	}
	runCtx, stop := context.WithCancel(ctx)
	return &clientSet{b: b, runCtx: runCtx, stop: stop, dialer: b.dialer(), presence: presence}
}

// closeAll closes every client of the set and waits for their goroutines.
func (s *clientSet) closeAll() {
	s.stop()
	var cw sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, bc := range s.clients {
		if bc.c != nil {
			cw.Add(1)
			sem <- struct{}{}
			go func() {
				defer cw.Done()
				defer func() { <-sem }()
				_ = bc.c.Close()
			}()
		}
	}
	cw.Wait()
	s.wg.Wait()
}

// start creates client i of room in workflow wf and runs it.
func (s *clientSet) start(i, room int, wf string) (*benchClient, error) {
	b := s.b
	bc := &benchClient{idx: i, room: room, block: "b" + strconv.Itoa(i), wake: make(chan struct{}, 1), done: make(chan struct{})}
	bc.replica = crdt.ReplicaID("r" + strconv.Itoa(i) + "-" + randHex(6))
	c, err := client.New(client.Config{
		URL:               b.cfg.URL,
		Token:             fmt.Sprintf("u%d:Bench user %d", i, i),
		ReplicaID:         string(bc.replica),
		WorkflowID:        wf,
		DialTimeout:       b.cfg.ConnectTimeout,
		Backoff:           b.cfg.Backoff,
		DisableCoalescing: true,
		PresenceInterval:  s.presence,
		Dialer:            s.dialer,
		OnChange: func(delta *workflow.Doc, remote bool) {
			if remote {
				b.received(bc, delta)
			}
		},
		OnDrag: func(u protocol.DragUpdate) { b.receivedDrag(bc, u) },
		OnStatus: func(st client.Status) {
			if prev := bc.state.Swap(int32(st.State)); client.State(prev) == client.StateLive && st.State != client.StateLive {
				b.reconnects.Add(1)
				bc.drops.Add(1)
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
	s.clients = append(s.clients, bc)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = c.Run(s.runCtx)
	}()
	return bc, nil
}

// live reports whether bc is joined and caught up.
func (bc *benchClient) live() bool { return client.State(bc.state.Load()) == client.StateLive }

// connect creates n clients in rooms (round-robin) of Config.WorkflowPrefix,
// starts them in waves of Config.ConnectWave and waits until all are live.
// Call set.closeAll even when err is not nil.
func (b *bench) connect(ctx context.Context, n, rooms int) (set *clientSet, err error) {
	set = b.newClientSet(ctx)
	deadline := time.Now().Add(b.cfg.ConnectTimeout)
	for i := range n {
		if _, err := set.start(i, i%rooms, b.cfg.WorkflowPrefix+strconv.Itoa(i%rooms)); err != nil {
			return set, err
		}
		if (i+1)%b.cfg.ConnectWave == 0 || i == n-1 {
			wave := set.clients[(i/b.cfg.ConnectWave)*b.cfg.ConnectWave : i+1]
			if err := waitAll(ctx, wave, deadline, (*benchClient).live); err != nil {
				return set, fmt.Errorf("loadgen: connecting: %w", err)
			}
		}
	}
	return set, nil
}

// setup makes every client add its own block, durably, and waits for the
// blocks of its room to arrive (so that later edits find them).
func (b *bench) setup(ctx context.Context, clients []*benchClient) error {
	if b.cfg.noSetupEdit {
		return nil
	}
	deadline := time.Now().Add(b.cfg.ConnectTimeout)
	for _, bc := range clients {
		if _, err := bc.c.Apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: bc.block, Type: "agent", Name: "Bench " + bc.block}}}); err != nil {
			return fmt.Errorf("loadgen: setup edit: %w", err)
		}
	}
	if err := waitAll(ctx, clients, deadline, func(bc *benchClient) bool { return bc.c.Pending() == 0 }); err != nil {
		return fmt.Errorf("loadgen: setup edits not durable: %w", err)
	}
	return nil
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

// drive applies bc's operations at the configured rate until stop is
// closed, then waits for their durable acks for up to Config.Drain.
func (b *bench) drive(ctx context.Context, bc *benchClient, start time.Time, stop <-chan struct{}) {
	defer close(bc.done)
	interval := time.Duration(float64(time.Second) / b.cfg.Rate)
	// A random phase, so that the clients do not tick together.
	next := start.Add(time.Duration(mrand.Int64N(int64(max(interval, 1)))))
	rng := mrand.New(mrand.NewPCG(uint64(bc.idx), uint64(start.UnixNano())))
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			break loop
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
	drain := time.NewTimer(b.cfg.Drain)
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

// apply sends one operation of a kind drawn from the mix.
func (b *bench) apply(bc *benchClient, rng *mrand.Rand) {
	now := time.Now()
	nowNs := b.nowAt(now)
	x := float64(nowNs - b.epochNs)
	var op workflow.Op
	timed := true
	switch b.cfg.mix.pick(rng) {
	case KindDrag:
		if err := bc.c.Drag(map[string]client.Point{bc.block: {X: x, Y: float64(bc.idx)}}); err != nil {
			bc.errs++
			return
		}
		bc.dragged++
		return
	case KindSubBlock:
		bc.keys++
		text := typingText[:bc.keys%len(typingText)]
		op = workflow.UpdateSubBlock{BlockID: bc.block, SubBlockID: SubBlockID, Value: "t=" + strconv.FormatInt(nowNs, 10) + " " + text}
	case KindStructural:
		op, timed = b.structural(bc, x)
	default:
		op = workflow.UpdatePosition{ID: bc.block, Position: workflow.Position{X: x, Y: float64(bc.idx)}}
	}
	delta, err := bc.c.Apply(op)
	if err != nil {
		bc.errs++
		if b.cfg.mix.Has(KindStructural) {
			bc.step, bc.cycle = 0, bc.cycle+1 // start a fresh cycle with new ids
		}
		return
	}
	bc.sent++
	bc.applied.Add(1)
	if timed {
		bc.timed++
	}
	p := pendingOp{at: now}
	if b.cfg.trackDots {
		delta.Store().Range(func(_ workflow.Key, cells []crdtCell) bool {
			for _, c := range cells {
				p.dots = append(p.dots, c.Dot)
			}
			return true
		})
	}
	bc.queue = append(bc.queue, p)
}

// structural returns the next edit of bc's structural cycle (see
// KindStructural) and whether it carries a send time.
func (b *bench) structural(bc *benchClient, x float64) (workflow.Op, bool) {
	id := bc.block + "-x" + strconv.Itoa(bc.cycle)
	edge, loop := id+"-e", id+"-l"
	step := bc.step
	bc.step = (bc.step + 1) % 6
	if bc.step == 0 {
		bc.cycle++
	}
	pos := &workflow.Position{X: x, Y: float64(bc.idx)}
	switch step {
	case 0:
		return workflow.AddBlock{Block: workflow.BlockInput{ID: id, Type: "agent", Name: "X " + id, Position: pos}}, true
	case 1:
		return workflow.AddEdge{Edge: workflow.EdgeInput{ID: edge, Source: bc.block, Target: id}}, false
	case 2:
		return workflow.RemoveEdge{ID: edge}, false
	case 3:
		return workflow.AddSubflow{Block: workflow.BlockInput{ID: loop, Type: workflow.TypeLoop, Name: "L " + id, Position: pos}}, true
	case 4:
		return workflow.UpdateParent{ID: id, ParentID: loop}, false
	default:
		return workflow.RemoveSubflow{ID: loop}, false
	}
}

// reap retires the ops that left the outbox (see the package doc).
func (b *bench) reap(bc *benchClient) {
	n := len(bc.queue) - bc.c.Pending()
	if n <= 0 {
		return
	}
	now := time.Now()
	for _, p := range bc.queue[:n] {
		bc.acks.add(now.Sub(p.at).Nanoseconds())
		bc.acked = append(bc.acked, p.dots...)
	}
	bc.durable += int64(n)
	bc.acks64.Add(int64(n))
	if b.nowAt(now) <= b.winEnd.Load() {
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
				if bc.seen.Contains(cell.Dot) {
					bc.dups.Add(1)
					continue
				}
				bc.seen.Add(cell.Dot)
				bc.deliv.add(now - sent)
				if now <= we {
					bc.delWin.Add(1)
				}
			}
		}
		return true
	})
}

// receivedDrag records the send times carried by a DragUpdate.
func (b *bench) receivedDrag(bc *benchClient, u protocol.DragUpdate) {
	now := b.nowNs()
	ws, we := b.winStart.Load(), b.winEnd.Load()
	if ws == 0 {
		return
	}
	for _, p := range u.Positions {
		sent := b.epochNs + int64(p.X)
		if sent >= ws && sent <= we {
			bc.drags.add(now - sent)
			if now <= we {
				bc.dragWin.Add(1)
			}
		}
	}
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
		rest, _, _ = strings.Cut(rest, " ")
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

// progress reports once a second until stop is closed and returns the
// timeline. live, when set, is reported as Progress.Live.
func (b *bench) progress(ctx context.Context, clients []*benchClient, start time.Time, stop <-chan struct{}, live func() int) []Progress {
	var out []Progress
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := start
	for {
		var done bool
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		case <-stop:
			done = true
		}
		now := time.Now()
		var d, a []int64
		for _, bc := range clients {
			d = append(d, bc.deliv.takeWindow()...)
			d = append(d, bc.drags.takeWindow()...)
			a = append(a, bc.acks.takeWindow()...)
		}
		secs := now.Sub(last).Seconds()
		last = now
		if secs > 0.05 {
			p := Progress{
				ElapsedS:         now.Sub(start).Seconds(),
				OpsPerSec:        float64(len(a)) / secs,
				DeliveriesPerSec: float64(len(d)) / secs,
				DeliveryP99Ms:    quantile(d, 0.99),
				AckP99Ms:         quantile(a, 0.99),
			}
			if live != nil {
				p.Live = live()
			}
			out = append(out, p)
			if b.cfg.Progress != nil {
				b.cfg.Progress(p)
			}
		}
		if done {
			return out
		}
	}
}

// quantile is the q-quantile of ns in milliseconds (0 for no samples).
func quantile(ns []int64, q float64) float64 {
	if len(ns) == 0 {
		return 0
	}
	s := slices.Clone(ns)
	slices.Sort(s)
	return at(s, q)
}

func at(sorted []int64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / 1e6
}

func percentiles(ns []int64) Percentiles {
	if len(ns) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ns)
	slices.Sort(s)
	p := Percentiles{Count: len(s), P50: at(s, 0.50), P99: at(s, 0.99), P999: at(s, 0.999), Max: float64(s[len(s)-1]) / 1e6}
	for i := 0; i <= 200; i++ {
		q := float64(i) / 200
		if i == 200 {
			p.CDF = append(p.CDF, [2]float64{0.999, at(s, 0.999)}, [2]float64{0.9999, at(s, 0.9999)})
		}
		p.CDF = append(p.CDF, [2]float64{q, at(s, q)})
	}
	return p
}

// dialer returns a websocket dialer whose connections count their bytes
// and are tracked for dropAll.
func (b *bench) dialer() *websocket.Dialer {
	nd := &net.Dialer{Timeout: b.cfg.ConnectTimeout}
	return &websocket.Dialer{
		HandshakeTimeout: b.cfg.ConnectTimeout,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cc := &countingConn{Conn: c, b: b}
			b.connMu.Lock()
			b.conns[cc] = struct{}{}
			b.connMu.Unlock()
			return cc, nil
		},
	}
}

// dropAll closes every open client connection at once, as a server
// restart or a network cut would, and returns how many it closed.
func (b *bench) dropAll() int {
	b.connMu.Lock()
	cs := make([]*countingConn, 0, len(b.conns))
	for c := range b.conns {
		cs = append(cs, c)
	}
	b.connMu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
	return len(cs)
}

type countingConn struct {
	net.Conn
	b *bench
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.b.bytesR.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.b.bytesW.Add(int64(n))
	return n, err
}

func (c *countingConn) Close() error {
	c.b.connMu.Lock()
	delete(c.b.conns, c)
	c.b.connMu.Unlock()
	return c.Conn.Close()
}

// Machine describes the machine the run is on.
func Machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs (%s), %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel(), runtime.Version())
}

// settle waits for in-flight deliveries after the drivers finished: until
// every expected delivery arrived, or none arrived for 500 ms (at most
// 5 s). Relays of the last operations may still be on their way when
// their senders have their acks.
func (b *bench) settle(ctx context.Context, clients []*benchClient) {
	sizes := roomSizes(clients, b.cfg.Rooms)
	var expected int64
	for _, bc := range clients {
		expected += bc.timed * int64(sizes[bc.room]-1)
	}
	count := func() int64 {
		var n int64
		for _, bc := range clients {
			n += int64(bc.deliv.len())
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
