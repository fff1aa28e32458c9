package workflow

import (
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/flowsync/flowsync/crdt"
)

// Replicas type words into one prompt concurrently (each keystroke after
// its own last one, at a place each picked in the text it held), delete
// ranges, and rewrite the whole value; their deltas reach the others in
// any order, some twice, the rest by DeltaSince. Then every replica holds
// the same state and text, every word typed and never deleted is there
// contiguous, and the document round-trips.
func TestTextFieldsConverge(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(2, 4).Draw(rt, "replicas")
		wall := int64(1000)
		rs := make([]*replicaDoc, n)
		for i := range rs {
			rs[i] = newReplicaDoc(t, crdt.ReplicaID(fmt.Sprintf("r%d", i)), &wall)
		}
		seed := rs[0].apply(promptBlock("p", rapid.SampledFrom([]string{"", "base text", "日本語 🙂"}).Draw(rt, "start")))
		for _, r := range rs[1:] {
			r.d.Merge(seed)
		}
		var inbox [][]*Doc = make([][]*Doc, n)
		send := func(from int, d *Doc) {
			for j := range rs {
				if j != from {
					inbox[j] = append(inbox[j], d)
				}
			}
		}
		words := map[string]bool{} // words typed whole and not later deleted by anyone
		deleted := false
		steps := rapid.IntRange(1, 30).Draw(rt, "steps")
		for s := 0; s < steps; s++ {
			i := rapid.IntRange(0, n-1).Draw(rt, "who")
			r := rs[i]
			r.clock.Observe(r.d.Latest(), wall)
			switch rapid.IntRange(0, 5).Draw(rt, "what") {
			case 0, 1, 2: // type a word, key by key
				word := fmt.Sprintf("<%d.%d>", i, s)
				// Between words, as the replica sees them: a word split by a
				// later insert of its own author is no interleaving.
				cur, _ := r.d.Text(prompt("p"))
				var between []int
				depth := 0
				for k, c := range []rune(cur) {
					if depth == 0 {
						between = append(between, k)
					}
					if c == '<' {
						depth++
					} else if c == '>' {
						depth--
					}
				}
				// The end is between words only when no word is open
				// there: a replica that has seen the first keys of
				// another's word and types after them types inside it.
				if depth == 0 {
					between = append(between, len([]rune(cur)))
				}
				at := rapid.SampledFrom(between).Draw(rt, "at")
				for k, c := range []rune(word) {
					send(i, r.apply(InsertText{TextTarget: prompt("p"), Index: at + k, Text: string(c)}))
				}
				words[word] = true
			case 3: // delete a range
				if l := r.d.TextLen(prompt("p")); l > 0 {
					at := rapid.IntRange(0, l-1).Draw(rt, "del at")
					k := rapid.IntRange(1, l-at).Draw(rt, "del n")
					send(i, r.apply(DeleteText{TextTarget: prompt("p"), Index: at, Length: k}))
					deleted = true
				}
			case 4: // a whole-value write
				cur, _ := r.d.Text(prompt("p"))
				send(i, r.apply(UpdateSubBlock{BlockID: "p", SubBlockID: "prompt", Value: strings.ToUpper(cur) + "."}))
				deleted = true // the rewrite may replace words
			case 5: // deliver some of r's inbox, in any order
				for len(inbox[i]) > 0 && rapid.Bool().Draw(rt, "deliver") {
					k := rapid.IntRange(0, len(inbox[i])-1).Draw(rt, "which")
					d := inbox[i][k]
					if rapid.Bool().Draw(rt, "keep a copy") {
						inbox[i] = append(inbox[i], d) // delivered again later
					}
					inbox[i] = append(inbox[i][:k], inbox[i][k+1:]...)
					r.d.Merge(d)
				}
				if j := rapid.IntRange(0, n-1).Draw(rt, "catch up from"); j != i {
					// CatchUp names fewer deleted items than DeltaSince
					// and makes the same state (deaths.go).
					viaFull := r.d.Clone()
					viaFull.Merge(rs[j].d.DeltaSince(r.d.Context()))
					r.d.Merge(rs[j].d.CatchUp(r.d.Context()))
					if !r.d.Equal(viaFull) {
						rt.Fatalf("%s merged with r%d's CatchUp differs from merged with its DeltaSince", r.clock.Replica(), j)
					}
				}
			}
		}
		// Quiescence: every inbox in reverse, then anti-entropy both ways.
		for i, r := range rs {
			for k := len(inbox[i]) - 1; k >= 0; k-- {
				r.d.Merge(inbox[i][k])
			}
		}
		for _, a := range rs {
			for _, b := range rs {
				if a != b {
					a.d.Merge(b.d.DeltaSince(a.d.Context()))
				}
			}
		}
		want, _ := rs[0].d.Text(prompt("p"))
		for _, r := range rs[1:] {
			if got, _ := r.d.Text(prompt("p")); got != want || !r.d.Equal(rs[0].d) {
				rt.Fatalf("%s holds %q, r0 %q (states equal: %v)", r.clock.Replica(), got, want, r.d.Equal(rs[0].d))
			}
		}
		if !deleted {
			for w := range words {
				if !strings.Contains(want, w) {
					rt.Fatalf("word %q is not contiguous in %q", w, want)
				}
			}
		}
		back, err := Decode(rs[0].d.Encode(), DocLimits)
		if err != nil || !back.Equal(rs[0].d) {
			rt.Fatalf("the document does not round-trip: %v", err)
		}
	})
}
