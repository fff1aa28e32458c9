package text

import (
	"fmt"
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt"
)

// PlanInsert returns the delta that inserting s at code point index pos
// under the dots id, id+1, … would produce, without changing t: an
// embedding document mints the dots from its own counters and merges the
// delta later (or never). id's counter must be past every counter of its
// replica t holds, as a fresh dot is.
func (t *Text) PlanInsert(id crdt.Dot, pos int, s string) (Delta, error) {
	switch {
	case id.Replica == "":
		return Delta{}, ErrReplica
	case pos < 0 || pos > t.Len():
		return Delta{}, fmt.Errorf("%w: insert at %d in a text of %d", ErrRange, pos, t.Len())
	case !utf8.ValidString(s):
		return Delta{}, ErrInvalidUTF8
	}
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return Delta{}, nil
	}
	if rep, ok := t.ids.repOf(id.Replica); id.Counter == 0 || ok && id.Counter <= t.ids.maxCounter(rep) {
		return Delta{}, fmt.Errorf("%w: counter %d of %q is not fresh", ErrCounter, id.Counter, id.Replica)
	}
	if uint64(n) > crdt.MaxCounter-id.Counter+1 || n > maxItems-int(t.ids.next) {
		return Delta{}, fmt.Errorf("%w: %d items after counter %d", ErrCounter, n, id.Counter-1)
	}
	left, right := none, none
	if pos > 0 {
		l, j, k := t.tree.findVisible(pos - 1)
		sp := &l.spans[j]
		left = sp.lv + k
		if k+1 < sp.n {
			right = left + 1
		} else if c := (cursor{leaf: l, idx: j + 1}); !c.atEnd() {
			right = c.span().lv
		}
	} else if c := (cursor{leaf: t.tree.first}); !c.atEnd() {
		right = c.span().lv
	}
	return Delta{Runs: []Run{{ID: id, Len: n, Text: s, Left: t.dotOf(left), Right: t.dotOf(right)}}}, nil
}

// PlanDelete returns the delta that deleting n code points from index pos
// would produce (the dots of those items), without changing t.
func (t *Text) PlanDelete(pos, n int) (Delta, error) {
	if pos < 0 || n < 0 || n > t.Len()-pos {
		return Delta{}, fmt.Errorf("%w: delete %d at %d in a text of %d", ErrRange, n, pos, t.Len())
	}
	if n == 0 {
		return Delta{}, nil
	}
	var d Delta
	l, j, k := t.tree.findVisible(pos)
	c := cursor{leaf: l, idx: j, off: k}
	for n > 0 && !c.atEnd() {
		sp := c.span()
		if !sp.dead {
			m := min(int32(n), sp.n-c.off)
			rep, ctr := t.ids.dot(sp.lv + c.off)
			d.Deleted = append(d.Deleted, Dead{t.ids.replicas[rep], crdt.Range{Lo: ctr, Hi: ctr + uint64(m) - 1}})
			n -= int(m)
		}
		c.nextSpan()
	}
	d.Deleted = normalizeDead(d.Deleted)
	return d, nil
}

// Knows reports whether t holds the item with dot d (deleted or not). The
// zero Dot, the start or end of the text, is always known.
func (t *Text) Knows(d crdt.Dot) bool {
	return d == (crdt.Dot{}) || t.ids.knows(d)
}

// Unknown returns the pieces of r whose items t does not hold, each a run
// of its own (a piece after the first takes the item before it as its left
// origin, as every item of a run does).
func (t *Text) Unknown(r Run) []Run {
	if _, ok := t.ids.repOf(r.ID.Replica); !ok {
		return []Run{r}
	}
	var out []Run
	lo, hi := r.ID.Counter, r.last().Counter
	for c := lo; c <= hi; {
		klo, khi, ok := t.ids.knownFrom(r.ID.Replica, c)
		if !ok || klo > hi {
			out = append(out, CutRun(r, c, hi))
			break
		}
		if klo > c {
			out = append(out, CutRun(r, c, klo-1))
		}
		if khi >= hi {
			break
		}
		c = khi + 1
	}
	return out
}

// CutRun returns the items lo..hi (counters, within r) of r as a run.
func CutRun(r Run, lo, hi uint64) Run {
	out := Run{ID: crdt.Dot{Replica: r.ID.Replica, Counter: lo}, Len: int(hi - lo + 1), Left: r.Left, Right: r.Right}
	if lo > r.ID.Counter {
		out.Left = crdt.Dot{Replica: r.ID.Replica, Counter: lo - 1}
	}
	if r.Text != "" {
		from := advance(r.Text, 0, lo-r.ID.Counter)
		to := advance(r.Text, from, hi-lo+1)
		out.Text = r.Text[from:to]
	}
	return out
}

// Continues reports whether b continues a: one run split in two (same
// replica, next counter, b typed after a's last item, the same right
// origin, both with or both without content). Encode writes such a pair as
// one run.
func Continues(a, b *Run) bool { return continues(a, b) }

// Last returns the dot of the run's last item.
func (r *Run) Last() crdt.Dot { return r.last() }

// Clone returns an independent copy of t.
func (t *Text) Clone() *Text {
	c := New()
	if err := c.Merge(t.DeltaSince(nil)); err != nil {
		panic(fmt.Sprintf("text: a state does not merge into an empty text: %v", err))
	}
	return c
}

// NumSpans returns how many pieces t's items are held in: at least the
// runs a whole-state delta of t has (DeltaSince(nil) folds some), so a
// bound on it bounds them.
func (t *Text) NumSpans() int {
	n := 0
	t.walk(func(*span) { n++ })
	return n
}
