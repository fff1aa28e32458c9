package workflow

import "github.com/flowsync/flowsync/crdt"

// The container tree. Every operation, every check and the view read a
// block's parent through tree.parent, so what an operation does to "a
// container and its children" is exactly what the view shows as that
// container and its children.
//
// The stored parentId pointers form a functional graph: each block points at
// one parent at most, so each connected part of it holds at most one cycle
// (concurrent moves l1→l2 and l2→l1 make one). The effective parent of a
// block is its stored parent, except:
//
//   - Rule (orphans): the stored parent is not a live block, or not a loop or
//     parallel container, or the pointer was written before the parent's
//     winning add (it joined an earlier or a losing record of that id, as
//     incarnation.go says of values). The block is top-level. A block moved into, or
//     added to, a container another replica removed concurrently therefore
//     stays visible with its values and its name; its position, stored
//     relative to the old container, is read as a canvas position.
//   - Rule (move cycles): the block's parent pointer is the newest (hybrid
//     time, then dot, then block id) of the pointers on a cycle. The block is
//     top-level; every other block on the cycle keeps its stored parent.
//
// Both rules are local: a block's effective parent follows from the walk up
// its stored parents, O(depth + cycle length), with no depth cap and no
// global sort; a tree memoizes what a walk learns so a whole view costs one
// visit per block.

// parentLinks reads stored parent pointers.
type parentLinks interface {
	// link returns id's stored parent with the stamp of the write that set
	// it; ok is false when id has none or the orphan rule makes it
	// top-level.
	link(id string) (parent string, at stamp, ok bool)
}

// tree resolves effective parents over parentLinks, memoizing each walk.
// It reads a fixed state: make a new one after writing a parentId or a
// block's membership.
type tree struct {
	links  parentLinks
	parent map[string]string // effective parent; "" at top level
	path   []step            // reused by resolve
}

func newTree(l parentLinks) *tree { return &tree{links: l, parent: make(map[string]string)} }

// treeOf returns the tree of what r reads.
func treeOf(r reader) *tree { return newTree(readerLinks{r}) }

// parentOf returns the effective parent of block id, "" at the top level.
func (t *tree) parentOf(id string) string {
	if p, ok := t.parent[id]; ok {
		return p
	}
	t.resolve(id)
	return t.parent[id]
}

// step is one block on a walk up the stored pointers.
type step struct {
	id, parent string
	at         stamp
}

// resolve walks up from id until a top-level block, a block already
// resolved, or a block seen twice (a cycle), and records the effective
// parent of every block on the way.
func (t *tree) resolve(id string) {
	path := t.path[:0]
	var index map[string]int // built once the path is long
	cycle := -1
	for cur := id; ; {
		if _, done := t.parent[cur]; done {
			break
		}
		if i := findStep(path, index, cur); i >= 0 {
			cycle = i
			break
		}
		p, at, ok := t.links.link(cur)
		if !ok {
			p = ""
		}
		path = append(path, step{cur, p, at})
		if len(path) > 16 {
			if index == nil {
				index = make(map[string]int, 2*len(path))
				for i, s := range path {
					index[s.id] = i
				}
			}
			index[cur] = len(path) - 1
		}
		if !ok {
			break
		}
		cur = p
	}
	if cycle >= 0 {
		cut := cycle
		for i := cycle + 1; i < len(path); i++ {
			if newerLink(path[i], path[cut]) {
				cut = i
			}
		}
		path[cut].parent = ""
	}
	for _, s := range path {
		t.parent[s.id] = s.parent
	}
	t.path = path
}

func findStep(path []step, index map[string]int, id string) int {
	if index != nil {
		if i, ok := index[id]; ok {
			return i
		}
		return -1
	}
	for i := range path {
		if path[i].id == id {
			return i
		}
	}
	return -1
}

// newerLink orders the pointers on a cycle: hybrid time, then dot, then
// block id.
func newerLink(a, b step) bool {
	if c := a.at.compare(b.at); c != 0 {
		return c > 0
	}
	return a.id > b.id
}

// contains reports whether anc is id or one of its effective ancestors.
func (t *tree) contains(anc, id string) bool {
	for p := id; p != ""; p = t.parentOf(p) {
		if p == anc {
			return true
		}
	}
	return false
}

// protected reports whether id or an effective ancestor is locked.
func (t *tree) protected(r reader, id string) bool {
	for p := id; p != ""; p = t.parentOf(p) {
		if isLocked(r, p) {
			return true
		}
	}
	return false
}

// readerLinks reads the stored pointers of a document or an operation's
// view of it.
type readerLinks struct{ r reader }

func (l readerLinks) link(id string) (string, stamp, bool) {
	w, ok := l.r.winner(fieldKey(id, FieldParentID))
	if !ok {
		return "", stamp{}, false
	}
	p := w.Value.Value.asString()
	if p == "" || !blockExists(l.r, p) || !IsContainer(blockType(l.r, p)) {
		return "", stamp{}, false
	}
	if inc, ok := l.r.winner(blockKey(p)); ok && predates(w, stampOfEntry(inc)) {
		return "", stamp{}, false // joined an earlier or a losing record of p
	}
	return p, stampOf(w), true
}

// effectiveParent returns block id's effective parent in r, "" at the top
// level. Operations that ask about many blocks share one tree instead.
func effectiveParent(r reader, id string) string { return treeOf(r).parentOf(id) }

// staleCut returns the blocks whose stored pointer would close a cycle
// through id if id now pointed at parent: the walk up the stored pointers
// from parent reaches id only through a cycle's cut block (whose stored
// parent is not its effective one). Without clearing those pointers the
// cycle rule would cut id's new pointer, the newest on the cycle, and undo
// the move.
func staleCut(r reader, t *tree, id, parent string) []string {
	links := readerLinks{r}
	seen := map[string]bool{}
	var cuts []string
	for cur := parent; !seen[cur]; {
		seen[cur] = true
		if cur == id {
			return cuts
		}
		p, _, ok := links.link(cur)
		if !ok {
			return nil
		}
		if t.parentOf(cur) != p {
			cuts = append(cuts, cur)
		}
		cur = p
	}
	return nil
}

// winner returns the winning entry under k as the operation sees it, if it
// belongs to the current incarnation of its element (incarnation.go).
func (b *builder) winner(k Key) (crdt.Dotted[Cell], bool) { return current(b, k) }
