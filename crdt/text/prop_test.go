package text

import (
	"errors"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/flowsync/flowsync/crdt"
)

// alphabet mixes one-, two-, three- and four-byte code points, so that
// every split and index is tested off ASCII too.
var alphabet = []rune("abcdeé日😀")

type inbound struct {
	from  int
	delta Delta
}

type peer struct {
	id    crdt.ReplicaID
	t     *Text
	ref   ref
	inbox []inbound
}

func drawText(t *rapid.T, label string) string {
	return string(rapid.SliceOfN(rapid.SampledFrom(alphabet), 1, 4).Draw(t, label))
}

// merge delivers d to p, holding Text to the reference; a delta whose
// origins p lacks is refused and reported false.
func (p *peer) merge(t *rapid.T, d Delta) bool {
	before := p.t.String()
	if err := p.t.Merge(d); err != nil {
		if !errors.Is(err, ErrMissingOrigin) {
			t.Fatalf("merge into %s: %v", p.id, err)
		}
		if p.t.String() != before {
			t.Fatalf("refused merge changed %s", p.id)
		}
		return false
	}
	p.ref.apply(d)
	p.check(t)
	return true
}

func (p *peer) check(t *rapid.T) {
	if err := p.t.validate(); err != nil {
		t.Fatalf("%s: %v", p.id, err)
	}
	if got, want := p.t.String(), p.ref.String(); got != want {
		t.Fatalf("%s: text %q, reference %q", p.id, got, want)
	}
	if p.t.Len() != len([]rune(p.t.String())) {
		t.Fatalf("%s: Len %d for %q", p.id, p.t.Len(), p.t.String())
	}
}

// TestConvergence: 2–4 replicas insert and delete at random, deliver each
// other's deltas in random order (out of causal order refused, then
// retried; some twice) and exchange whole states; every replica matches the
// naive reference at every step, and at the end all hold one text, one
// context and one encoding.
func TestConvergence(t *testing.T) { rapid.Check(t, convergence) }

// TestConvergenceSmallNodes runs the same property with nodes of three, so
// that leaves and inner nodes split all the time, and the text arena
// compacted as soon as half of it is garbage.
func TestConvergenceSmallNodes(t *testing.T) {
	defer func(s, k, c int) { maxSpans, maxKids, compactMin = s, k, c }(maxSpans, maxKids, compactMin)
	maxSpans, maxKids, compactMin = 3, 3, 0
	rapid.Check(t, convergence)
}

func convergence(t *rapid.T) {
	{
		n := rapid.IntRange(2, 4).Draw(t, "replicas")
		peers := make([]*peer, n)
		for i := range peers {
			peers[i] = &peer{id: crdt.ReplicaID(string(rune('a' + i))), t: New()}
		}
		broadcast := func(from int, d Delta) {
			for j, q := range peers {
				if j != from {
					q.inbox = append(q.inbox, inbound{from, d})
				}
			}
		}
		steps := rapid.IntRange(1, 80).Draw(t, "steps")
		for range steps {
			i := rapid.IntRange(0, n-1).Draw(t, "at")
			p := peers[i]
			switch rapid.IntRange(0, 9).Draw(t, "op") {
			case 0, 1, 2, 3:
				pos := rapid.IntRange(0, p.t.Len()).Draw(t, "pos")
				d, err := p.t.Insert(p.id, pos, drawText(t, "text"))
				if err != nil {
					t.Fatal(err)
				}
				p.ref.apply(d)
				p.check(t)
				broadcast(i, d)
			case 4, 5:
				if p.t.Len() == 0 {
					continue
				}
				pos := rapid.IntRange(0, p.t.Len()-1).Draw(t, "pos")
				k := rapid.IntRange(1, p.t.Len()-pos).Draw(t, "len")
				d, err := p.t.Delete(pos, k)
				if err != nil {
					t.Fatal(err)
				}
				p.ref.apply(d)
				p.check(t)
				broadcast(i, d)
			case 6, 7, 8:
				if len(p.inbox) == 0 {
					continue
				}
				k := rapid.IntRange(0, len(p.inbox)-1).Draw(t, "delta")
				if p.merge(t, p.inbox[k].delta) && !rapid.Bool().Draw(t, "again") {
					p.inbox = append(p.inbox[:k], p.inbox[k+1:]...)
				}
			case 9:
				j := rapid.IntRange(0, n-1).Draw(t, "from")
				if !p.merge(t, peers[j].t.DeltaSince(p.t.Context())) {
					t.Fatalf("a state delta was refused")
				}
			}
		}
		// Deliver everything left, in rounds: each round merges what it can.
		for {
			progress, left := false, 0
			for _, p := range peers {
				var keep []inbound
				for _, in := range p.inbox {
					if p.merge(t, in.delta) {
						progress = true
					} else {
						keep = append(keep, in)
					}
				}
				p.inbox = keep
				left += len(keep)
			}
			if left == 0 {
				break
			}
			if !progress {
				t.Fatalf("%d deltas can never be delivered", left)
			}
		}
		want := peers[0]
		for _, p := range peers[1:] {
			if p.t.String() != want.t.String() {
				t.Fatalf("%s has %q, %s has %q", p.id, p.t.String(), want.id, want.t.String())
			}
			if !p.t.Context().Equal(want.t.Context()) || !p.t.Deleted().Equal(want.t.Deleted()) {
				t.Fatalf("%s and %s hold other dots", p.id, want.id)
			}
		}
	}
}

