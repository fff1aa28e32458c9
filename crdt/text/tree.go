package text

import "unicode/utf8"

// none stands for "no item": the start of the document as a left origin, its
// end as a right origin.
const none int32 = -1

// span is a piece of one run: items with consecutive local versions (and so
// consecutive counters of one replica) that sit next to each other in the
// document and are all deleted or all visible. Item k of the span has the
// local version lv+k; its left origin is the item before it (lv+k-1) for
// k > 0 and left for k = 0; every item's right origin is right.
type span struct {
	lv, n       int32
	left, right int32
	// The UTF-8 text of a visible span is tree.text[off : off+size]; a
	// dead span keeps none (size 0). Offsets rather than a slice keep
	// spans free of pointers: leaves are then plain memory that the
	// garbage collector need not scan, and moving spans needs no write
	// barriers.
	off, size uint32
	dead      bool
}

func (s *span) vis() int {
	if s.dead {
		return 0
	}
	return int(s.n)
}

// content returns the span's text in the arena.
func (s *span) content(text []byte) []byte { return text[s.off : s.off+s.size] }

// byteOffset returns the byte offset of code point k of the content.
func (s *span) byteOffset(text []byte, k int32) uint32 {
	if s.size == uint32(s.n) { // ASCII: one byte per code point
		return uint32(k)
	}
	c := s.content(text)
	off := 0
	for ; k > 0; k-- {
		_, size := utf8.DecodeRune(c[off:])
		off += size
	}
	return uint32(off)
}

// splitAt cuts s at item k (0 < k < n) and returns the second piece; s keeps
// the first. Both keep their bytes where they are in the arena.
func (s *span) splitAt(text []byte, k int32) span {
	b := span{lv: s.lv + k, n: s.n - k, left: s.lv + k - 1, right: s.right, dead: s.dead}
	if !s.dead {
		off := s.byteOffset(text, k)
		b.off, b.size = s.off+off, s.size-off
		s.size = off
	}
	s.n = k
	return b
}

// Tree shape: leaves hold up to maxSpans spans, inner nodes up to maxKids
// children. Nodes split in halves when they overflow and are never merged:
// spans only ever split or grow, so leaves never empty. Variables only so
// that tests can shrink them to exercise splits.
var (
	maxSpans   = 32
	maxKids    = 32
	compactMin = 1 << 14 // bytes of garbage below which compact waits
)

// node is a B-tree node. Each node knows how many items it covers (all,
// deleted included) and how many of them are visible (vis): descending by
// vis finds an index, summing left siblings on the way up gives a position.
type node struct {
	parent     *node
	kids       []*node // inner nodes
	spans      []span  // leaves
	prev, next *node   // leaves, in document order
	vis, all   int
	leaf       bool
	id         int32 // leaves: its number in tree.leaves
}

// bump adds to the counts of n and its ancestors.
func (n *node) bump(dvis, dall int) {
	for ; n != nil; n = n.parent {
		n.vis += dvis
		n.all += dall
	}
}

// childIndex returns the index of c among n's children.
func (n *node) childIndex(c *node) int {
	for i, k := range n.kids {
		if k == c {
			return i
		}
	}
	panic("text: node is not a child of its parent")
}

// cursor points at item off of span idx of a leaf; idx == len(spans) (with
// leaf.next == nil) is the end of the document.
type cursor struct {
	leaf *node
	idx  int
	off  int32
}

func (c *cursor) span() *span { return &c.leaf.spans[c.idx] }

// atEnd reports whether c is past the last item, rolling it onto the next
// leaf first when it is past the end of its own.
func (c *cursor) atEnd() bool {
	for c.idx >= len(c.leaf.spans) {
		if c.leaf.next == nil {
			return true
		}
		c.leaf, c.idx, c.off = c.leaf.next, 0, 0
	}
	return false
}

// nextSpan moves c to the first item of the next span.
func (c *cursor) nextSpan() { c.idx, c.off = c.idx+1, 0 }

// tree is the index over the document's spans.
type tree struct {
	root  *node
	first *node // leftmost leaf
	// leafOf maps every local version to the leaf holding its item, so an
	// item is found from its id without a search.
	// It holds leaf numbers, not pointers, so that the garbage collector
	// need not scan it.
	leafOf leafTable
	leaves []*node // by number
	// text is the arena of the visible spans' bytes: new text is
	// appended, and garbage counts the bytes no span uses any more
	// (deleted or copied away), which compact drops.
	text    []byte
	garbage int
	// hot is the leaf findVisible last descended to and hotStart the
	// visible items before it: an edit usually lands near the one before,
	// so findVisible looks there before descending from the root. The pair
	// stays true while only hot's own visible count changes (bump forgets
	// it otherwise; a leaf split keeps it: it moves items to a new leaf
	// after the one split, leaving every leaf's start where it was).
	hot      *node
	hotStart int
}

