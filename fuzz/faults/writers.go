package faults

import (
	"math/rand/v2"
	"sync"
	"time"
)

// StartWriters has every editor apply a random edit of mix every gap to
// gap+jitter until the returned stop is called (stop waits for them). Each
// editor draws from its own generator seeded by seed and its index, so a
// seed replays the same choices (the timing of faults still varies).
func StartWriters(eds []*Editor, seed uint64, mix Mix, gap, jitter time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for i, e := range eds {
		wg.Add(1)
		go func(rng *rand.Rand) {
			defer wg.Done()
			for n := 1; ; n++ {
				select {
				case <-done:
					return
				case <-time.After(gap + time.Duration(rng.Int64N(int64(jitter)+1))):
				}
				if err := e.Step(rng, mix, n); err != nil {
					return // closed or deleted: this editor is done
				}
			}
		}(rand.New(rand.NewPCG(seed, uint64(100+i))))
	}
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}
