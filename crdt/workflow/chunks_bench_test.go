package workflow

import (
	"fmt"
	"testing"
)

// BenchmarkEncodeChunks encodes a whole document in catch-up chunks of the
// rooms' default size (256 KiB): what a cold join costs the room.
func BenchmarkEncodeChunks(b *testing.B) {
	for _, n := range []int{10000} {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			d, _ := cachedDoc(b, n)
			var chunks [][]byte
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			for b.Loop() {
				chunks = d.EncodeChunks(256 << 10)
			}
			cpu.report()
			b.ReportMetric(float64(len(chunks)), "chunks")
		})
	}
}
