package workflow

import (
	"unicode/utf8"
	"unsafe"

	"github.com/flowsync/flowsync/crdt"
)

// loader fills an empty store with values that arrive in the encoding's
// order (by kind, id, sub, then dot), as Decode reads them. It knows that
// order, so each value is appended where it belongs instead of searched
// for, and it carves slots and the groups' slot lists from slabs: decoding
// a document costs a few allocations per thousand keys, not one per key.
//
// The slabs are shared by many keys, so one live key keeps its slab's
// memory: at most the decoded document's own size, like the copy of the
// input that the values point into.
type loader struct {
	m      *Store
	slots  []slot
	groups []group
	ptrs   []*slot
	// The group and slot the previous value went to.
	g *group
	s *slot
	// next is the group groupID found, nil for a new id.
	next *group
	// The groups of one kind come in id order, and so do the store's
	// groups (order.go): groupID finds an id of an earlier kind by moving
	// a cursor along the sorted groups instead of hashing it. kind is the
	// current group's kind, at the cursor's position in m.order.sorted,
	// and fresh the new ids of this kind, in order, merged into the
	// sorted groups when the kind ends.
	kind  Kind
	at    int
	fresh []*group
	// The keys and groups still expected: slabs are cut to them, so that
	// a small delta does not cost slabs made for a document.
	keysLeft, groupsLeft int
}

// newLoader prepares m, which must be empty, for values whose dots name
// replicas by their index in replicas (the encoding's sorted table) and
// lie in ctx, and sizes it for about n values in groups (kind, id) groups.
func newLoader(m *Store, ctx *crdt.Context, replicas []crdt.ReplicaID, n, groups int) *loader {
	m.Grow(n)
	m.init()
	// A replica's held counters are usually most of its range: index them
	// in arrays (dotindex.go), within a budget of sparsest times the values
	// expected (the density below which finish gives an array up), so
	// that a replica with a wide range and few values costs a few pointers
	// per value at most. Text items spend counters that hold no value (a
	// prompt of 16 characters: 16 counters), so a document with texts has
	// ranges two to three times its values; below that budget its arrays
	// grew entry by entry instead.
	budget := uint64(sparsest * n)
	for i, r := range replicas {
		rs := ctx.Ranges(r)
		if len(rs) == 0 {
			continue
		}
		lo, hi := rs[0].Lo, rs[len(rs)-1].Hi
		if span := hi - lo + 1; span <= budget {
			m.byDot.reserveDense(uint32(i), lo, hi)
			budget -= span
		}
	}
	m.reps.ids = make(map[crdt.ReplicaID]uint32, len(replicas))
	for i, r := range replicas {
		m.reps.ids[r] = uint32(i)
	}
	m.reps.names = replicas
	return &loader{m: m, keysLeft: n, groupsLeft: groups}
}

// slabChunk bounds one slab allocation, and slabMin is the smallest slab
// cut once the expected count is used up (the estimates may be short).
const (
	slabChunk = 4096
	slabMin   = 16
)

// slabSize returns the size of the next slab for *left more items, and
// takes it from *left. A slab is cut to the count expected, however small
// (a client's delta has one or two keys: a slab of slabMin slots would be
// most of what decoding it allocates); slabMin applies once that count is
// used up.
func slabSize(left *int) int {
	n := *left
	if n <= 0 {
		n = slabMin
	}
	n = min(n, slabChunk)
	*left = max(*left-n, 0)
	return n
}

// groupID returns id as a string, for a group of kind: the store's own
// string when a group of that id was put already (ids repeat across
// kinds), else one aliasing the input, which must be valid UTF-8. It
// remembers the group for the next call of group.
//
// Groups arrive sorted by (kind, id) (Decode refuses them otherwise, after
// this call: an id out of order is only looked for past the cursor, and
// the document is discarded), so an id of an earlier kind is found by
// walking the sorted groups forward, never by hashing it.
func (l *loader) groupID(kind Kind, id []byte) (string, error) {
	o := &l.m.order
	if kind != l.kind {
		l.endKind()
		l.kind, l.at = kind, 0
	}
	for l.at < len(o.sorted) && o.sorted[l.at].id < string(id) {
		l.at++
	}
	if l.at < len(o.sorted) && o.sorted[l.at].id == string(id) {
		l.next = o.sorted[l.at]
		return l.next.id, nil
	}
	l.next = nil
	if !utf8.Valid(id) {
		return "", outOfDomain("string %q is not valid UTF-8", id)
	}
	return aliasString(id), nil
}

