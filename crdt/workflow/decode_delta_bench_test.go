package workflow

import "testing"

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
	}{{"position", position.Encode()}, {"subblock", value.Encode()}} {
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
