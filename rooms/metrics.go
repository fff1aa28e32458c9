package rooms

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowsync/flowsync/sync/protocol"
)

// Metrics are the rooms' Prometheus collectors. Create them with NewMetrics
// and share one value between the Registry and nothing else; a nil *Metrics
// is valid and records nothing.
type Metrics struct {
	Rooms          prometheus.Gauge
	Members        prometheus.Gauge
	FramesOut      *prometheus.CounterVec // by frame type
	BytesOut       prometheus.Counter
	MergeSeconds   prometheus.Histogram
	FanoutSeconds  prometheus.Histogram
	Refusals       *prometheus.CounterVec // by error code name
	SlowConsumers  prometheus.Counter
	DurableLag     prometheus.Histogram
	PendingBytes   prometheus.Gauge       // deltas waiting for a store write, all rooms
	StoreErrors    *prometheus.CounterVec // by operation: load, append, snapshot, delete
	CoalescedDrags prometheus.Counter

	// The durable path.
	AppendSeconds   prometheus.Histogram   // one Store.Append (successful or not)
	BatchDeltas     prometheus.Histogram   // deltas per Store.Append
	AppendedBytes   prometheus.Counter     // encoded delta bytes in committed appends
	SnapshotSeconds prometheus.Histogram   // one Store.Snapshot (successful)
	SnapshotBytes   prometheus.Histogram   // stored size of a snapshot (see observeSnapshot)
	Snapshots       *prometheus.CounterVec // by trigger: quiet, max-delay, evict, shutdown; and result
	StoreReady      prometheus.Gauge       // 1 while store writes succeed, 0 while they fail

	// Repair (vet and refresh).
	repair repairMetrics

	framesOut [256]prometheus.Counter // resolved FramesOut children, by type
	refusals  map[protocol.Code]prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, as in tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	latency := []float64{1e-6, 5e-6, 2e-5, 1e-4, 5e-4, 2e-3, 1e-2, 5e-2, 0.25, 1}
	m := &Metrics{
		Rooms:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowsync_rooms", Help: "Live rooms (loaded workflow documents)."}),
		Members: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowsync_room_members", Help: "Sessions joined to a room, over all rooms."}),
		FramesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_room_frames_out_total",
			Help: "Frames rooms queued to members, by frame type (a broadcast counts once per member)."}, []string{"type"}),
		BytesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_room_bytes_out_total", Help: "Bytes rooms queued to members."}),
		MergeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowsync_room_merge_seconds",
			Help: "Time to admit and merge one delta or operation in a room loop.", Buckets: latency}),
		FanoutSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowsync_room_fanout_seconds",
			Help: "Time to encode one broadcast and queue it to every member.", Buckets: latency}),
		Refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_room_refusals_total",
			Help: "Deltas and operations refused, by error code."}, []string{"code"}),
		SlowConsumers: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_slow_consumer_disconnects_total",
			Help: "Members closed because their outbound queue was full."}),
		DurableLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowsync_durable_lag_seconds",
			Help:    "Time from Applied to Durable for one delta.",
			Buckets: []float64{1e-4, 1e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30}}),
		PendingBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowsync_room_pending_durable_bytes",
			Help: "Encoded deltas merged but not yet covered by a store write."}),
		StoreErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_store_errors_total",
			Help: "Failed store calls, by operation."}, []string{"op"}),
		CoalescedDrags: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_room_coalesced_ephemeral_total",
			Help: "Drag and presence frames folded into a later one before relay (latest wins)."}),
		AppendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowsync_store_append_seconds",
			Help:    "Time of one Store.Append (one batch, one write transaction), failed ones included.",
			Buckets: []float64{2.5e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 10}}),
		BatchDeltas: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowsync_store_append_batch_deltas",
			Help: "Deltas per Store.Append (group commit batch size).", Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}}),
		AppendedBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_store_appended_bytes_total",
			Help: "Encoded delta bytes in committed Store.Append batches (re-sent deltas included)."}),
		SnapshotSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowsync_store_snapshot_seconds",
			Help:    "Time of one successful Store.Snapshot (read, join, encode, write, trim).",
			Buckets: []float64{1e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}}),
		SnapshotBytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowsync_store_snapshot_bytes",
			Help:    "Stored size of a snapshot after compression (from the store's Stats; approximate when snapshots of several rooms overlap).",
			Buckets: prometheus.ExponentialBuckets(256, 4, 10)}),
		Snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_room_snapshots_total",
			Help: "Snapshots attempted, by trigger (quiet, max-delay, evict, shutdown, retry) and result (ok, error)."}, []string{"trigger", "result"}),
		StoreReady: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowsync_store_ready",
			Help: "1 while store writes succeed, 0 from a failed write until the next successful one (/readyz is 503 meanwhile)."}),
		refusals: make(map[protocol.Code]prometheus.Counter),
	}
	m.repair = newRepairMetrics()
	m.StoreReady.Set(1)
	// Only the frame types this version defines get a series.
	for t := range 256 {
		ft := protocol.FrameType(t)
		if ft.FromServer() && ft.Known() {
			m.framesOut[t] = m.FramesOut.WithLabelValues(ft.String())
		}
	}
	// The store operations start at 0, so an alert on their rate has a
	// series before the first failure.
	for _, op := range []string{"load", "append", "snapshot", "delete", "refresh"} {
		m.StoreErrors.WithLabelValues(op)
	}
	for _, c := range protocol.Codes() {
		m.refusals[c] = m.Refusals.WithLabelValues(c.String())
	}
	if reg != nil {
		reg.MustRegister(m.Rooms, m.Members, m.FramesOut, m.BytesOut, m.MergeSeconds, m.FanoutSeconds,
			m.Refusals, m.SlowConsumers, m.DurableLag, m.PendingBytes, m.StoreErrors, m.CoalescedDrags,
			m.AppendSeconds, m.BatchDeltas, m.AppendedBytes, m.SnapshotSeconds, m.SnapshotBytes, m.Snapshots, m.StoreReady)
		m.repair.register(reg)
	}
	return m
}

