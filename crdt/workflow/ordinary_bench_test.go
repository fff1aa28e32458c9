package workflow

import (
	"fmt"
	"testing"
)

// BenchmarkOrdinaryDelta measures what the canonical checks add to an
// ordinary edit's path on the server and in every replica: decode a
// client's delta, merge it into a 1,000-block document, encode it again
// (for the log and the broadcast). Three common edits: typing in a
// sub-block, a drag's committed position, a block added.
func BenchmarkOrdinaryDelta(b *testing.B) {
	base, ids := buildDoc(b, 1000)
	edits := map[string]func(i int) Op{
		"subblock-text": func(i int) Op {
			return UpdateSubBlock{BlockID: ids[i%len(ids)], SubBlockID: "systemPrompt", Value: fmt.Sprintf("Summarize ticket %d politely.", i)}
		},
		"position": func(i int) Op {
			return UpdatePosition{ID: ids[i%len(ids)], Position: Position{X: float64(i), Y: 0.5 * float64(i)}}
		},
		"add-block": func(i int) Op { return AddBlock{Block: benchBlock(100_000+i, "agent")} },
	}
	for _, name := range []string{"subblock-text", "position", "add-block"} {
		b.Run(name, func(b *testing.B) {
			client, clock := base.Clone(), newBenchClock("client")
			clock.wall += 1_000_000 // after the adds: a write must not predate its block's add
			const pool = 256
			encs := make([][]byte, pool)
			for i := range encs {
				d, err := client.Apply(clock.now(), edits[name](i))
				if err != nil {
					b.Fatal(err)
				}
				encs[i] = d.Encode()
			}
			server := base.Clone()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				j := i % pool
				if j == 0 && i > 0 {
					b.StopTimer()
					server = base.Clone()
					b.StartTimer()
				}
				d, err := DecodeDelta(encs[j])
				if err != nil {
					b.Fatal(err)
				}
				server.Merge(d)
				_ = d.Encode()
			}
		})
	}
}
