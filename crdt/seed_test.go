package crdt

import (
	"flag"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("flowsync.seed", 0, "seed for randomized tests that do not use rapid (0: from FLOWSYNC_SEED, else the time)")

// testRand returns a seeded generator for a randomized test and logs the
// seed. Replay a failure with -flowsync.seed=N or FLOWSYNC_SEED=N.
func testRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := *seedFlag
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
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
