package testutil

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Seed returns the seed of a randomized test and logs how to replay it:
// override when non-zero (a package's -…seed flag), else FLOWSYNC_SEED,
// else the clock.
func Seed(t testing.TB, override uint64) uint64 {
	t.Helper()
	seed := override
	if seed == 0 {
		if s := os.Getenv("FLOWSYNC_SEED"); s != "" {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("FLOWSYNC_SEED=%q: %v", s, err)
			}
			seed = v
		}
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with FLOWSYNC_SEED=%d)", seed, seed)
	return seed
}
