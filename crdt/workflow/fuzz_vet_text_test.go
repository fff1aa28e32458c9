package workflow

import (
	"bytes"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// FuzzVetText drives the workflow's admission path for text edits with any
// bytes from any sender: Decode with the delta limits, Vet against a
// document holding a typed prompt, Merge what Vet returns. Vet must change
// neither side; what it admits must add text items of the sender only,
// merge idempotently and survive an encode/decode round trip.

var vetTextSenders = []crdt.ReplicaID{"a", "b", "z"}

var vetTextPrompt = TextTarget{BlockID: "p", SubBlockID: "prompt"}

// vetTextBase returns the document the inputs are vetted against: a prompt
// created by a, typed into by b, partly deleted by a.
func vetTextBase(tb testing.TB) (*Doc, crdt.Timestamp) {
	d := New()
	ts := crdt.Timestamp{Wall: 1_700_000_000_000, Replica: "a"}
	apply := func(replica crdt.ReplicaID, op Op) {
		ts.Logical++
		ts.Replica = replica
		delta, err := d.Apply(ts, op)
		if err != nil {
			tb.Fatalf("%s: %v", op.Name(), err)
		}
		d.Merge(delta)
	}
	apply("a", BatchAddBlocks{Blocks: []BlockInput{{ID: "p", Type: "agent", Name: "P",
		SubBlocks: map[string]SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "héllo 🙂"}}}}})
	apply("b", InsertText{TextTarget: vetTextPrompt, Index: 3, Text: "xyz"})
	apply("a", DeleteText{TextTarget: vetTextPrompt, Index: 1, Length: 2})
	apply("b", InsertText{TextTarget: vetTextPrompt, Index: 0, Text: "> "})
	return d, ts
}

// vetTextSeeds returns honest edits of every sender made on copies of the
// base (one operation, and several joined into one delta) and the same
// deltas claimed by another sender.
func vetTextSeeds(tb testing.TB, base *Doc, ts crdt.Timestamp) (seeds [][]byte, senders []uint8) {
	for si, s := range vetTextSenders {
		c := base.Clone()
		var joined *Doc
		for _, op := range []Op{
			InsertText{TextTarget: vetTextPrompt, Index: 2, Text: "ab"},
			DeleteText{TextTarget: vetTextPrompt, Index: 4, Length: 3},
			InsertText{TextTarget: vetTextPrompt, Index: 0, Text: "ü"},
		} {
			ts.Logical++
			ts.Replica = s
			delta, err := c.Apply(ts, op)
			if err != nil {
				tb.Fatalf("%s: %v", op.Name(), err)
			}
			c.Merge(delta)
			seeds = append(seeds, delta.Encode())
			senders = append(senders, uint8(si))
			if joined == nil {
				joined = delta.Clone()
			} else {
				joined.Merge(delta)
			}
		}
		seeds = append(seeds, joined.Encode(), joined.Encode())
		senders = append(senders, uint8(si), uint8((si+1)%len(vetTextSenders)))
	}
	return seeds, senders
}

func FuzzVetText(f *testing.F) {
	base, ts := vetTextBase(f)
	baseEnc := base.Encode()
	seeds, senders := vetTextSeeds(f, base, ts)
	for i := range seeds {
		f.Add(seeds[i], senders[i])
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		own := vetTextSenders[int(which)%len(vetTextSenders)]
		_, _ = Decode(data[:len(data)/2], DeltaLimits)
		_, _ = Decode(data[len(data)/2:], DeltaLimits)
		delta, err := Decode(data, DeltaLimits)
		if err != nil {
			return
		}
		deltaEnc := delta.Encode()
		v, vetErr := base.Vet(delta, own)
		if !bytes.Equal(base.Encode(), baseEnc) {
			t.Fatalf("Vet changed the document (admitted: %v)", vetErr)
		}
		if !bytes.Equal(delta.Encode(), deltaEnc) {
			t.Fatalf("Vet changed the delta (admitted: %v)", vetErr)
		}
		if vetErr != nil {
			return
		}
		m := base.Clone()
		m.Merge(v.Delta)
		for id, r := range m.texts {
			added := r.itemDots()
			if old := base.texts[id]; old != nil {
				added = added.Missing(old.itemDots())
			}
			for _, replica := range added.Replicas() {
				if replica != own && len(added.Ranges(replica)) > 0 {
					t.Fatalf("admitted delta from %q adds items of %q to text %s:%d", own, replica, id.Replica, id.Counter)
				}
			}
		}
		if n := m.Merge(v.Delta); n != 0 {
			t.Fatalf("merging an admitted delta again changed %d values", n)
		}
		again := m.Clone()
		again.Merge(v.Delta)
		if !again.Equal(m) {
			t.Fatal("merging an admitted delta again changed the document")
		}
		back, err := Decode(m.Encode(), DocLimits)
		if err != nil {
			t.Fatalf("document after an admitted delta does not decode: %v", err)
		}
		if !back.Equal(m) {
			t.Fatal("document after an admitted delta changes in an encode/decode round trip")
		}
	})
}

// TestVetTextSeeds checks the fuzz seeds: each sender's own edits are
// admitted, the joined delta claimed by another sender is not.
func TestVetTextSeeds(t *testing.T) {
	base, ts := vetTextBase(t)
	seeds, senders := vetTextSeeds(t, base, ts)
	for i, b := range seeds {
		delta, err := Decode(b, DeltaLimits)
		if err != nil {
			t.Fatalf("seed %d does not decode: %v", i, err)
		}
		forged := i%5 == 4 // per sender: three edits, the joined delta, the joined delta as the next sender
		_, err = base.Vet(delta, vetTextSenders[senders[i]])
		if !forged && err != nil {
			t.Errorf("honest seed %d refused: %v", i, err)
		}
		if forged && err == nil {
			t.Errorf("forged seed %d admitted", i)
		}
	}
}
