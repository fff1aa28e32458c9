package text

import (
	"fmt"

	"github.com/flowsync/flowsync/crdt"
)

// Anchor is a stable position: a caret that stays on its character while
// others edit. It holds the dot of the character left of the position (the
// zero Dot: the start of the text), so text inserted elsewhere, and text
// inserted right at the caret by another replica, moves it as it moves
// that character. When the character is deleted the anchor resolves to
// where it was.
type Anchor struct {
	After crdt.Dot
}

// Anchor returns the stable position of code point index pos.
func (t *Text) Anchor(pos int) (Anchor, error) {
	if pos < 0 || pos > t.Len() {
		return Anchor{}, fmt.Errorf("%w: anchor at %d in a text of %d", ErrRange, pos, t.Len())
	}
	if pos == 0 {
		return Anchor{}, nil
	}
	l, j, k := t.tree.findVisible(pos - 1)
	return Anchor{After: t.dotOf(l.spans[j].lv + k)}, nil
}

// Resolve returns the code point index of a.
func (t *Text) Resolve(a Anchor) (int, error) {
	lv, ok := t.lvOf(a.After)
	if !ok {
		return 0, fmt.Errorf("%w: %v", ErrUnknownAnchor, a.After)
	}
	if lv == none {
		return 0, nil
	}
	p := t.tree.visibleBefore(lv)
	l, j := t.tree.locate(lv)
	if !l.spans[j].dead {
		p++
	}
	return p, nil
}
