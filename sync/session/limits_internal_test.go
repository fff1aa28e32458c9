package session

import (
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// tokenBucket answers as rate.Limiter.AllowN does, on the same calls.
func TestTokenBucketMatchesRateLimiter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		r := float64(1 + rng.IntN(100))
		burst := 1 + rng.IntN(50)
		lim := rate.NewLimiter(rate.Limit(r), burst)
		var b tokenBucket
		now := time.Unix(1_700_000_000, 0)
		for i := 0; i < 500; i++ {
			switch rng.IntN(10) {
			case 0: // the wall clock steps back
				now = now.Add(-time.Duration(rng.IntN(50)) * time.Millisecond)
			default:
				now = now.Add(time.Duration(rng.IntN(int(200 * time.Millisecond))))
			}
			n := 1 + rng.IntN(burst+2) // sometimes more than burst
			want := lim.AllowN(now, n)
			if got := b.take(now, r, float64(burst), float64(n)); got != want {
				t.Fatalf("trial %d step %d: rate %v burst %d take %d: got %v, rate.Limiter %v", trial, i, r, burst, n, got, want)
			}
		}
	}
}
