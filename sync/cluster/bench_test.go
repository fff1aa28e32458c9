package cluster_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/cluster"
	"github.com/flowsync/flowsync/sync/cluster/clustertest"
)

// BenchmarkCrossNodeDelivery measures one small delta (a variable's value)
// from Publish on node a to Apply returning on node b, one at a time, over
// three topologies: both nodes on one NATS server, on two routed servers,
// and in two regions joined by a gateway (through the test's TCP proxy).
// It reports p50 and p99 besides the mean.
func BenchmarkCrossNodeDelivery(b *testing.B) {
	for _, topo := range []string{"same-server", "routes", "gateway"} {
		b.Run(topo, func(b *testing.B) {
			var sa, sb *server.Server
			switch topo {
			case "same-server":
				sa = clustertest.StartNATS(b, nil)
				sb = sa
			case "routes":
				ss := clustertest.NATSCluster(b, "c", 2, nil)
				sa, sb = ss[0], ss[1]
			case "gateway":
				ra, rb := startRegions(b, "A", "B")
				sa, sb = ra.server, rb.server
			}
			cfg := memberOpts{cfg: cluster.Config{AntiEntropyInterval: noAE, PresenceHeartbeat: testBeat}}
			a, c := newMember(b, "a", sa, 1, cfg), newMember(b, "b", sb, 2, cfg)
			applied := make(chan struct{}, 1)
			c.mem.OnApply = func(string, *workflow.Doc) { applied <- struct{}{} }
			a.host(b, wfID)
			c.host(b, wfID)
			waitPresence(b, wfID, a, c)
			enc, err := a.mem.Edit(wfID, func(doc *workflow.Doc) (*workflow.Doc, error) {
				return doc.Prepare(a.clock.Now(time.Now().UnixMilli()), workflow.AddVariable{ID: "v", VarName: "v", Type: "plain"})
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := a.node.Publish(wfID, enc); err != nil {
				b.Fatal(err)
			}
			<-applied
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				enc, err := a.mem.Edit(wfID, func(doc *workflow.Doc) (*workflow.Doc, error) {
					return doc.Prepare(a.clock.Now(time.Now().UnixMilli()), workflow.UpdateVariable{ID: "v", Field: "value", Value: i})
				})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := a.node.Publish(wfID, enc); err != nil {
					b.Fatal(err)
				}
				select {
				case <-applied:
				case <-time.After(5 * time.Second):
					b.Fatal("delta not delivered in 5s")
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkHostHotRoom measures a node joining a room that another node
// holds live: Host → request → DeltaSince chunks → merged, for a document
// of n variables (each ~60 bytes encoded). One op = one join of a fresh
// workflow.
func BenchmarkHostHotRoom(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("vars=%d", n), func(b *testing.B) {
			ss := clustertest.NATSCluster(b, "c", 2, nil)
			cfg := memberOpts{cfg: cluster.Config{AntiEntropyInterval: noAE, PresenceHeartbeat: time.Hour}}
			a, c := newMember(b, "a", ss[0], 1, cfg), newMember(b, "b", ss[1], 2, cfg)
			ids := make([]string, b.N)
			bytes := 0
			for i := range ids {
				ids[i] = fmt.Sprintf("hot-%d", i)
				a.mem.Open(ids[i])
				enc, err := a.mem.Edit(ids[i], func(doc *workflow.Doc) (*workflow.Doc, error) {
					return bigDelta(b, doc.Clone(), crdt.ReplicaID("r-a"), n, 8), nil
				})
				if err != nil {
					b.Fatal(err)
				}
				bytes = len(enc)
				if err := a.node.Host(ids[i]); err != nil {
					b.Fatal(err)
				}
			}
			time.Sleep(100 * time.Millisecond) // interest reaches the other server
			applied := make(chan struct{}, 1)
			c.mem.OnApply = func(string, *workflow.Doc) {
				select {
				case applied <- struct{}{}:
				default:
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for _, id := range ids {
				c.host(b, id)
				want, _ := a.mem.Context(id)
				for {
					// Equal contexts mean equal states (every mutation
					// spends a dot); comparing contexts keeps the check
					// out of the measurement.
					if got, ok := c.mem.Context(id); ok && got.Equal(want) {
						break
					}
					select {
					case <-applied:
					case <-time.After(5 * time.Second):
						b.Fatal("no catch-up in 5s")
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(bytes), "doc-bytes")
		})
	}
}
