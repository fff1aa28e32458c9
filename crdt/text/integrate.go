package text

// integrate places n new items lv.. of replica rep, whose origins are
// known, where every replica places them, and stores them. It is the
// FugueMax rule in the form diamond-types calls YjsMod: scan the items
// between the left origin and the right origin; an item whose own left
// origin lies further left ends the scan, one whose left origin is further
// right (a descendant of an item in the range) is skipped, and a sibling
// with the same left origin is ordered by its right origin, then by
// replica id.
func (t *Text) integrate(rep, lv, n int32, content string, dead bool, left, right int32) {
	c := t.tree.cursorAfter(left)
	if c.atEnd() {
		// Nothing follows the left origin: a right origin is before it.
		right = none
	} else if c.span().lv+c.off != right {
		// A right origin that breaks the order rule (only a hostile delta
		// names one) would make the scan stop where no replica typed, at a
		// place that depends on which concurrent items a replica holds.
		// Every replica orders the items alike, so each drops such a right
		// origin the same way and stores the run as typed at the end of
		// what follows its left origin.
		if right != none && !t.originsOrdered(left, right) {
			right = none
		}
		c = t.scan(c, rep, lv, left, right)
	}
	if c.atEnd() {
		t.place(c.leaf, len(c.leaf.spans), lv, n, content, dead, left, right)
		return
	}
	l, j := c.leaf, c.idx
	if c.off > 0 {
		l, j = t.tree.splitSpan(l, j, c.off)
	}
	t.place(l, j, lv, n, content, dead, left, right)
}

// scan finds where the item lv goes, starting from c, the item right after
// its left origin, which is not its right origin.
func (t *Text) scan(c cursor, rep, lv, left, right int32) cursor {
	leftPos := t.after(left)
	myRightPos := -1 // computed when first needed
	scanning := false
	var scanStart cursor
	for !c.atEnd() {
		sp := c.span()
		other := sp.lv + c.off
		if other == right {
			break
		}
		otherLeft := sp.left
		if c.off > 0 {
			otherLeft = other - 1
		}
		otherLeftPos := t.after(otherLeft)
		if otherLeftPos < leftPos {
			break
		}
		if otherLeftPos == leftPos {
			if right == sp.right {
				if t.before(rep, lv, other) {
					break
				}
				scanning = false
			} else {
				if myRightPos < 0 {
					myRightPos = t.at(right)
				}
				if t.at(sp.right) < myRightPos {
					if !scanning {
						scanning, scanStart = true, c
					}
				} else {
					scanning = false
				}
			}
		}
		// The rest of the span descends from other, so the scan skips it
		// whole, unless it holds the right origin, where the scan ends.
		// Typing never names such an item (its left origin is the item
		// before it, reached without a scan); a hostile delta may.
		if right > other && right < sp.lv+sp.n {
			c.off = right - sp.lv
			break
		}
		c.nextSpan()
	}
	if scanning {
		return scanStart
	}
	return c
}

// after returns the document position right after item lv (0 for none).
func (t *Text) after(lv int32) int {
	if lv == none {
		return 0
	}
	return t.tree.position(lv) + 1
}

// at returns the document position of item lv (the end for none).
func (t *Text) at(lv int32) int {
	if lv == none {
		return t.tree.root.all
	}
	return t.tree.position(lv)
}

// before reports whether the new item lv of replica rep goes before the
// concurrent sibling other: the lower replica id first (a replica does not
// race itself, but two runs of one replica order by counter if it does).
func (t *Text) before(rep, lv, other int32) bool {
	orep, oc := t.ids.dot(other)
	if rep != orep {
		return t.ids.replicas[rep] < t.ids.replicas[orep]
	}
	_, c := t.ids.dot(lv)
	return c < oc
}
