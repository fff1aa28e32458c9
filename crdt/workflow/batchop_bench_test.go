package workflow

import (
	"fmt"
	"testing"
)

// BenchmarkBatchOperation measures what one Operation frame's batch costs
// the room loop: parse the payload, Prepare the operation against a
// 1,000-block document, merge it and encode the delta (for the relay and
// the store). Sizes: a typical batch, the batch cap (1000) and
// the largest batch a 1 MiB frame carries under the frame decoder's
// element caps (131,072 array elements, 65,536 map pairs, 32,768 maps and
// arrays).
//
//	go test -run XXX -bench BatchOperation -benchtime 3x ./crdt/workflow
func BenchmarkBatchOperation(b *testing.B) {
	base, ids := buildDoc(b, 1000)
	type shape struct {
		name, target, op string
		payload          func(n int) map[string]any
		sizes            []int
	}
	shapes := []shape{
		{"add-blocks", "blocks", "batch-add-blocks", func(n int) map[string]any {
			blocks := make([]any, n)
			for i := range blocks {
				blocks[i] = map[string]any{"id": fmt.Sprintf("new-%06d", i), "type": "agent", "name": fmt.Sprintf("New %d", i)}
			}
			return map[string]any{"blocks": blocks}
		}, []int{50, MaxOpItems, 16_000}},
		{"update-positions", "blocks", "batch-update-positions", func(n int) map[string]any {
			ups := make([]any, n)
			for i := range ups {
				ups[i] = map[string]any{"id": ids[i%len(ids)], "position": map[string]any{"x": float64(i), "y": 1.5}}
			}
			return map[string]any{"updates": ups}
		}, []int{50, MaxOpItems, 16_000}},
		{"remove-blocks", "blocks", "batch-remove-blocks", func(n int) map[string]any {
			list := make([]any, n)
			for i := range list {
				list[i] = ids[i%len(ids)]
				if i >= len(ids) {
					list[i] = fmt.Sprintf("absent-%06d", i)
				}
			}
			return map[string]any{"ids": list}
		}, []int{50, MaxOpItems, 100_000}},
	}
	for _, s := range shapes {
		for _, n := range s.sizes {
			payload := s.payload(n)
			b.Run(fmt.Sprintf("%s/n=%d", s.name, n), func(b *testing.B) {
				refused := 0
				for range b.N {
					b.StopTimer()
					doc := base.Clone()
					clock := newBenchClock("server")
					clock.wall += 1_000_000
					// A live room's document has its index built: build
					// this copy's outside the timer.
					for _, warm := range []Op{
						UpdatePosition{ID: ids[0], Position: Position{X: 1, Y: 1}},
						BatchAddBlocks{Blocks: []BlockInput{{ID: "warm", Type: "agent", Name: "Warm"}}},
						BatchRemoveBlocks{IDs: []string{ids[1]}},
					} {
						if _, err := doc.Prepare(clock.now(), warm); err != nil {
							b.Fatal(err)
						}
					}
					b.StartTimer()
					op, err := ParseOp(s.op, s.target, payload)
					if err == nil {
						var delta *Doc
						if delta, err = doc.Prepare(clock.now(), op); err == nil {
							doc.Merge(delta)
							_ = delta.Encode()
						}
					}
					if err != nil {
						refused++
					}
				}
				b.ReportMetric(float64(refused)/float64(b.N), "refused/op")
			})
		}
	}
}