// endKind merges the ids the current kind added into the sorted groups,
// both lists being in id order.
func (l *loader) endKind() {
	o := &l.m.order
	switch {
	case len(l.fresh) == 0:
		return
	case len(o.sorted) == 0 || o.sorted[len(o.sorted)-1].id < l.fresh[0].id:
		o.sorted = append(o.sorted, l.fresh...)
	default:
		out := make([]*group, 0, len(o.sorted)+len(l.fresh))
		mergeGroups(o.sorted, l.fresh, func(g *group) bool {
			out = append(out, g)
			return true
		})
		o.sorted = out
	}
	clear(l.fresh)
	l.fresh = l.fresh[:0]
}

// group starts the values of (kind, id), which has at most n values and
// sorts after every group put so far. id is what groupID returned.
func (l *loader) group(kind Kind, id string, n int) {
	g := l.next
	if g == nil {
		if len(l.groups) == 0 {
			l.groups = make([]group, slabSize(&l.groupsLeft))
		}
		g, l.groups = &l.groups[0], l.groups[1:]
		g.id = id
		l.m.groups[id] = g
		if o := &l.m.order; len(l.fresh) == 0 && (len(o.sorted) == 0 || o.sorted[len(o.sorted)-1].id < id) {
			// Past every sorted id (all of the first kind's, and a small
			// delta's): appended in place, where the cursor may still meet
			// it, which is right, as it sorts after the ids it has passed.
			o.sorted = append(o.sorted, g)
		} else {
			l.fresh = append(l.fresh, g)
		}
	}
	if need := len(g.slots) + n; cap(g.slots) < need {
		if len(l.ptrs) < need {
			left := l.keysLeft
			if left <= 0 {
				left = slabMin
			}
			l.ptrs = make([]*slot, max(need, min(left, slabChunk)))
		}
		ps := l.ptrs[:len(g.slots):need]
		copy(ps, g.slots)
		l.ptrs = l.ptrs[need:]
		g.slots = ps
	}
	l.g, l.s = g, nil
}

// put adds the next value of the current group, under sub with dot d
// (its replica numbered ridx in the table), and reports false if d is
// already held. sub's values follow the group's previous value.
func (l *loader) put(kind Kind, sub string, ridx uint32, d crdt.Dot, v Cell) bool {
	m := l.m
	e := crdt.Dotted[Cell]{Dot: d, Value: v}
	s := l.s
	if s != nil && s.sub == sub {
		// Another concurrent value of the same key (rare): appended to a
		// slice the store owns (the slot's first value lives in the slot).
		if !l.index(ridx, d, s) {
			return false
		}
		s.claim(1)
		s.es = append(s.es, e)
		return true
	}
	if len(l.slots) == 0 {
		l.slots = make([]slot, slabSize(&l.keysLeft))
	}
	s = &l.slots[0]
	if !l.index(ridx, d, s) {
		return false
	}
	l.slots = l.slots[1:]
	s.g, s.kind, s.sub = l.g, kind, sub
	s.first[0] = e
	s.es = s.first[:1:1]
	l.g.slots = append(l.g.slots, s)
	m.added(l.g, kind)
	l.s = s
	m.keys++
	return true
}

// index points d at s in the dot index, and reports false if d was there
// already: one map operation both checks and inserts (the store is
// discarded on false).
func (l *loader) index(ridx uint32, d crdt.Dot, s *slot) bool {
	if !l.m.byDot.set(rdot{ridx, d.Counter}, s) {
		return false
	}
	l.m.dots++
	return true
}

// finish gives up the dot arrays that came out sparse and merges the last
// kind's new ids into the sorted groups (each kind's ids come sorted, but
// a later kind's new ids interleave with the earlier ones), so that Encode
// walks them without sorting.
func (l *loader) finish() {
	l.m.byDot.settle()
	l.endKind()
}

// aliasString returns b as a string without copying it. Decode reads from
// its own copy of the input, which nothing writes after it is made and
// which the decoded values alias already, so ids and values share it: a
// document of 20,000 ids costs no allocation per id. b must be such bytes.
// The copy lives as long as one of its ids does (before, as long as one
// of its values did): for a loaded document, about as long.
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