// bump adds to the counts of leaf l and its ancestors.
func (t *tree) bump(l *node, dvis, dall int) {
	if dvis != 0 && l != t.hot {
		t.hot = nil
	}
	l.bump(dvis, dall)
}

// appendText stores s at the end of the arena and returns its offset.
func (t *tree) appendText(s string) uint32 {
	off := len(t.text)
	t.reserve(len(s))
	t.text = append(t.text, s...)
	return uint32(off)
}

// reserve makes room for n more bytes at the end of the arena, doubling
// it when full: append grows a large slice by a quarter at a time, and
// copied the arena several times over while a long text was typed.
func (t *tree) reserve(n int) {
	if len(t.text)+n <= cap(t.text) {
		return
	}
	text := make([]byte, len(t.text), max(2*cap(t.text), len(t.text)+n, 64))
	copy(text, t.text)
	t.text = text
}

// extend appends s to the content of span sp, in place when the span's
// bytes end the arena (typing at the end of the last run), else after
// moving them to the end.
func (t *tree) extend(sp *span, s string) {
	if int(sp.off+sp.size) != len(t.text) {
		off := uint32(len(t.text))
		t.reserve(int(sp.size) + len(s))
		t.text = append(t.text, sp.content(t.text)...)
		t.garbage += int(sp.size)
		sp.off = off
	}
	t.reserve(len(s))
	t.text = append(t.text, s...)
	sp.size += uint32(len(s))
}

// compact drops the garbage from the arena once it outweighs what is used,
// so deleted text is not kept: the cost is amortized over the deletes that
// made the garbage.
func (t *tree) compact() {
	if t.garbage < compactMin || t.garbage < len(t.text)/2 {
		return
	}
	text := make([]byte, 0, len(t.text)-t.garbage+len(t.text)/4)
	for l := t.first; l != nil; l = l.next {
		for i := range l.spans {
			s := &l.spans[i]
			if s.size > 0 {
				off := uint32(len(text))
				text = append(text, s.content(t.text)...)
				s.off = off
			}
		}
	}
	t.text, t.garbage = text, 0
}

func newTree() tree {
	l := &node{leaf: true}
	return tree{root: l, first: l, leaves: []*node{l}}
}

// leafAt returns the leaf holding item lv.
func (t *tree) leafAt(lv int32) *node { return t.leaves[t.leafOf.at(lv)] }

// note records that n new items, the next local versions, live in leaf l.
func (t *tree) note(l *node, n int32) {
	t.leafOf.push(n, l.id)
}

// findVisible returns the span holding visible item i (0 ≤ i < root.vis) and
// the item's offset in it.
func (t *tree) findVisible(i int) (*node, int, int32) {
	var n *node
	if h := t.hot; h != nil && i >= t.hotStart && i < t.hotStart+h.vis {
		n, i = h, i-t.hotStart
	} else {
		pos := i
		n = t.root
		for !n.leaf {
			for _, k := range n.kids {
				if i < k.vis {
					n = k
					break
				}
				i -= k.vis
			}
		}
		t.hot, t.hotStart = n, pos-i
	}
	for j := range n.spans {
		s := &n.spans[j]
		if !s.dead {
			if i < int(s.n) {
				return n, j, int32(i)
			}
			i -= int(s.n)
		}
	}
	panic("text: visible index out of range")
}

// locate returns the leaf and span index holding item lv.
func (t *tree) locate(lv int32) (*node, int) {
	l := t.leafAt(lv)
	for j := range l.spans {
		s := &l.spans[j]
		if lv >= s.lv && lv < s.lv+s.n {
			return l, j
		}
	}
	panic("text: item not in its leaf")
}

// position returns the number of items, deleted ones included, before item
// lv: its place in the document order.
func (t *tree) position(lv int32) int {
	l, j := t.locate(lv)
	p := int(lv - l.spans[j].lv)
	for k := 0; k < j; k++ {
		p += int(l.spans[k].n)
	}
	return p + t.before(l, func(n *node) int { return n.all })
}

