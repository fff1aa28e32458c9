package history

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the manager's Prometheus collectors; a nil *Metrics records
// nothing.
type Metrics struct {
	// Checkpoints counts checkpoint attempts by kind (automatic, named)
	// and result (saved; unchanged: an automatic one skipped because
	// nothing changed; failed).
	Checkpoints *prometheus.CounterVec
	// Restores counts restores by result (ok, failed).
	Restores *prometheus.CounterVec
	// Seconds is the time of one saved checkpoint: the view, the summary,
	// the compression and the store's write.
	Seconds prometheus.Histogram
	// Bytes is the stored size of the last checkpoint saved.
	Bytes prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered), every labelled series at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Checkpoints: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_checkpoints_total",
			Help: "Checkpoints tried, by kind (automatic, named) and result (saved, unchanged, failed)."}, []string{"kind", "result"}),
		Restores: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_checkpoint_restores_total",
			Help: "Checkpoint restores, by result (ok, failed)."}, []string{"result"}),
		Seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowsync_checkpoint_seconds",
			Help: "Time to save one checkpoint (view, summary, compression, store write).", Buckets: []float64{0.005, 0.02, 0.1, 0.5, 2, 10}}),
		Bytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowsync_checkpoint_last_bytes",
			Help: "Stored size of the last checkpoint saved (compressed document)."}),
	}
	for _, k := range []string{"automatic", "named"} {
		for _, r := range []string{"saved", "unchanged", "failed"} {
			m.Checkpoints.WithLabelValues(k, r)
		}
	}
	for _, r := range []string{"ok", "failed"} {
		m.Restores.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.Checkpoints, m.Restores, m.Seconds, m.Bytes)
	}
	return m
}

func (m *Metrics) checkpoint(named, saved bool, err error, took time.Duration, bytes int) {
	if m == nil {
		return
	}
	kind, result := "automatic", "saved"
	if named {
		kind = "named"
	}
	switch {
	case err != nil:
		result = "failed"
	case !saved:
		result = "unchanged"
	default:
		m.Seconds.Observe(took.Seconds())
		m.Bytes.Set(float64(bytes))
	}
	m.Checkpoints.WithLabelValues(kind, result).Inc()
}

func (m *Metrics) restore(err error) {
	if m == nil {
		return
	}
	r := "ok"
	if err != nil {
		r = "failed"
	}
	m.Restores.WithLabelValues(r).Inc()
}
