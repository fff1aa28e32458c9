package text

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt"
)

// Text is a replica of one collaborative text. The zero value is not ready
// to use; call New. A Text is not safe for concurrent use.
type Text struct {
	tree tree
	ids  ids
	// Which items are deleted the tree's spans say; pending holds the
	// deleted dots whose insert has not arrived (states may merge in any
	// order), so that it arrives deleted.
	pending crdt.Context
	// killed counts the items deleted here so far (a merge that changes
	// it deleted something: the workflow's catch-up records those).
	killed uint64
	// Slabs the deltas of local edits take their one-element slices from:
	// an edit costs a fraction of an allocation, not one. Each slice is
	// capped at its element, so appending to it copies, and a slot is
	// never written twice.
	runSlab  []Run
	deadSlab []Dead
}

const slab = 64

// runSlot returns a one-run slice for a delta.
func (t *Text) runSlot() []Run {
	if len(t.runSlab) == 0 {
		t.runSlab = make([]Run, slab)
	}
	s := t.runSlab[:1:1]
	t.runSlab = t.runSlab[1:]
	return s
}

// deadSlot returns a one-range slice for a delta.
func (t *Text) deadSlot(x Dead) []Dead {
	if len(t.deadSlab) == 0 {
		t.deadSlab = make([]Dead, slab)
	}
	s := t.deadSlab[:1:1]
	t.deadSlab = t.deadSlab[1:]
	s[0] = x
	return s
}

// New returns an empty text.
func New() *Text { return &Text{tree: newTree()} }

// Errors of the local edits, Merge, Admit and the anchors. They are wrapped
// with detail; test with errors.Is.
var (
	ErrRange         = errors.New("text: position or length out of range")
	ErrInvalidUTF8   = errors.New("text: text is not valid UTF-8")
	ErrReplica       = errors.New("text: empty replica id")
	ErrCounter       = errors.New("text: counter out of range")
	ErrBadRun        = errors.New("text: malformed run")
	ErrOverlap       = errors.New("text: runs of one delta overlap")
	ErrMissingOrigin = errors.New("text: origin is neither known nor in the delta")
	ErrOriginCycle   = errors.New("text: origins of the delta's runs form a cycle")
	ErrNoContent     = errors.New("text: run without content is not deleted")
	ErrForeignDot    = errors.New("text: delta inserts under another replica's dots")
	ErrUnknownDelete = errors.New("text: delta deletes items neither known nor in the delta")
	ErrOriginOrder   = errors.New("text: right origin is not where typing after the left origin puts it")
	ErrChangedItem   = errors.New("text: delta gives a known item other origins or text")
	ErrUnknownAnchor = errors.New("text: anchor refers to an unknown item")
)

// Len returns the number of visible code points.
func (t *Text) Len() int { return t.tree.root.vis }

// String returns the visible text.
func (t *Text) String() string {
	b := make([]byte, 0, t.Len())
	for l := t.tree.first; l != nil; l = l.next {
		for i := range l.spans {
			b = append(b, l.spans[i].content(t.tree.text)...)
		}
	}
	return string(b)
}

// IsEmpty reports whether t holds nothing: no item, and no deleted dot
// waiting for its insert. It is Context().IsEmpty() && Deleted().IsEmpty()
// without building either.
func (t *Text) IsEmpty() bool { return t.ids.next == 0 && t.pending.IsEmpty() }

// Context returns a copy of the dots of every item this replica has seen
// inserted, deleted ones included.
func (t *Text) Context() *crdt.Context { return t.ids.context() }

// Deleted returns the dots of every item known deleted.
func (t *Text) Deleted() *crdt.Context {
	c := crdt.NewContext()
	for _, x := range t.deadRanges() {
		c.AddRange(x.Replica, x.Range)
	}
	return c
}

// deadRanges returns the deleted dots sorted by replica and counter,
// coalesced.
func (t *Text) deadRanges() []Dead {
	var ds []Dead
	t.walk(func(s *span) {
		if s.dead {
			rep, c := t.ids.dot(s.lv)
			ds = append(ds, Dead{t.ids.replicas[rep], crdt.Range{Lo: c, Hi: c + uint64(s.n) - 1}})
		}
	})
	for _, r := range t.pending.Replicas() {
		for _, x := range t.pending.Ranges(r) {
			ds = append(ds, Dead{r, x})
		}
	}
	return normalizeDead(ds)
}

