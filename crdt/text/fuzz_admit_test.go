package text

import (
	"bytes"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

// The admission path a server runs on a client's text delta: DecodeDelta
// with the delta limits, then Admit against the text it holds, then Merge.
// FuzzAdmitText holds it to what admission promises, for any bytes and any
// sender:
//   - Admit changes nothing;
//   - an admitted delta inserts only under the sender's dots and deletes
//     only items the text knows or the delta inserts;
//   - it merges without an error into a tree that stays consistent, and a
//     second merge changes nothing;
//   - it commutes with an honest concurrent edit of another replica: both
//     orders of merging give the same state, byte for byte (the origin rule
//     exists so that where a run lands does not depend on which concurrent
//     items a replica holds).

// admitSenders are the senders a fuzz input picks from: the two authors of
// admitBase, and one the base has never seen.
var admitSenders = []crdt.ReplicaID{"alice", "bob", "zed"}

// admitBase returns the text the fuzz inputs are admitted against: typed by
// alice and bob, partly deleted, with runs cut by later edits.
func admitBase(tb testing.TB) *Text {
	t := New()
	edits := []func() (Delta, error){
		func() (Delta, error) { return t.Insert("alice", 0, "hello wörld") },
		func() (Delta, error) { return t.Insert("bob", 5, ", dear") },
		func() (Delta, error) { return t.Delete(2, 3) },
		func() (Delta, error) { return t.Insert("alice", t.Len(), "!🙂") },
		func() (Delta, error) { return t.Insert("bob", 0, ">") },
		func() (Delta, error) { return t.Delete(t.Len()-2, 1) },
	}
	for i, e := range edits {
		if _, err := e(); err != nil {
			tb.Fatalf("base edit %d: %v", i, err)
		}
	}
	return t
}

// admitConcurrent is carol's edit of the base, concurrent with every input.
func admitConcurrent(tb testing.TB, base *Text) Delta {
	c := base.Clone()
	have := c.Context()
	if _, err := c.Insert("carol", 4, "CC"); err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Delete(1, 2); err != nil {
		tb.Fatal(err)
	}
	return c.DeltaSince(have)
}

// admitSeeds returns honest deltas of every sender typed on copies of the
// base (one edit, several edits at once, deletes of known and new items)
// and forged ones (another replica's run, a run moved to other origins).
// honest says which of them are honest.
func admitSeeds(tb testing.TB, base *Text) (seeds [][]byte, senders []uint8, honest []bool) {
	add := func(d Delta, sender int) {
		seeds = append(seeds, Encode(&d))
		senders = append(senders, uint8(sender))
		honest = append(honest, true)
	}
	forged := func(d Delta, sender int) {
		add(d, sender)
		honest[len(honest)-1] = false
	}
	for si, s := range admitSenders {
		for _, pos := range []int{0, 3, base.Len()} {
			c := base.Clone()
			d, err := c.Insert(s, pos, "xy")
			if err != nil {
				tb.Fatal(err)
			}
			add(d, si)
		}
		c := base.Clone()
		have := c.Context()
		for _, e := range []func() (Delta, error){
			func() (Delta, error) { return c.Insert(s, 2, "abc") },
			func() (Delta, error) { return c.Insert(s, 4, "Z") },
			func() (Delta, error) { return c.Delete(3, 3) },
			func() (Delta, error) { return c.Insert(s, c.Len(), "é") },
		} {
			if _, err := e(); err != nil {
				tb.Fatal(err)
			}
		}
		multi := c.DeltaSince(have)
		add(multi, si)
		// The same delta claimed by the next sender: foreign dots.
		forged(multi, (si+1)%len(admitSenders))
		d, err := c.Delete(0, 2)
		if err != nil {
			tb.Fatal(err)
		}
		add(d, si)
	}
	// A run given the origins of another place.
	c := base.Clone()
	d, err := c.Insert("zed", 6, "q")
	if err != nil {
		tb.Fatal(err)
	}
	d.Runs[0].Left, d.Runs[0].Right = d.Runs[0].Right, d.Runs[0].Left
	forged(d, 2)
	return seeds, senders, honest
}

// TestAdmitSeeds checks the fuzz seeds are what they claim: Admit takes
// the honest ones (so the fuzz target's checks of admitted deltas start
// from inputs that reach them) and refuses the forged ones.
func TestAdmitSeeds(t *testing.T) {
	base := admitBase(t)
	seeds, senders, honest := admitSeeds(t, base)
	for i, b := range seeds {
		d, err := DecodeDelta(b, DeltaLimits)
		if err != nil {
			t.Fatalf("seed %d does not decode: %v", i, err)
		}
		err = base.Admit(&d, admitSenders[senders[i]])
		if honest[i] && err != nil {
			t.Errorf("honest seed %d refused: %v", i, err)
		}
		if !honest[i] && err == nil {
			t.Errorf("forged seed %d admitted", i)
		}
	}
}

func FuzzAdmitText(f *testing.F) {
	base := admitBase(f)
	concurrent := admitConcurrent(f, base)
	baseState := Encode(ptr(base.DeltaSince(nil)))
	baseString := base.String()
	seeds, senders, _ := admitSeeds(f, base)
	for i := range seeds {
		f.Add(seeds[i], senders[i])
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		sender := admitSenders[int(which)%len(admitSenders)]
		// Split input, as a reader of partial frames would see it.
		_, _ = DecodeDelta(data[:len(data)/2], DeltaLimits)
		_, _ = DecodeDelta(data[len(data)/2:], DeltaLimits)
		d, err := DecodeDelta(data, DeltaLimits)
		if err != nil {
			return
		}
		admitErr := base.Admit(&d, sender)
		if got := Encode(ptr(base.DeltaSince(nil))); !bytes.Equal(got, baseState) || base.String() != baseString {
			t.Fatalf("Admit changed the text (admitted: %v)", admitErr)
		}
		if admitErr != nil {
			return
		}
		for _, r := range d.Runs {
			if r.ID.Replica != sender {
				t.Fatalf("admitted run %v from %q", r.ID, sender)
			}
		}
		one := base.Clone()
		if err := one.Merge(d); err != nil {
			t.Fatalf("admitted delta does not merge: %v", err)
		}
		if err := one.validate(); err != nil {
			t.Fatalf("admitted delta broke the tree: %v", err)
		}
		known := one.Context()
		for _, x := range d.Deleted {
			for c := x.Lo; c <= x.Hi; c++ {
				if !known.Contains(crdt.Dot{Replica: x.Replica, Counter: c}) {
					t.Fatalf("admitted a delete of %s:%d, neither known nor inserted", x.Replica, c)
				}
			}
		}
		once := Encode(ptr(one.DeltaSince(nil)))
		if err := one.Merge(d); err != nil {
			t.Fatalf("second merge of an admitted delta: %v", err)
		}
		if again := Encode(ptr(one.DeltaSince(nil))); !bytes.Equal(again, once) {
			t.Fatal("a second merge of an admitted delta changed the text")
		}
		// Both orders with carol's concurrent edit.
		if err := one.Merge(concurrent); err != nil {
			t.Fatalf("concurrent edit after the delta: %v", err)
		}
		two := base.Clone()
		if err := two.Merge(concurrent); err != nil {
			t.Fatal(err)
		}
		if err := two.Merge(d); err != nil {
			t.Fatalf("admitted delta after a concurrent edit: %v", err)
		}
		if err := two.validate(); err != nil {
			t.Fatalf("admitted delta after a concurrent edit broke the tree: %v", err)
		}
		s1, s2 := Encode(ptr(one.DeltaSince(nil))), Encode(ptr(two.DeltaSince(nil)))
		if !bytes.Equal(s1, s2) || one.String() != two.String() {
			t.Fatalf("the orders diverge: %q then carol, %q after carol", one.String(), two.String())
		}
	})
}
