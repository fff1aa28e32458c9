package cluster

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the cluster layer's Prometheus collectors. Create them with
// NewMetrics; a nil *Metrics is valid and records nothing.
type Metrics struct {
	// Published counts messages this node published, by kind (delta,
	// digest, request, tombstone, presence, lock, ephemeral); a chunked
	// delta counts once per chunk.
	Published *prometheus.CounterVec
	// Received counts deltas merged from the bus, by path: live (published
	// by their origin) or repair (an anti-entropy answer).
	Received *prometheus.CounterVec
	// Echoes counts this node's own messages it received back and skipped.
	Echoes prometheus.Counter
	// Lag is the time from a live delta's publish (sender's clock) to its
	// merge here; it includes the skew between the two clocks.
	Lag prometheus.Histogram
	// Rounds counts anti-entropy rounds (one per interval, all hosted
	// workflows).
	Rounds prometheus.Counter
	// Repaired counts anti-entropy deltas merged (the Received "repair"
	// path, kept separate for dashboards).
	Repaired prometheus.Counter
	// BusErrors counts failures on the bus, by reason: publish, subscribe,
	// decode, apply, version, dropped (messages NATS dropped for this slow
	// node), oversize, panic.
	BusErrors *prometheus.CounterVec
	// SkewRefused counts deltas refused because a write leads this node's
	// clock by more than MaxClockSkew.
	SkewRefused prometheus.Counter
	// Tombstones counts deletion events, by event: deleted (Delete here),
	// learned (a tombstone from another node), answered (a tombstone sent
	// to a node that still used a deleted workflow).
	Tombstones *prometheus.CounterVec
	// Hosted is the number of workflows this node hosts.
	Hosted prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered, as in tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_cluster_published_total",
			Help: "Bus messages published by this node, by kind."}, []string{"kind"}),
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_cluster_deltas_received_total",
			Help: "Deltas from other nodes merged here, by path (live, repair)."}, []string{"path"}),
		Echoes: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_cluster_echoes_skipped_total",
			Help: "This node's own bus messages received back and skipped."}),
		Lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowsync_cluster_lag_seconds",
			Help:    "Time from a live delta's publish on its origin node to its merge here (includes clock skew).",
			Buckets: []float64{1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 1, 5}}),
		Rounds: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_cluster_antientropy_rounds_total",
			Help: "Anti-entropy rounds (digests of every hosted workflow)."}),
		Repaired: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_cluster_antientropy_repaired_deltas_total",
			Help: "Deltas merged from anti-entropy answers."}),
		BusErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_cluster_bus_errors_total",
			Help: "Bus failures, by reason."}, []string{"reason"}),
		SkewRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_cluster_skew_refused_total",
			Help: "Deltas refused because a write's HLC wall time leads this node's clock by more than the allowed skew."}),
		Tombstones: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_cluster_tombstones_total",
			Help: "Workflow deletions, by event (deleted, learned, answered)."}, []string{"event"}),
		Hosted: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowsync_cluster_hosted_workflows",
			Help: "Workflows this node hosts on the bus."}),
	}
	// Closed label sets start at 0, so a rate or an alert has a series
	// before the first event.
	for _, k := range []Kind{KindDelta, KindDigest, KindRequest, KindTombstone, KindPresence, KindLock, KindEphemeral} {
		m.Published.WithLabelValues(kindName(k))
	}
	for _, p := range []string{"live", "repair"} {
		m.Received.WithLabelValues(p)
	}
	for _, r := range []string{"publish", "subscribe", "flush", "decode", "apply", "version", "dropped", "oversize", "panic"} {
		m.BusErrors.WithLabelValues(r)
	}
	for _, e := range []string{"deleted", "learned", "answered"} {
		m.Tombstones.WithLabelValues(e)
	}
	if reg != nil {
		reg.MustRegister(m.Published, m.Received, m.Echoes, m.Lag, m.Rounds, m.Repaired,
			m.BusErrors, m.SkewRefused, m.Tombstones, m.Hosted)
	}
	return m
}

func (m *Metrics) published(k Kind) {
	if m != nil {
		m.Published.WithLabelValues(kindName(k)).Inc()
	}
}

// receivedLive records a live delta merged; lag < 0 means unknown.
func (m *Metrics) receivedLive(lag time.Duration) {
	if m == nil {
		return
	}
	m.Received.WithLabelValues("live").Inc()
	if lag >= 0 {
		m.Lag.Observe(lag.Seconds())
	}
}

// receivedRepair records an anti-entropy delta merged.
func (m *Metrics) receivedRepair() {
	if m != nil {
		m.Received.WithLabelValues("repair").Inc()
		m.Repaired.Inc()
	}
}

func (m *Metrics) echo() {
	if m != nil {
		m.Echoes.Inc()
	}
}

func (m *Metrics) round() {
	if m != nil {
		m.Rounds.Inc()
	}
}

func (m *Metrics) busError(reason string, n int) {
	if m != nil && n > 0 {
		m.BusErrors.WithLabelValues(reason).Add(float64(n))
	}
}

func (m *Metrics) skewRefused() {
	if m != nil {
		m.SkewRefused.Inc()
	}
}

func (m *Metrics) tombstone(event string) {
	if m != nil {
		m.Tombstones.WithLabelValues(event).Inc()
	}
}

func (m *Metrics) hosted(n int) {
	if m != nil {
		m.Hosted.Set(float64(n))
	}
}

func kindName(k Kind) string {
	switch k {
	case KindDelta:
		return "delta"
	case KindDigest:
		return "digest"
	case KindRequest:
		return "request"
	case KindTombstone:
		return "tombstone"
	case KindPresence:
		return "presence"
	case KindLock:
		return "lock"
	case KindEphemeral:
		return "ephemeral"
	}
	return "unknown"
}