// normalizeDead sorts ds by replica and counter and coalesces ranges that
// overlap or touch. Input already in order (a decoder's, one edit's) is
// only coalesced; otherwise ranges are grouped by replica first, so that
// the sort compares counters, not replica ids.
func normalizeDead(ds []Dead) []Dead {
	if !slices.IsSortedFunc(ds, compareDead) {
		byReplica := make(map[crdt.ReplicaID][]crdt.Range)
		for _, x := range ds {
			byReplica[x.Replica] = append(byReplica[x.Replica], x.Range)
		}
		replicas := make([]crdt.ReplicaID, 0, len(byReplica))
		for r := range byReplica {
			replicas = append(replicas, r)
		}
		slices.Sort(replicas)
		ds = ds[:0]
		for _, r := range replicas {
			rs := byReplica[r]
			slices.SortFunc(rs, func(a, b crdt.Range) int { return cmp.Compare(a.Lo, b.Lo) })
			for _, x := range rs {
				ds = append(ds, Dead{r, x})
			}
		}
	}
	out := ds[:0]
	for _, x := range ds {
		if n := len(out); n > 0 && out[n-1].Replica == x.Replica && x.Lo-1 <= out[n-1].Hi {
			out[n-1].Hi = max(out[n-1].Hi, x.Hi)
			continue
		}
		out = append(out, x)
	}
	return out
}

func compareDead(a, b Dead) int {
	if c := cmp.Compare(a.Replica, b.Replica); c != 0 {
		return c
	}
	return cmp.Compare(a.Lo, b.Lo)
}

// dotOf returns the dot of item lv, the zero Dot for none.
func (t *Text) dotOf(lv int32) crdt.Dot {
	if lv == none {
		return crdt.Dot{}
	}
	rep, c := t.ids.dot(lv)
	return crdt.Dot{Replica: t.ids.replicas[rep], Counter: c}
}

// lvOf returns the item of dot d, none for the zero Dot, and whether d is
// the zero Dot or known.
func (t *Text) lvOf(d crdt.Dot) (int32, bool) {
	if d == (crdt.Dot{}) {
		return none, true
	}
	lv := t.ids.lookup(d.Replica, d.Counter)
	return lv, lv != none
}

