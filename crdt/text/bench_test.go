package text

import (
	"testing"
)

func BenchmarkApplyLocal(b *testing.B) {
	for _, name := range traceNames {
		b.Run(name, func(b *testing.B) {
			tr := loadTrace(b, name)
			ps := tr.patches()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				replay(b, tr, ps, false)
			}
		})
	}
}

func BenchmarkMergeRemote(b *testing.B) {
	for _, name := range traceNames {
		b.Run(name, func(b *testing.B) {
			tr := loadTrace(b, name)
			_, deltas := replay(b, tr, tr.patches(), true)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t := New()
				for _, d := range deltas {
					if err := t.Merge(d); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
