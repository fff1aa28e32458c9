package session

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowsync/flowsync/sync/protocol"
)

// Metrics are the sessions' Prometheus collectors. A nil *Metrics records
// nothing.
type Metrics struct {
	Connections   prometheus.Gauge
	Accepted      prometheus.Counter
	FramesIn      *prometheus.CounterVec // by frame type
	BytesIn       prometheus.Counter
	BytesOut      prometheus.Counter
	InvalidFrames *prometheus.CounterVec // by error code
	Closes        *prometheus.CounterVec // by close code
	Panics        prometheus.Counter
	QueueBytes    prometheus.Gauge // outbound bytes queued, all sessions
	QueueDepth    prometheus.Histogram
	// LimitRefusals counts what a limit refused, by limit: connections,
	// connections_per_ip, connections_per_user (sessions refused),
	// frame_rate, byte_rate (frames refused or dropped).
	LimitRefusals *prometheus.CounterVec
	// EphemeralDropped counts Presence and Drag frames dropped silently
	// by the rate limits.
	EphemeralDropped prometheus.Counter
	AuthFailures     prometheus.Counter
	// Revocations counts room memberships ended by SetRole/SetGrants;
	// RoleChanges those re-joined with another role.
	Revocations prometheus.Counter
	RoleChanges prometheus.Counter

	framesIn [256]prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowsync_connections", Help: "Open websocket sessions."}),
		Accepted:    prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_connections_total", Help: "Websocket sessions accepted."}),
		FramesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_frames_in_total",
			Help: "Frames received and decoded, by frame type."}, []string{"type"}),
		BytesIn:  prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_bytes_in_total", Help: "Websocket message bytes received."}),
		BytesOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_bytes_out_total", Help: "Websocket message bytes written."}),
		InvalidFrames: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_invalid_frames_total",
			Help: "Frames refused before routing (undecodable, text, wrong direction or order), by error code."}, []string{"code"}),
		Closes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_closes_total",
			Help: "Sessions closed by the server, by close code."}, []string{"code"}),
		Panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_session_panics_total",
			Help: "Recovered panics in session goroutines (each closed its connection)."}),
		QueueBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowsync_outbound_queue_bytes",
			Help: "Bytes waiting in session outbound queues."}),
		QueueDepth: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowsync_outbound_batch_frames",
			Help: "Frames a writer took from its queue in one batch.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}}),
		LimitRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_limit_refusals_total",
			Help: "Connections or frames refused by a configured limit, by limit."}, []string{"limit"}),
		EphemeralDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_ephemeral_dropped_total",
			Help: "Presence and Drag frames dropped by the rate limits."}),
		AuthFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_auth_failures_total",
			Help: "Hellos refused by the authenticator."}),
		Revocations: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_access_revocations_total",
			Help: "Room memberships ended by a revocation on a live session."}),
		RoleChanges: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_role_changes_total",
			Help: "Room memberships re-joined with a changed role on a live session."}),
	}
	// Only the frame types this version defines get a series: the rest
	// of the client range never decodes (refusals count under
	// flowsync_invalid_frames_total).
	for t := range 256 {
		if ft := protocol.FrameType(t); ft.FromClient() && ft.Known() {
			m.framesIn[t] = m.FramesIn.WithLabelValues(ft.String())
		}
	}
	// Closed label sets start at 0, so a rate or an alert has a series
	// before the first event.
	for _, c := range protocol.CloseCodes() {
		m.Closes.WithLabelValues(c.String())
	}
	for _, l := range []string{limitConnections, limitConnectionsPerIP, limitConnectionsPerUser, limitConnectionRate,
		limitRoomsPerSession, limitRoomsPerUser, limitFrameRate, limitByteRate} {
		m.LimitRefusals.WithLabelValues(l)
	}
	if reg != nil {
		reg.MustRegister(m.Connections, m.Accepted, m.FramesIn, m.BytesIn, m.BytesOut, m.InvalidFrames,
			m.Closes, m.Panics, m.QueueBytes, m.QueueDepth, m.LimitRefusals, m.EphemeralDropped, m.AuthFailures,
			m.Revocations, m.RoleChanges)
	}
	return m
}

func (m *Metrics) frameIn(t protocol.FrameType) {
	if m == nil {
		return
	}
	if c := m.framesIn[t]; c != nil {
		c.Inc()
	}
}

func (m *Metrics) received(size int) {
	if m != nil {
		m.BytesIn.Add(float64(size))
	}
}

func (m *Metrics) invalid(c protocol.Code) {
	if m != nil {
		m.InvalidFrames.WithLabelValues(c.String()).Inc()
	}
}

func (m *Metrics) closed(c protocol.CloseCode) {
	if m != nil {
		m.Closes.WithLabelValues(c.String()).Inc()
	}
}

func (m *Metrics) panicked() {
	if m != nil {
		m.Panics.Inc()
	}
}

func (m *Metrics) connections(d float64) {
	if m != nil {
		m.Connections.Add(d)
		if d > 0 {
			m.Accepted.Inc()
		}
	}
}

func (m *Metrics) queued(bytes int) {
	if m != nil {
		m.QueueBytes.Add(float64(bytes))
	}
}

func (m *Metrics) wrote(frames, bytes int) {
	if m != nil {
		m.QueueDepth.Observe(float64(frames))
		m.BytesOut.Add(float64(bytes))
	}
}

// Limit labels of LimitRefusals.
const (
	limitConnections        = "connections"
	limitConnectionsPerIP   = "connections_per_ip"
	limitConnectionsPerUser = "connections_per_user"
	limitConnectionRate     = "connection_rate"
	limitRoomsPerSession    = "rooms_per_session"
	limitRoomsPerUser       = "rooms_per_user"
	limitFrameRate          = "frame_rate"
	limitByteRate           = "byte_rate"
)

func (m *Metrics) refused(limit string) {
	if m != nil {
		m.LimitRefusals.WithLabelValues(limit).Inc()
	}
}

func (m *Metrics) ephemeralDropped() {
	if m != nil {
		m.EphemeralDropped.Inc()
	}
}

func (m *Metrics) authFailed() {
	if m != nil {
		m.AuthFailures.Inc()
	}
}

func (m *Metrics) revoked() {
	if m != nil {
		m.Revocations.Inc()
	}
}

func (m *Metrics) roleChanged() {
	if m != nil {
		m.RoleChanges.Inc()
	}
}