// Insert inserts s at code point index pos as replica's next writes: its
// items take the counters after the greatest one of replica this text has
// seen. It returns the delta to send to the other replicas.
func (t *Text) Insert(replica crdt.ReplicaID, pos int, s string) (Delta, error) {
	switch {
	case replica == "":
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
	rep := t.ids.replicaIndex(replica)
	counter := t.ids.maxCounter(rep) + 1
	if uint64(n) > crdt.MaxCounter-counter+1 || n > maxItems-int(t.ids.next) {
		return Delta{}, fmt.Errorf("%w: %d items after counter %d", ErrCounter, n, counter-1)
	}
	left, right := none, none
	l, j := t.tree.first, 0
	if pos > 0 {
		var k int32
		l, j, k = t.tree.findVisible(pos - 1)
		sp := &l.spans[j]
		left = sp.lv + k
		if k+1 < sp.n {
			right = left + 1
			l, j = t.tree.splitSpan(l, j, k+1)
		} else {
			c := cursor{leaf: l, idx: j + 1}
			if !c.atEnd() {
				right = c.span().lv + c.off
			}
			j++
		}
	} else if len(l.spans) > 0 {
		right = l.spans[0].lv
	}
	lv := t.ids.add(rep, counter, int32(n))
	t.place(l, j, lv, int32(n), s, false, left, right)
	// Field by field: assigning a whole Run literal copies it with a bulk
	// write barrier, which looks up the slab's heap object on every edit
	// while the collector runs.
	runs := t.runSlot()
	r := &runs[0]
	r.ID.Replica, r.ID.Counter = replica, counter
	r.Len, r.Text = n, s
	r.Left, r.Right = t.dotOf(left), t.dotOf(right)
	return Delta{Runs: runs}, nil
}

// maxItems bounds the items one replica holds, deleted ones included, so
// that local versions fit an int32.
const maxItems = 1<<31 - 1

// place puts n new items lv.. (the items ids.add gave out last) with the
// given origins at span index j of leaf l (j may be len(l.spans)),
// extending the span before them when they continue it. Items that arrive
// deleted have no content.
func (t *Text) place(l *node, j int, lv, n int32, content string, dead bool, left, right int32) {
	if j == 0 && l.prev != nil {
		l, j = l.prev, len(l.prev.spans)
	}
	if j > 0 {
		p := &l.spans[j-1]
		if p.dead == dead && p.lv+p.n == lv && left == lv-1 && right == p.right && t.ids.continuesLast(lv) {
			p.n += n
			if !dead {
				t.tree.extend(p, content)
			}
			t.tree.note(l, n)
			if dead {
				t.tree.bump(l, 0, int(n))
			} else {
				t.tree.bump(l, int(n), int(n))
			}
			return
		}
	}
	s := span{lv: lv, n: n, left: left, right: right, dead: dead}
	if !dead {
		s.off, s.size = t.tree.appendText(content), uint32(len(content))
	}
	t.tree.insertSpan(l, j, s)
}

// Delete deletes n code points from index pos and returns the delta to send
// to the other replicas: the dots of the deleted items.
func (t *Text) Delete(pos, n int) (Delta, error) {
	if pos < 0 || n < 0 || n > t.Len()-pos {
		return Delta{}, fmt.Errorf("%w: delete %d at %d in a text of %d", ErrRange, n, pos, t.Len())
	}
	var d Delta
	for n > 0 {
		l, j, k := t.tree.findVisible(pos)
		sp := &l.spans[j]
		m := min(int32(n), sp.n-k)
		rep, c := t.ids.dot(sp.lv + k)
		r := crdt.Range{Lo: c, Hi: c + uint64(m) - 1}
		if d.Deleted == nil {
			d.Deleted = t.deadSlot(Dead{t.ids.replicas[rep], r})
		} else {
			d.Deleted = append(d.Deleted, Dead{t.ids.replicas[rep], r})
		}
		t.kill(l, j, k, m)
		n -= int(m)
	}
	t.tree.compact()
	d.Deleted = normalizeDead(d.Deleted)
	return d, nil
}

// kill deletes items k..k+m-1 (m > 0) of span j of leaf l, which is
// visible. Deleting the end of a span that a dead span continuing it
// follows (backspacing over text typed in one run), or the start of one
// that a dead span it continues precedes, moves the items into that dead
// span: no split, no join, no span moved in the leaf.
func (t *Text) kill(l *node, j int, k, m int32) {
	sp := &l.spans[j]
	switch {
	case k > 0 && k+m == sp.n && j+1 < len(l.spans):
		if next := &l.spans[j+1]; next.dead && t.continues(sp, next) {
			off := sp.byteOffset(t.tree.text, k)
			t.tree.garbage += int(sp.size - off)
			sp.size, sp.n = off, k
			next.lv -= m
			next.n += m
			next.left = next.lv - 1
			t.tree.bump(l, -int(m), 0)
			return
		}
	case k == 0 && m < sp.n && j > 0:
		if prev := &l.spans[j-1]; prev.dead && t.continues(prev, sp) {
			off := sp.byteOffset(t.tree.text, m)
			t.tree.garbage += int(off)
			sp.off, sp.size = sp.off+off, sp.size-off
			prev.n += m
			sp.lv += m
			sp.n -= m
			sp.left = sp.lv - 1
			t.tree.bump(l, -int(m), 0)
			return
		}
	}
	if k > 0 {
		l, j = t.tree.splitSpan(l, j, k)
		sp = &l.spans[j]
	}
	if m < sp.n {
		lv := sp.lv
		t.tree.splitSpan(l, j, m)
		l, j = t.tree.locate(lv)
	}
	t.tree.setDead(l, j)
	t.joinAround(l, j)
}

// joinAround merges span j of leaf l with its neighbours in l where one
// continues the other, so that deleting a run piece by piece leaves one
// dead span rather than many.
func (t *Text) joinAround(l *node, j int) {
	if j+1 < len(l.spans) && t.joinable(&l.spans[j], &l.spans[j+1]) {
		t.join(l, j)
	}
	if j > 0 && t.joinable(&l.spans[j-1], &l.spans[j]) {
		t.join(l, j-1)
	}
}

func (t *Text) joinable(a, b *span) bool { return a.dead == b.dead && t.continues(a, b) }

// continues reports whether span b holds the items that follow a's in one
// run: one span could hold both, were they both deleted or both visible.
func (t *Text) continues(a, b *span) bool {
	return b.lv == a.lv+a.n && b.left == b.lv-1 && b.right == a.right && t.ids.sameRun(b.lv-1, b.lv)
}

// join merges span j+1 of l into span j.
func (t *Text) join(l *node, j int) {
	a, b := &l.spans[j], &l.spans[j+1]
	a.n += b.n
	if !a.dead {
		if a.off+a.size != b.off {
			// Not neighbours in the arena: copy both to its end.
			off := uint32(len(t.tree.text))
			t.tree.text = append(t.tree.text, a.content(t.tree.text)...)
			t.tree.text = append(t.tree.text, b.content(t.tree.text)...)
			t.tree.garbage += int(a.size + b.size)
			a.off = off
		}
		a.size += b.size
	}
	l.spans = append(l.spans[:j+1], l.spans[j+2:]...)
}
