package webhook

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the dispatcher's Prometheus collectors; a nil *Metrics
// records nothing.
type Metrics struct {
	Events     *prometheus.CounterVec // queued, by event type
	Deliveries *prometheus.CounterVec // attempts, by result: ok, failed
	Dropped    *prometheus.CounterVec // by reason: queue_full, expired
	Queue      prometheus.Gauge       // deliveries waiting (all URLs)
	Seconds    prometheus.Histogram   // one HTTP attempt
}

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered). The labelled series are created at zero so that they show
// before the first event.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_webhook_events_total",
			Help: "Webhook events queued, by type (an event for several URLs counts once)."}, []string{"type"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_webhook_deliveries_total",
			Help: "Webhook delivery attempts, by result: ok (2xx) or failed (error or other status; retried)."}, []string{"result"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flowsync_webhook_dropped_total",
			Help: "Webhook deliveries given up, by reason: queue_full (the event was never queued) or expired (attempts or age ran out)."}, []string{"reason"}),
		Queue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flowsync_webhook_queue",
			Help: "Webhook deliveries waiting in the queue file, one per event and URL."}),
		Seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flowsync_webhook_delivery_seconds",
			Help: "Time of one webhook HTTP attempt.", Buckets: []float64{0.001, 0.005, 0.02, 0.1, 0.5, 2, 10}}),
	}
	for _, r := range []string{"ok", "failed"} {
		m.Deliveries.WithLabelValues(r)
	}
	for _, r := range []string{"queue_full", "expired"} {
		m.Dropped.WithLabelValues(r)
	}
	for _, t := range eventTypes {
		m.Events.WithLabelValues(t)
	}
	if reg != nil {
		reg.MustRegister(m.Events, m.Deliveries, m.Dropped, m.Queue, m.Seconds)
	}
	return m
}

func (m *Metrics) event(typ string) {
	if m != nil {
		m.Events.WithLabelValues(typ).Inc()
	}
}

func (m *Metrics) delivery(ok bool, seconds float64) {
	if m == nil {
		return
	}
	r := "failed"
	if ok {
		r = "ok"
	}
	m.Deliveries.WithLabelValues(r).Inc()
	m.Seconds.Observe(seconds)
}

func (m *Metrics) dropped(reason string, n int) {
	if m != nil {
		m.Dropped.WithLabelValues(reason).Add(float64(n))
	}
}

func (m *Metrics) queue(n int) {
	if m != nil {
		m.Queue.Set(float64(n))
	}
}
