package crdt

import (
	"flag"
	"math/rand/v2"
	"testing"

	"github.com/flowsync/flowsync/internal/testutil"
)

var seedFlag = flag.Uint64("flowsync.seed", 0, "seed for randomized tests that do not use rapid (0: from FLOWSYNC_SEED, else the time)")

// testRand returns a seeded generator for a randomized test and logs the
// seed. Replay a failure with -flowsync.seed=N or FLOWSYNC_SEED=N.
func testRand(t testing.TB) *rand.Rand {
	t.Helper()
	seed := testutil.Seed(t, *seedFlag)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