func (m *Metrics) frameOut(t protocol.FrameType, members, bytes int) {
	if m == nil {
		return
	}
	if c := m.framesOut[t]; c != nil {
		c.Add(float64(members))
	}
	m.BytesOut.Add(float64(members * bytes))
}

func (m *Metrics) refused(c protocol.Code) {
	if m == nil {
		return
	}
	if ctr, ok := m.refusals[c]; ok {
		ctr.Inc()
		return
	}
	m.Refusals.WithLabelValues(c.String()).Inc()
}

func (m *Metrics) observeMerge(d time.Duration) {
	if m != nil {
		m.MergeSeconds.Observe(d.Seconds())
	}
}

func (m *Metrics) observeFanout(d time.Duration) {
	if m != nil {
		m.FanoutSeconds.Observe(d.Seconds())
	}
}

func (m *Metrics) observeDurable(d time.Duration) {
	if m != nil {
		m.DurableLag.Observe(d.Seconds())
	}
}

func (m *Metrics) gauges(rooms, members, pendingBytes float64) {
	if m != nil {
		m.Rooms.Add(rooms)
		m.Members.Add(members)
		m.PendingBytes.Add(pendingBytes)
	}
}

func (m *Metrics) slowConsumer() {
	if m != nil {
		m.SlowConsumers.Inc()
	}
}

func (m *Metrics) coalesced() {
	if m != nil {
		m.CoalescedDrags.Inc()
	}
}

func (m *Metrics) storeError(op string) {
	if m == nil {
		return
	}
	m.StoreErrors.WithLabelValues(op).Inc()
}

func (m *Metrics) observeAppend(d time.Duration, deltas, bytes int, err error) {
	if m == nil {
		return
	}
	m.AppendSeconds.Observe(d.Seconds())
	m.BatchDeltas.Observe(float64(deltas))
	if err == nil {
		m.AppendedBytes.Add(float64(bytes))
	}
}

// observeSnapshot records one snapshot attempt; size < 0 means unknown.
func (m *Metrics) observeSnapshot(trigger string, d time.Duration, size int64, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.Snapshots.WithLabelValues(trigger, "error").Inc()
		return
	}
	m.Snapshots.WithLabelValues(trigger, "ok").Inc()
	m.SnapshotSeconds.Observe(d.Seconds())
	if size >= 0 {
		m.SnapshotBytes.Observe(float64(size))
	}
}

func (m *Metrics) storeReady(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.repair = newRepairMetrics()
		m.StoreReady.Set(1)
	} else {
		m.StoreReady.Set(0)
	}
}
