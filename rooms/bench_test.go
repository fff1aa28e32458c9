package rooms

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// countingMember is the cheapest member: it counts frames and bytes.
type countingMember struct {
	sid    string
	id     Identity
	frames int
	bytes  int
}

func (c *countingMember) SessionID() string     { return c.sid }
func (c *countingMember) Identity() Identity    { return c.id }
func (c *countingMember) Enqueue(b []byte) bool { c.frames++; c.bytes += len(b); return true }
func (c *countingMember) EnqueueReply(r [][]byte) bool {
	for _, b := range r {
		c.Enqueue(b)
	}
	return true
}
func (c *countingMember) Close(protocol.CloseCode, string) {}

// BenchmarkFanout measures the room side of relaying one delta to a room of
// n members: admission, merge, encoding the RemoteDelta once and queueing
// it to n-1 members, the Applied ack. It drives the loop's handler
// directly (no goroutine hop) so allocations are the room's own. The
// reported allocs/frame divides by delivered frames.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		for _, receipts := range []bool{false, true} {
			benchmarkFanout(b, n, receipts)
		}
	}
}

// benchmarkFanout is one case of BenchmarkFanout; with receipts every
// relayed frame carries its HMAC (receipts.go).
func benchmarkFanout(b *testing.B, n int, receipts bool) {
	{
		b.Run(fmt.Sprintf("members=%d/receipts=%v", n, receipts), func(b *testing.B) {
			cfg := Config{}
			if receipts {
				cfg.Receipts = testKeyring(b)
			}
			r := newRegistry(b, cfg, nil)
			rm := newRoom(r, "wf")
			rm.doc = workflow.New()
			rm.clock = crdt.NewClock("server")
			members := make([]*countingMember, n)
			for i := range members {
				members[i] = &countingMember{sid: fmt.Sprint("s", i), id: Identity{UserID: fmt.Sprint("u", i),
					ReplicaID: crdt.ReplicaID(fmt.Sprint("r", i)), Role: protocol.RoleWrite}}
				rm.members[members[i]] = &memberState{m: members[i], id: members[i].id,
					entry: protocol.RosterEntry{SessionID: members[i].sid, UserID: members[i].id.UserID, Role: protocol.RoleWrite}}
			}
			author := members[0]
			// Pre-build b.N deltas: one position update each.
			src := workflow.New()
			clock := crdt.NewClock(author.id.ReplicaID)
			d, _ := src.Apply(clock.Now(time.Now().UnixMilli()), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b", Type: "agent", Name: "B"}}})
			rm.doc.Merge(d)
			raws := make([][]byte, b.N)
			deltas := make([]*workflow.Doc, b.N)
			for i := range b.N {
				d, err := src.Apply(clock.Now(time.Now().UnixMilli()), workflow.BatchUpdatePositions{Updates: []workflow.PositionUpdate{{ID: "b", Position: workflow.Position{X: float64(i), Y: 1}}}})
				if err != nil {
					b.Fatal(err)
				}
				raws[i], deltas[i] = d.Encode(), d
			}
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for i := range b.N {
				rm.handleDelta(&deltaEvent{m: author, opID: "op", raw: raws[i], delta: deltas[i]})
				if len(rm.pending) > 1024 {
					rm.pending, rm.pendingBytes = rm.pending[:0], 0
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			delivered := 0
			for _, m := range members {
				delivered += m.frames
			}
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(delivered), "allocs/frame")
			b.ReportMetric(float64(delivered)/float64(b.N), "frames/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(delivered), "ns/frame")
		})
	}
}

// BenchmarkDecodeMergeEncode is the server's cost per client delta: decode
// the frame, decode the delta, merge it into a 1,000-block document, and
// encode the RemoteDelta frame that relays it.
func BenchmarkDecodeMergeEncode(b *testing.B) {
	doc := buildDoc(b, 1000)
	clock := crdt.NewClock("client")
	src := doc.Clone()
	frames := make([][]byte, b.N)
	for i := range b.N {
		d, err := src.Apply(clock.Now(1_800_000_000_000+int64(i)), workflow.UpdateName{ID: "block-0001", NewName: fmt.Sprint("Name ", i)})
		if err != nil {
			b.Fatal(err)
		}
		frames[i] = protocol.AppendFrame(nil, &protocol.Delta{WorkflowID: "wf", OpID: fmt.Sprint("op-", i), Delta: d.Encode()})
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		f, err := protocol.Decode(frames[i], protocol.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		df := f.(*protocol.Delta)
		d, err := workflow.Decode(df.Delta, workflow.DeltaLimits)
		if err != nil {
			b.Fatal(err)
		}
		doc.Merge(d)
		buf = protocol.AppendFrame(buf[:0], &protocol.RemoteDelta{WorkflowID: df.WorkflowID, Delta: df.Delta,
			Origin: protocol.Origin{UserID: "u", ReplicaID: "client", SessionID: "s"}})
	}
}

// BenchmarkColdJoin is the room's cost of a join with an empty context: the
// whole document as catch-up chunks, the Joined frame, the roster. It drives
// handleJoin directly, one joiner at a time, and removes the joiner after.
func BenchmarkColdJoin(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			r := newRegistry(b, Config{}, nil)
			rm := newRoom(r, "wf")
			rm.doc = batchDoc(b, n)
			rm.clock = crdt.NewClock("server")
			m := &countingMember{sid: "s", id: Identity{UserID: "u", ReplicaID: "joiner", Role: protocol.RoleWrite}}
			reply := make(chan joinReply, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rm.handleJoin(&joinEvent{m: m, reply: reply})
				if res := <-reply; res.err != nil {
					b.Fatal(res.err)
				}
				rm.remove(rm.members[m])
			}
			b.ReportMetric(float64(m.bytes)/float64(b.N), "bytes/join")
		})
	}
}

// batchDoc is a document of n agent blocks added 500 at a time.
func batchDoc(tb testing.TB, n int) *workflow.Doc {
	tb.Helper()
	doc := workflow.New()
	clock := crdt.NewClock("w")
	wall := int64(1_700_000_000_000)
	for start := 0; start < n; start += 500 {
		var op workflow.BatchAddBlocks
		for i := start; i < min(start+500, n); i++ {
			id := fmt.Sprintf("block-%05d", i)
			op.Blocks = append(op.Blocks, workflow.BlockInput{
				ID: id, Type: "agent", Name: "Agent " + id, Position: &workflow.Position{X: float64(i), Y: 1},
				SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "write a poem about " + id}},
			})
		}
		wall++
		if _, err := doc.Apply(clock.Now(wall), op); err != nil {
			tb.Fatal(err)
		}
	}
	return doc
}
