package client

import (
	"math/rand/v2"
	"time"
)

// Backoff is capped exponential backoff with full jitter: before retry
// attempt n (counting from 0) wait a uniformly random time in
// [0, min(Cap, Base·2^n)]. Full jitter spreads a crowd of clients that lost
// the same server over the whole window instead of bunching them at its edge.
// The zero value means Base 1 s, Cap 30 s.
type Backoff struct {
	Base time.Duration // the first window; default DefaultBackoffBase
	Cap  time.Duration // the largest window; default DefaultBackoffCap
}

func (b Backoff) withDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = DefaultBackoffBase
	}
	if b.Cap <= 0 {
		b.Cap = DefaultBackoffCap
	}
	if b.Cap < b.Base {
		b.Cap = b.Base
	}
	return b
}

// Window returns the upper bound of the delay before attempt n:
// min(Cap, Base·2^n), for the defaults when a field is zero.
func (b Backoff) Window(attempt int) time.Duration {
	b = b.withDefaults()
	w := b.Base
	for i := 0; i < attempt && w < b.Cap; i++ {
		w *= 2
	}
	return min(w, b.Cap)
}

// Delay returns the delay before attempt n, uniform in [0, Window(n)].
// int64n returns a uniform integer in [0, n) for n > 0, like
// (*rand.Rand).Int64N; nil means the goroutine-safe rand.Int64N.
func (b Backoff) Delay(attempt int, int64n func(n int64) int64) time.Duration {
	if int64n == nil {
		int64n = rand.Int64N
	}
	w := b.Window(attempt)
	return time.Duration(int64n(int64(w) + 1))
}
