package workflow

// The view's container tree: the rules of tree.go (orphans, move cycles)
// applied to the view's block accumulators, with each block's walk state
// kept in its accumulator instead of in maps keyed by id, so that
// resolving every block of a view costs one lookup per stored parent
// pointer. checkTree (tests) holds every view to Parent, which reads the
// same rules through tree.

// walkState is how far resolving a block's effective parent has got.
type walkState uint8

const (
	unresolved walkState = iota
	onPath               // on the walk being resolved, at pathAt
	resolved             // parent is its effective parent
)

// viewStep is one block on a walk up the stored pointers.
type viewStep struct {
	a *blockAcc
	s step
}

// viewTree resolves the effective parents of a view's blocks.
type viewTree struct {
	blocks map[string]*blockAcc
	path   []viewStep // reused by resolve
}

// link returns the stored parent of the block whose accumulator is a, its
// accumulator and the stamp of the pointer's write; ok is false when the
// block has none or the orphan rule makes it top-level (the parent is not
// a live container, or the pointer predates the parent's winning add).
func (t *viewTree) link(a *blockAcc) (string, *blockAcc, stamp, bool) {
	p := a.field(FieldParentID).stringBytes() // looked up without a copy
	if len(p) == 0 {
		return "", nil, stamp{}, false
	}
	pa := t.blocks[string(p)]
	if pa == nil || !pa.member || !isContainerValue(pa.field(FieldType)) || a.parentStmp.ts.Compare(pa.addStamp.ts) < 0 {
		return "", nil, stamp{}, false
	}
	return pa.id, pa, a.parentStmp, true
}

// resolve sets a.parent, the effective parent of block id, and that of
// every block on its walk up: the walk stops at a top-level block, a block
// already resolved, or a block seen twice (a cycle, whose newest pointer
// is cut, as tree.resolve does).
func (t *viewTree) resolve(id string, a *blockAcc) {
	if a.walk == resolved {
		return
	}
	path := t.path[:0]
	cycle := -1
	for cur, ca := id, a; ; {
		if ca.walk == resolved {
			break
		}
		if ca.walk == onPath {
			cycle = ca.pathAt
			break
		}
		p, pa, at, ok := t.link(ca)
		ca.walk, ca.pathAt = onPath, len(path)
		path = append(path, viewStep{ca, step{cur, p, at}})
		if !ok {
			break
		}
		cur, ca = p, pa
	}
	if cycle >= 0 {
		cut := cycle
		for i := cycle + 1; i < len(path); i++ {
			if newerLink(path[i].s, path[cut].s) {
				cut = i
			}
		}
		path[cut].s.parent = ""
	}
	for _, st := range path {
		st.a.parent, st.a.walk = st.s.parent, resolved
	}
	clear(path) // drop the pointers until the next walk
	t.path = path[:0]
}
