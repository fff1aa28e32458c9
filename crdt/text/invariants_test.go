package text

import (
	"fmt"
	"unicode/utf8"
)

// validate checks the tree's bookkeeping: counts, parents, leaf links, the
// item-to-leaf table and the spans' content.
func (t *Text) validate() error {
	var check func(n *node, depth int) (int, int, int, error)
	leafDepth := -1
	used := 0
	check = func(n *node, depth int) (vis, all, leaves int, err error) {
		if n.leaf {
			if leafDepth >= 0 && depth != leafDepth {
				return 0, 0, 0, fmt.Errorf("leaves at depths %d and %d", leafDepth, depth)
			}
			leafDepth = depth
			for _, s := range n.spans {
				if s.n <= 0 {
					return 0, 0, 0, fmt.Errorf("empty span")
				}
				if s.dead && s.size != 0 {
					return 0, 0, 0, fmt.Errorf("dead span keeps content")
				}
				if c := s.content(t.tree.text); !s.dead && utf8.RuneCount(c) != int(s.n) {
					return 0, 0, 0, fmt.Errorf("span of %d items holds %d code points", s.n, utf8.RuneCount(c))
				}
				used += int(s.size)
				if t.ids.runEnd(s.lv) < s.lv+s.n {
					return 0, 0, 0, fmt.Errorf("span %d+%d crosses a run of ids", s.lv, s.n)
				}
				for lv := s.lv; lv < s.lv+s.n; lv++ {
					if t.tree.leafAt(lv) != n {
						return 0, 0, 0, fmt.Errorf("item %d: wrong leaf", lv)
					}
				}
				vis += s.vis()
				all += int(s.n)
			}
			if len(n.spans) > maxSpans {
				return 0, 0, 0, fmt.Errorf("leaf of %d spans", len(n.spans))
			}
			leaves = 1
		} else {
			if len(n.kids) == 0 || len(n.kids) > maxKids {
				return 0, 0, 0, fmt.Errorf("inner node of %d children", len(n.kids))
			}
			for _, k := range n.kids {
				if k.parent != n {
					return 0, 0, 0, fmt.Errorf("bad parent link")
				}
				v, a, lv, err := check(k, depth+1)
				if err != nil {
					return 0, 0, 0, err
				}
				vis, all, leaves = vis+v, all+a, leaves+lv
			}
		}
		if vis != n.vis || all != n.all {
			return 0, 0, 0, fmt.Errorf("node counts %d/%d, children sum to %d/%d", n.vis, n.all, vis, all)
		}
		return vis, all, leaves, nil
	}
	_, all, leaves, err := check(t.tree.root, 0)
	if err != nil {
		return err
	}
	if all != int(t.ids.next) || t.tree.leafOf.n != all {
		return fmt.Errorf("%d items in the tree, %d ids, %d leaf entries", all, t.ids.next, t.tree.leafOf.n)
	}
	if used+t.tree.garbage != len(t.tree.text) {
		return fmt.Errorf("text arena of %d bytes: %d used, %d garbage", len(t.tree.text), used, t.tree.garbage)
	}
	chained := 0
	var prev *node
	for l := t.tree.first; l != nil; l = l.next {
		if l.prev != prev {
			return fmt.Errorf("bad prev link")
		}
		prev = l
		chained++
	}
	if chained != leaves {
		return fmt.Errorf("%d leaves chained, %d in the tree", chained, leaves)
	}
	if want := t.Context().IsEmpty() && t.Deleted().IsEmpty(); t.IsEmpty() != want {
		return fmt.Errorf("IsEmpty is %v, the contexts say %v", t.IsEmpty(), want)
	}
	if h := t.tree.hot; h != nil {
		start := 0
		for l := t.tree.first; l != h; l = l.next {
			if l == nil {
				return fmt.Errorf("findVisible's cached leaf is not in the tree")
			}
			start += l.vis
		}
		if start != t.tree.hotStart {
			return fmt.Errorf("findVisible's cached leaf starts at %d, cache says %d", start, t.tree.hotStart)
		}
	}
	return nil
}