// TestMergeLaws: whole states merge commutatively, associatively and
// idempotently.
func TestMergeLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// Three replicas that edit a shared base concurrently.
		base := New()
		if _, err := base.Insert("z", 0, drawText(t, "base")); err != nil {
			t.Fatal(err)
		}
		states := make([]Delta, 3)
		for i := range states {
			r := New()
			if err := r.Merge(base.DeltaSince(nil)); err != nil {
				t.Fatal(err)
			}
			id := crdt.ReplicaID(string(rune('a' + i)))
			for range rapid.IntRange(1, 6).Draw(t, "edits") {
				if r.Len() > 0 && rapid.Bool().Draw(t, "delete") {
					pos := rapid.IntRange(0, r.Len()-1).Draw(t, "pos")
					if _, err := r.Delete(pos, rapid.IntRange(1, r.Len()-pos).Draw(t, "n")); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if _, err := r.Insert(id, rapid.IntRange(0, r.Len()).Draw(t, "pos"), drawText(t, "text")); err != nil {
					t.Fatal(err)
				}
			}
			states[i] = r.DeltaSince(nil)
		}
		merged := func(order ...int) *Text {
			r := New()
			for _, i := range order {
				if err := r.Merge(states[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := r.validate(); err != nil {
				t.Fatal(err)
			}
			return r
		}
		ab, ba := merged(0, 1), merged(1, 0)
		if ab.String() != ba.String() {
			t.Fatalf("not commutative: %q vs %q", ab.String(), ba.String())
		}
		if aab := merged(0, 0, 1, 1); aab.String() != ab.String() {
			t.Fatalf("not idempotent: %q vs %q", aab.String(), ab.String())
		}
		abc := merged(0, 1, 2)
		// (a·b)·c against a·(b·c): b·c merged first, then its state into a.
		bc := merged(1, 2)
		a := merged(0)
		if err := a.Merge(bc.DeltaSince(nil)); err != nil {
			t.Fatal(err)
		}
		if a.String() != abc.String() {
			t.Fatalf("not associative: %q vs %q", a.String(), abc.String())
		}
		for _, p := range [][]int{{2, 0, 1}, {1, 2, 0}, {2, 1, 0}} {
			if got := merged(p...).String(); got != abc.String() {
				t.Fatalf("order %v gives %q, want %q", p, got, abc.String())
			}
		}
	})
}

// TestNoInterleaving: replicas type a word each at one position at the same
// time, forwards (each character after the last) or backwards (each at the
// word's start); after they sync every word is contiguous.
func TestNoInterleaving(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		base := New()
		if _, err := base.Insert("z", 0, "0123456789"); err != nil {
			t.Fatal(err)
		}
		at := rapid.IntRange(0, base.Len()).Draw(t, "at")
		n := rapid.IntRange(2, 4).Draw(t, "replicas")
		words := []string{"AAAAA", "BBBB", "CCCCCC", "DDD"}
		peers := make([]*Text, n)
		for i := range peers {
			peers[i] = New()
			if err := peers[i].Merge(base.DeltaSince(nil)); err != nil {
				t.Fatal(err)
			}
			id := crdt.ReplicaID(string(rune('a' + i)))
			backwards := rapid.Bool().Draw(t, "backwards")
			w := []rune(words[i])
			for k := range w {
				var err error
				if backwards {
					_, err = peers[i].Insert(id, at, string(w[len(w)-1-k]))
				} else {
					_, err = peers[i].Insert(id, at+k, string(w[k]))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, p := range peers {
			for _, q := range peers {
				if err := p.Merge(q.DeltaSince(p.Context())); err != nil {
					t.Fatal(err)
				}
			}
		}
		got := peers[0].String()
		for i, p := range peers {
			if p.String() != got {
				t.Fatalf("replica %d has %q, replica 0 %q", i, p.String(), got)
			}
		}
		for _, w := range words[:n] {
			if !strings.Contains(got, w) {
				t.Fatalf("%q is interleaved in %q", w, got)
			}
		}
	})
}

// TestDeleteKeepsConcurrentInsert: a replica deletes a range while another
// inserts inside it; the insert survives whole, and everything else is as
// the delete left it.
func TestDeleteKeepsConcurrentInsert(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		base := New()
		if _, err := base.Insert("z", 0, "abcdefghij"); err != nil {
			t.Fatal(err)
		}
		a, b := New(), New()
		for _, r := range []*Text{a, b} {
			if err := r.Merge(base.DeltaSince(nil)); err != nil {
				t.Fatal(err)
			}
		}
		pos := rapid.IntRange(0, 9).Draw(t, "pos")
		k := rapid.IntRange(1, 10-pos).Draw(t, "len")
		da, err := a.Delete(pos, k)
		if err != nil {
			t.Fatal(err)
		}
		afterDelete := a.String()
		db, err := b.Insert("b", rapid.IntRange(0, 10).Draw(t, "at"), "XYZ")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Merge(db); err != nil {
			t.Fatal(err)
		}
		if err := b.Merge(da); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Fatalf("%q vs %q", a.String(), b.String())
		}
		if !strings.Contains(a.String(), "XYZ") || strings.NewReplacer("XYZ", "").Replace(a.String()) != afterDelete {
			t.Fatalf("delete of [%d,%d) and insert of XYZ gave %q (after the delete alone: %q)", pos, pos+k, a.String(), afterDelete)
		}
	})
}
