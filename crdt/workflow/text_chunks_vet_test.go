package workflow

import (
	"math/rand/v2"
	"testing"

	"github.com/flowsync/flowsync/internal/testutil"
)

// A replica's offline typing, caught up as WritesSince and cut into admitted
// chunks (as clients send a large backlog), is admitted chunk after chunk:
// no chunk's context may claim a text item that a later chunk carries, or
// the server would refuse the honest later chunk as forged.
func TestTypingChunksAreAdmittedInOrder(t *testing.T) {
	seed := testutil.Seed(t, 0)
	rng := rand.New(rand.NewPCG(seed, seed^0x7e47))
	wall := int64(1000)
	srv, a := newReplicaDoc(t, "srv", &wall), newReplicaDoc(t, "a", &wall)
	a.d.Merge(srv.apply(promptBlock("p", "hello")))
	a.d.Merge(srv.apply(promptBlock("q", "other")))
	for i := range 3000 {
		tt := prompt("p")
		if i%3 == 0 {
			tt = prompt("q")
		}
		n := len([]rune(textOf(t, a.d, tt)))
		switch r := rng.IntN(10); {
		case r < 7:
			a.apply(InsertText{TextTarget: tt, Index: n, Text: string(rune('a' + rng.IntN(26)))})
		case r < 9:
			a.apply(InsertText{TextTarget: tt, Index: rng.IntN(n + 1), Text: "xy"})
		default:
			if n > 2 {
				a.apply(DeleteText{TextTarget: tt, Index: rng.IntN(n - 1), Length: 1})
			}
		}
	}
	w := a.d.WritesSince("a", srv.d.Context(), nil)
	for _, limit := range []int{512, 4 << 10} {
		s := srv.d.Clone()
		chunks := w.EncodeChunksCapped(limit, Caps{MaxValues: 64, MaxReplicas: 8, MaxRanges: 64, MaxValueNodes: 1000})
		for i, c := range chunks {
			d, err := DecodeCapped(c, DeltaLimits, DeltaCaps)
			if err != nil {
				t.Fatalf("seed %d, limit %d: chunk %d: %v", seed, limit, i, err)
			}
			v, err := s.Vet(d, "a")
			if err != nil {
				t.Fatalf("seed %d, limit %d: chunk %d of %d refused: %v", seed, limit, i, len(chunks), err)
			}
			s.Merge(v.Delta)
		}
		for _, tt := range []TextTarget{prompt("p"), prompt("q")} {
			if got, want := textOf(t, s, tt), textOf(t, a.d, tt); got != want {
				t.Fatalf("seed %d, limit %d: server holds %q, a %q", seed, limit, got, want)
			}
		}
	}
}
