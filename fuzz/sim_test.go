package fuzz

import (
	"flag"
	"testing"
)

var (
	seedsFlag = flag.Int("seeds", 60, "seeds to run over the step ladder (CI: 1000)")
	seedFlag  = flag.Uint64("seed", 0, "replay one seed (with -steps)")
	stepsFlag = flag.Int("steps", 300, "steps for -seed")
	firstSeed = flag.Uint64("first-seed", 1, "first seed of the ladder run")
)

// ladder is the step counts a seed range is spread over (the Yjs recipe).
var ladder = []int{6, 40, 300, 1_000, 5_000, 30_000}

// TestConvergenceLadder runs -seeds seeds; seed s runs ladder[s % 6] steps.
// A failure prints the seed and step count; replay it with
//
//	go test ./fuzz -run TestConvergenceReplay -seed=S -steps=N -v
func TestConvergenceLadder(t *testing.T) {
	if *seedFlag != 0 {
		t.Skip("replaying a single seed: see TestConvergenceReplay")
	}
	total := Report{}
	for i := 0; i < *seedsFlag; i++ {
		seed := *firstSeed + uint64(i)
		steps := ladder[i%len(ladder)]
		if testing.Short() && steps > 1_000 {
			steps = 1_000
		}
		rep, err := Run(Config{Seed: seed, Steps: steps})
		if err != nil {
			t.Fatalf("seed %d, %d steps: %v\nreplay: go test ./fuzz -run TestConvergenceReplay -seed=%d -steps=%d -v", seed, steps, err, seed, steps)
		}
		total.Applied += rep.Applied
		total.Refused += rep.Refused
		total.Delivered += rep.Delivered
		total.Dropped += rep.Dropped
		total.AntiEntropy += rep.AntiEntropy
		total.TextEdits += rep.TextEdits
	}
	t.Logf("%d seeds (first %d): applied=%d refused=%d delivered=%d dropped=%d anti-entropy=%d text-edits=%d",
		*seedsFlag, *firstSeed, total.Applied, total.Refused, total.Delivered, total.Dropped, total.AntiEntropy, total.TextEdits)
	if total.Applied == 0 || total.Delivered == 0 || total.TextEdits == 0 {
		t.Fatalf("the simulator applied or delivered nothing: the generator is broken")
	}
}

// TestConvergenceReplay replays the seed given with -seed.
func TestConvergenceReplay(t *testing.T) {
	if *seedFlag == 0 {
		t.Skip("pass -seed=S -steps=N to replay a seed")
	}
	rep, err := Run(Config{Seed: *seedFlag, Steps: *stepsFlag})
	t.Log(rep)
	if err != nil {
		t.Fatal(err)
	}
}