// visibleBefore returns the number of visible items before item lv.
func (t *tree) visibleBefore(lv int32) int {
	l, j := t.locate(lv)
	p := 0
	if !l.spans[j].dead {
		p = int(lv - l.spans[j].lv)
	}
	for k := 0; k < j; k++ {
		p += l.spans[k].vis()
	}
	return p + t.before(l, func(n *node) int { return n.vis })
}

// before sums count over the nodes left of n on the way up to the root.
func (t *tree) before(n *node, count func(*node) int) int {
	p := 0
	for n.parent != nil {
		par := n.parent
		for _, k := range par.kids {
			if k == n {
				break
			}
			p += count(k)
		}
		n = par
	}
	return p
}

// cursorAfter returns a cursor on the item right after lv (none: the first
// item).
func (t *tree) cursorAfter(lv int32) cursor {
	if lv == none {
		return cursor{leaf: t.first}
	}
	l, j := t.locate(lv)
	off := lv - l.spans[j].lv + 1
	if off == l.spans[j].n {
		return cursor{leaf: l, idx: j + 1}
	}
	return cursor{leaf: l, idx: j, off: off}
}

// insertSpan puts s into leaf l at span index j, records its items' leaf and
// splits l if it overflows. s's local versions must be the next unused ones.
func (t *tree) insertSpan(l *node, j int, s span) {
	l.spans = append(l.spans, span{})
	copy(l.spans[j+1:], l.spans[j:])
	l.spans[j] = s
	t.note(l, s.n)
	t.bump(l, s.vis(), int(s.n))
	if len(l.spans) > maxSpans {
		t.splitLeaf(l)
	}
}

// splitSpan cuts span j of leaf l at item k (0 < k < n), keeping both pieces
// in l (which may then split). It returns the leaf and index of the second
// piece.
func (t *tree) splitSpan(l *node, j int, k int32) (*node, int) {
	b := l.spans[j].splitAt(t.text, k)
	l.spans = append(l.spans, span{})
	copy(l.spans[j+2:], l.spans[j+1:])
	l.spans[j+1] = b
	if len(l.spans) > maxSpans {
		if nl := t.splitLeaf(l); j+1 >= len(l.spans) {
			return nl, j + 1 - len(l.spans)
		}
	}
	return l, j + 1
}

// splitLeaf moves the second half of l's spans to a new leaf after it and
// returns the new leaf.
func (t *tree) splitLeaf(l *node) *node {
	half := len(l.spans) / 2
	nl := &node{leaf: true, prev: l, next: l.next, id: int32(len(t.leaves))}
	t.leaves = append(t.leaves, nl)
	nl.spans = make([]span, len(l.spans)-half, maxSpans+1)
	copy(nl.spans, l.spans[half:])
	clear(l.spans[half:])
	l.spans = l.spans[:half]
	if l.next != nil {
		l.next.prev = nl
	}
	l.next = nl
	for _, s := range nl.spans {
		nl.vis += s.vis()
		nl.all += int(s.n)
		t.leafOf.set(s.lv, s.lv+s.n, nl.id)
	}
	l.vis -= nl.vis
	l.all -= nl.all
	t.addSibling(l, nl)
	return nl
}

// addSibling inserts nl right after n in n's parent, whose counts already
// include nl's (they were n's), splitting the parent when it overflows.
func (t *tree) addSibling(n, nl *node) {
	par := n.parent
	if par == nil {
		par = &node{kids: make([]*node, 0, maxKids+1), vis: n.vis + nl.vis, all: n.all + nl.all}
		par.kids = append(par.kids, n)
		n.parent = par
		t.root = par
	}
	i := par.childIndex(n)
	par.kids = append(par.kids, nil)
	copy(par.kids[i+2:], par.kids[i+1:])
	par.kids[i+1] = nl
	nl.parent = par
	if len(par.kids) <= maxKids {
		return
	}
	half := len(par.kids) / 2
	np := &node{kids: make([]*node, len(par.kids)-half, maxKids+1)}
	copy(np.kids, par.kids[half:])
	clear(par.kids[half:])
	par.kids = par.kids[:half]
	for _, k := range np.kids {
		k.parent = np
		np.vis += k.vis
		np.all += k.all
	}
	par.vis -= np.vis
	par.all -= np.all
	t.addSibling(par, np)
}

// setDead marks span j of leaf l deleted, dropping its content.
func (t *tree) setDead(l *node, j int) {
	s := &l.spans[j]
	if s.dead {
		return
	}
	t.bump(l, -int(s.n), 0)
	t.garbage += int(s.size)
	s.dead, s.off, s.size = true, 0, 0
}
