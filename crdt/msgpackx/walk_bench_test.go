package msgpackx

import "testing"

// benchValue is a field value as editors store them: a small JSON table,
// three levels deep.
func benchValue() []byte {
	rows := make([]any, 8)
	for i := range rows {
		rows[i] = map[string]any{"name": "column", "type": "string", "required": i%2 == 0, "width": 120 + i}
	}
	return MustCanonical(map[string]any{"rows": rows, "version": 3})
}

func BenchmarkCheckCanonical(b *testing.B) {
	v := benchValue()
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if err := CheckCanonical(v, ValueLimits); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckCanonicalFreshGoroutine is CheckCanonical on a new
// goroutine per operation: a walk whose frames outgrow the starting stack
// pays for a stack copy each time.
func BenchmarkCheckCanonicalFreshGoroutine(b *testing.B) {
	v := benchValue()
	done := make(chan error)
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		go func() { done <- CheckCanonical(v, ValueLimits) }()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(stackPerGoroutine(1000, func() { _ = CheckCanonical(v, ValueLimits) }), "stack-B/goroutine")
}

// BenchmarkWalkers compares the walkers with the ones they replaced
// (ref_test.go) in one binary, on benchValue.
func BenchmarkWalkers(b *testing.B) {
	v := benchValue()
	b.Run("canonical", func(b *testing.B) {
		for b.Loop() {
			budget := len(v)
			if _, err := canonicalValue(v, 0, &budget); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("canonical-ref", func(b *testing.B) {
		for b.Loop() {
			budget := len(v)
			if _, err := canonicalValueRef(v, 0, &budget); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("skip", func(b *testing.B) {
		for b.Loop() {
			if _, err := skip(v, 0, 32, len(v)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("skip-ref", func(b *testing.B) {
		for b.Loop() {
			if _, err := skipRef(v, 0, 32, len(v)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
