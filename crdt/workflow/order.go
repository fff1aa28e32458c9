package workflow

import (
	"slices"
	"strings"
)

// groupOrder keeps a store's groups sorted by id, so that Encode writes
// the canonical order by walking them instead of sorting every value.
//
// A new group is appended to sorted when its id sorts last, else to an
// unsorted tail that is folded in when it grows past an eighth of sorted:
// an insertion costs O(1) amortized and a walk in order sorts only the
// tail. A removed group is marked dead and skipped; folding drops the dead
// once they are half of the groups. Decode fills sorted itself, merging
// each kind's new ids in (load.go), and also reads it to find ids.
type groupOrder struct {
	sorted []*group // ascending by id; may hold dead groups
	tail   []*group // added since the last fold, in no order
	dead   int      // dead groups in sorted and tail
}

func compareGroups(a, b *group) int { return strings.Compare(a.id, b.id) }

func (o *groupOrder) add(g *group) {
	if n := len(o.sorted); len(o.tail) == 0 && (n == 0 || o.sorted[n-1].id < g.id) {
		o.sorted = append(o.sorted, g)
		return
	}
	o.tail = append(o.tail, g)
	if len(o.tail) > max(64, len(o.sorted)/8) {
		o.fold()
	}
}

func (o *groupOrder) died() {
	o.dead++
	if o.dead > 64 && o.dead > (len(o.sorted)+len(o.tail))/2 {
		o.fold()
	}
}

// fold merges the tail into sorted and drops the dead groups.
func (o *groupOrder) fold() {
	tail := o.sortedTail()
	out := make([]*group, 0, max(0, len(o.sorted)+len(tail)-o.dead))
	mergeGroups(o.sorted, tail, func(g *group) bool {
		out = append(out, g)
		return true
	})
	o.sorted, o.tail, o.dead = out, nil, 0
}

// sortedTail returns the live groups of the tail, sorted, in a new slice.
func (o *groupOrder) sortedTail() []*group {
	if len(o.tail) == 0 {
		return nil
	}
	tail := make([]*group, 0, len(o.tail))
	for _, g := range o.tail {
		if !g.dead {
			tail = append(tail, g)
		}
	}
	slices.SortFunc(tail, compareGroups)
	return tail
}

// mergeGroups calls fn with the live groups of two sorted lists, in id
// order, until fn returns false.
func mergeGroups(a, b []*group, fn func(*group) bool) {
	for len(a) > 0 || len(b) > 0 {
		var g *group
		if len(b) == 0 || (len(a) > 0 && a[0].id <= b[0].id) {
			g, a = a[0], a[1:]
		} else {
			g, b = b[0], b[1:]
		}
		if !g.dead && !fn(g) {
			return
		}
	}
}

// each calls fn with every live group, in no particular order, until fn
// returns false.
func (o *groupOrder) each(fn func(*group) bool) {
	for _, gs := range [2][]*group{o.sorted, o.tail} {
		for _, g := range gs {
			if !g.dead && !fn(g) {
				return
			}
		}
	}
}

// eachSorted calls fn with every live group in id order until fn returns
// false. It does not change o: a walk is a read of the document.
func (o *groupOrder) eachSorted(fn func(*group) bool) {
	mergeGroups(o.sorted, o.sortedTail(), fn)
}

// live returns how many live groups there are.
func (o *groupOrder) live() int { return len(o.sorted) + len(o.tail) - o.dead }
