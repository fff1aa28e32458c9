package workflow

import (
	"runtime"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// BenchmarkDecodeClientDelta decodes, with the server's caps (DecodeDelta,
// as a session's reader does for every Delta frame), the two deltas the
// load generator sends most: a block's position and a sub-block value.
//
//	go test -run '^$' -bench DecodeClientDelta -benchmem ./crdt/workflow
func BenchmarkDecodeClientDelta(b *testing.B) {
	base, ids := cachedDoc(b, 100)
	client := base.Clone()
	clock := newBenchClock("client-replica-0001")
	position, err := client.Apply(clock.now(), UpdatePosition{ID: ids[7], Position: Position{X: 120.5, Y: 80.25}})
	if err != nil {
		b.Fatal(err)
	}
	value, err := client.Apply(clock.now(), UpdateSubBlock{BlockID: ids[9], SubBlockID: "systemPrompt", Value: "Summarize the ticket in three bullets."})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		enc  []byte
	}{{"position", position.Encode()}, {"subblock", value.Encode()}, {"position-short", shortPosition(b)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(c.enc)), "bytes")
			for b.Loop() {
				if _, err := DecodeDelta(c.enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// shortPosition is a block's position with short ids (70 bytes), as the
// session benchmarks' editors send.
func shortPosition(tb testing.TB) []byte {
	tb.Helper()
	doc, clock := New(), crdt.NewClock("rep-0001")
	wall := int64(1_700_000_000_000)
	if _, err := doc.Apply(clock.Now(wall), BatchAddBlocks{Blocks: []BlockInput{{ID: "blk-1", Type: "agent", Name: "Agent"}}}); err != nil {
		tb.Fatal(err)
	}
	d, err := doc.Apply(clock.Now(wall+5), UpdatePosition{ID: "blk-1", Position: Position{X: 3, Y: 4}})
	if err != nil {
		tb.Fatal(err)
	}
	return d.Encode()
}

// TestDecodeSmallDeltaBytes bounds what decoding a one-value client delta
// allocates: its slabs are cut to the values it holds (a slab of 16 slots
// and 16 groups was 3.4 KiB of the 5.5 KiB a decode took).
func TestDecodeSmallDeltaBytes(t *testing.T) {
	enc := shortPosition(t)
	const runs = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		if _, err := DecodeDelta(enc); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	perDecode := (after.TotalAlloc - before.TotalAlloc) / runs
	t.Logf("%d-byte delta: %d bytes allocated per decode", len(enc), perDecode)
	if perDecode > 2560 {
		t.Errorf("decoding a %d-byte delta allocates %d bytes, want ≤ 2560", len(enc), perDecode)
	}
}
