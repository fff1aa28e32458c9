package rooms

import "github.com/prometheus/client_golang/prometheus"

// repairMetrics count what rooms leave out of client deltas and what they
// read back from the store.
type repairMetrics struct {
	unverifiedDots prometheus.Counter
	deadEntries    prometheus.Counter
	refreshes      prometheus.Counter
	vouched        prometheus.Counter
	badReceipts    prometheus.Counter
}

func newRepairMetrics() repairMetrics {
	return repairMetrics{
		unverifiedDots: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_room_unverified_dots_total",
			Help: "Dots of other replicas that client deltas named but no node had admitted, left out of the merge."}),
		deadEntries: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_room_dead_entries_total",
			Help: "Entries of client deltas whose dots the room had seen removed, left out of the merge and the relay."}),
		refreshes: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_room_store_refreshes_total",
			Help: "Store reloads that brought a room edits other nodes had made durable."}),
		vouched: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_room_vouched_total",
			Help: "Deltas clients handed back with a receipt that checked (repair after a crash or a failover)."}),
		badReceipts: prometheus.NewCounter(prometheus.CounterOpts{Name: "flowsync_room_bad_receipts_total",
			Help: "Vouch frames refused because their receipt did not check."}),
	}
}

func (r repairMetrics) register(reg prometheus.Registerer) {
	reg.MustRegister(r.unverifiedDots, r.deadEntries, r.refreshes, r.vouched, r.badReceipts)
}

func (m *Metrics) vetted(unverified uint64, dead int) {
	if m != nil {
		m.repair.unverifiedDots.Add(float64(unverified))
		m.repair.deadEntries.Add(float64(dead))
	}
}

func (m *Metrics) refreshed() {
	if m != nil {
		m.repair.refreshes.Inc()
	}
}

func (m *Metrics) vouch(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.repair.vouched.Inc()
	} else {
		m.repair.badReceipts.Inc()
	}
}
