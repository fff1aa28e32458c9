package text

import (
	"errors"
	"testing"

	"pgregory.net/rapid"

	"github.com/flowsync/flowsync/crdt"
)

// clone returns a replica holding t's whole state.
func clone(tb interface{ Fatal(...any) }, t *Text) *Text {
	c := New()
	if err := c.Merge(t.DeltaSince(nil)); err != nil {
		tb.Fatal(err)
	}
	return c
}

// randomEdits makes n random local edits on r as replica id and returns
// their deltas.
func randomEdits(t *rapid.T, r *Text, id crdt.ReplicaID, n int, label string) []Delta {
	var ds []Delta
	for range n {
		var d Delta
		var err error
		if r.Len() > 0 && rapid.IntRange(0, 3).Draw(t, label+"-op") == 0 {
			pos := rapid.IntRange(0, r.Len()-1).Draw(t, label+"-pos")
			d, err = r.Delete(pos, rapid.IntRange(1, r.Len()-pos).Draw(t, label+"-len"))
		} else {
			d, err = r.Insert(id, rapid.IntRange(0, r.Len()).Draw(t, label+"-pos"), drawText(t, label+"-text"))
		}
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

// drawOrigin draws a dot a hostile run may name as an origin: none, an
// item of the base, an item the hostile delta may insert, or an unknown
// one.
func drawOrigin(t *rapid.T, base []crdt.Dot, label string) crdt.Dot {
	switch rapid.IntRange(0, 5).Draw(t, label+"-kind") {
	case 0:
		return crdt.Dot{}
	case 1, 2:
		if len(base) > 0 {
			return rapid.SampledFrom(base).Draw(t, label+"-base")
		}
		return crdt.Dot{}
	case 3, 4:
		return crdt.Dot{Replica: "m", Counter: uint64(rapid.IntRange(1, 10).Draw(t, label+"-own"))}
	}
	return crdt.Dot{Replica: "z", Counter: 1}
}

// hostileDelta draws a delta of sender "m" built to break replicas: runs
// at random (possibly overlapping) counters with origins drawn from the
// base, from the delta itself and from nowhere, some without content, and
// deletes of base, own and unknown dots. Sometimes it starts from a real
// edit of m and changes one thing.
func hostileDelta(t *rapid.T, base *Text, dots []crdt.Dot) Delta {
	if rapid.Bool().Draw(t, "from-real") {
		m := clone(t, base)
		ds := randomEdits(t, m, "m", rapid.IntRange(1, 4).Draw(t, "m-edits"), "m")
		d := m.DeltaSince(base.Context())
		if rapid.Bool().Draw(t, "resend") {
			// m sends again the items of its own the base holds too.
			d.Runs = nil
			for _, r := range m.DeltaSince(nil).Runs {
				if r.ID.Replica == "m" {
					d.Runs = append(d.Runs, r)
				}
			}
		}
		d.Deleted = append(d.Deleted, ds[len(ds)-1].Deleted...)
		if len(d.Runs) > 0 {
			i := rapid.IntRange(0, len(d.Runs)-1).Draw(t, "mutate-run")
			r := &d.Runs[i]
			switch rapid.IntRange(0, 3).Draw(t, "mutation") {
			case 0:
				r.Left = drawOrigin(t, dots, "mut-left")
			case 1:
				r.Right = drawOrigin(t, dots, "mut-right")
			case 2:
				r.Left, r.Right = r.Right, r.Left
			case 3:
				r.Left, r.Right = drawOrigin(t, dots, "mut-left"), drawOrigin(t, dots, "mut-right")
			}
		}
		return d
	}
	var d Delta
	for range rapid.IntRange(1, 4).Draw(t, "runs") {
		r := Run{
			ID:    crdt.Dot{Replica: "m", Counter: uint64(rapid.IntRange(1, 8).Draw(t, "counter"))},
			Left:  drawOrigin(t, dots, "left"),
			Right: drawOrigin(t, dots, "right"),
		}
		if rapid.IntRange(0, 4).Draw(t, "dead") == 0 {
			r.Len = rapid.IntRange(1, 3).Draw(t, "len")
			d.Deleted = append(d.Deleted, Dead{"m", crdt.Range{Lo: r.ID.Counter, Hi: r.ID.Counter + uint64(r.Len) - 1}})
		} else {
			r.Text = drawText(t, "text")
			r.Len = len([]rune(r.Text))
		}
		d.Runs = append(d.Runs, r)
	}
	for range rapid.IntRange(0, 2).Draw(t, "deletes") {
		o := drawOrigin(t, dots, "deleted")
		if o == (crdt.Dot{}) {
			continue
		}
		d.Deleted = append(d.Deleted, Dead{o.Replica, crdt.Range{Lo: o.Counter, Hi: o.Counter + uint64(rapid.IntRange(0, 2).Draw(t, "del-len"))}})
	}
	return d
}

// isAdmitError reports whether err is one of the errors Admit documents.
func isAdmitError(err error) bool {
	for _, e := range []error{ErrForeignDot, ErrMissingOrigin, ErrUnknownDelete, ErrOriginOrder, ErrChangedItem,
		ErrBadRun, ErrCounter, ErrInvalidUTF8, ErrOverlap, ErrOriginCycle, ErrNoContent} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// contextDots lists every dot of c.
func contextDots(c *crdt.Context) []crdt.Dot {
	var ds []crdt.Dot
	for _, r := range c.Replicas() {
		for _, x := range c.Ranges(r) {
			for k := x.Lo; k <= x.Hi; k++ {
				ds = append(ds, crdt.Dot{Replica: r, Counter: k})
			}
		}
	}
	return ds
}

// TestHostileDeltas: a delta built to break replicas is either refused by
// Admit, changing nothing, or, once admitted, merges into replicas that
// also receive concurrent honest edits, in either order, with the same
// text and the same encoding everywhere.
func TestHostileDeltas(t *testing.T) { rapid.Check(t, hostileDeltas) }

func TestHostileDeltasSmallNodes(t *testing.T) {
	defer func(s, k, c int) { maxSpans, maxKids, compactMin = s, k, c }(maxSpans, maxKids, compactMin)
	maxSpans, maxKids, compactMin = 3, 3, 0
	rapid.Check(t, hostileDeltas)
}

func hostileDeltas(t *rapid.T) {
	base := New()
	var baseDeltas []Delta
	for range rapid.IntRange(0, 6).Draw(t, "base-edits") {
		// m's own earlier items are in the base too, so that a hostile
		// delta can send them again with other origins or text.
		id := rapid.SampledFrom([]crdt.ReplicaID{"a", "m"}).Draw(t, "base-author")
		baseDeltas = append(baseDeltas, randomEdits(t, base, id, 1, string(id))...)
	}
	dots := contextDots(base.Context())
	d := hostileDelta(t, base, dots)

	server := clone(t, base)
	before := Encode(ptr(server.DeltaSince(nil)))
	if err := server.Admit(&d, "m"); err != nil {
		if !isAdmitError(err) {
			t.Fatalf("untyped refusal: %v", err)
		}
		if string(Encode(ptr(server.DeltaSince(nil)))) != string(before) {
			t.Fatalf("refused delta changed the server")
		}
		return
	}
	// Honest concurrent edits by b on the base.
	b := clone(t, base)
	honest := randomEdits(t, b, "b", rapid.IntRange(1, 5).Draw(t, "b-edits"), "b")

	r1, r2, r3 := clone(t, base), clone(t, base), clone(t, base)
	mergeAll := func(r *Text, ds ...Delta) {
		for _, x := range ds {
			if err := r.Merge(x); err != nil {
				t.Fatalf("merge of an admitted delta: %v", err)
			}
		}
	}
	mergeAll(r1, honest...)
	mergeAll(r1, d)
	mergeAll(r2, d)
	mergeAll(r2, honest...)
	// r3 learns the hostile items from r2's state, not from the delta.
	mergeAll(r3, honest...)
	mergeAll(r3, r2.DeltaSince(r3.Context()))
	// r4 takes the hostile delta as early as its origins allow, before
	// the base edits that follow, and so before m's own earlier items if
	// the delta sends them again.
	r4, merged := New(), false
	for _, x := range append(baseDeltas, Delta{}) {
		if !merged {
			err := r4.Merge(d)
			if err != nil && !errors.Is(err, ErrMissingOrigin) {
				t.Fatalf("early merge of an admitted delta: %v", err)
			}
			merged = err == nil
		}
		mergeAll(r4, x)
	}
	mergeAll(r4, honest...)
	for i, r := range []*Text{r1, r2, r3, r4} {
		if err := r.validate(); err != nil {
			t.Fatalf("replica %d: %v", i+1, err)
		}
	}
	for i, r := range []*Text{r2, r3, r4} {
		if r.String() != r1.String() {
			t.Fatalf("replica %d has %q, replica 1 %q", i+2, r.String(), r1.String())
		}
		if string(Encode(ptr(r.DeltaSince(nil)))) != string(Encode(ptr(r1.DeltaSince(nil)))) {
			t.Fatalf("replica %d encodes otherwise than replica 1 (%q)\nhostile %+v\nhonest %+v\n1: %+v\n%d: %+v",
				i+2, r1.String(), d, honest, r1.DeltaSince(nil), i+2, r.DeltaSince(nil))
		}
	}
}

// TestAdmitHonest: clients that edit concurrently and learn each other's
// edits through a server have every edit admitted, sent one by one or
// batched as the runs the server lacks, so the rules refuse nothing honest.
func TestAdmitHonest(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		server := New()
		ids := []crdt.ReplicaID{"a", "m", "q"}
		clients := make([]*Text, len(ids))
		queued := make([][]Delta, len(ids))
		for i := range clients {
			clients[i] = New()
		}
		send := func(i int, d Delta) {
			if err := server.Admit(&d, ids[i]); err != nil {
				t.Fatalf("honest delta of %s refused: %v\n%+v", ids[i], err, d)
			}
			if err := server.Merge(d); err != nil {
				t.Fatal(err)
			}
		}
		for range rapid.IntRange(1, 40).Draw(t, "steps") {
			i := rapid.IntRange(0, len(ids)-1).Draw(t, "client")
			c := clients[i]
			switch rapid.IntRange(0, 3).Draw(t, "op") {
			case 0, 1:
				queued[i] = append(queued[i], randomEdits(t, c, ids[i], 1, "edit")...)
			case 2:
				if rapid.Bool().Draw(t, "batched") {
					// The runs of its own the server lacks and every delete
					// it made, as one delta.
					d := c.DeltaSince(server.Context())
					var own []Run
					for _, r := range d.Runs {
						if r.ID.Replica == ids[i] {
							own = append(own, r)
						}
					}
					var dead []Dead
					for _, q := range queued[i] {
						dead = append(dead, q.Deleted...)
					}
					send(i, Delta{Runs: own, Deleted: dead})
				} else {
					for _, q := range queued[i] {
						send(i, q)
					}
				}
				queued[i] = nil
			case 3:
				if err := c.Merge(server.DeltaSince(c.Context())); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
