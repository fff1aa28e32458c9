package hostile

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// rawDelta is a delta spelled out, so that the attacker can write it in
// encodings the server's own encoder never produces. The layout is the one
// workflow.Doc.Encode documents.
type rawDelta struct {
	ctx     []rawRanges
	entries []rawEntry
}

type rawRanges struct {
	replica string
	ranges  []crdt.Range // sorted, disjoint, not adjacent (as a context keeps them)
}

type rawEntry struct {
	kind    workflow.Kind
	id, sub string
	replica string
	counter uint64
	wall    int64
	logical uint64
	value   []byte // canonical msgpack; nil writes msgpack nil
}

// spelling says how a rawDelta breaks the canonical encoding; the zero
// value writes it canonically.
type spelling struct {
	groupsReversed bool // groups out of (kind, id) order
	splitGroups    bool // one group per entry, so a key's entries repeat a group
	unusedReplica  bool // a replica in the table that nothing refers to
	ctxReversed    bool // context entries out of replica order
	widened        bool // every integer and array header in its widest form
}

func fromDoc(d *workflow.Doc) rawDelta {
	var r rawDelta
	for _, rep := range d.Context().Replicas() {
		r.ctx = append(r.ctx, rawRanges{replica: string(rep), ranges: slices.Clone(d.Context().Ranges(rep))})
	}
	d.Store().Range(func(k workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		for _, e := range es {
			r.entries = append(r.entries, rawEntry{kind: k.Kind, id: k.ID, sub: k.Sub, replica: string(e.Dot.Replica),
				counter: e.Dot.Counter, wall: e.Value.Wall, logical: uint64(e.Value.Logical), value: e.Value.Value})
		}
		return true
	})
	return r
}

// encode writes r in the given spelling. Entries must name replicas that
// the context holds for the result to decode, which is the attacker's
// choice to make.
func (r rawDelta) encode(s spelling) []byte {
	w := writer{wide: s.widened}
	reps := map[string]bool{}
	for _, c := range r.ctx {
		reps[c.replica] = true
	}
	for _, e := range r.entries {
		reps[e.replica] = true
	}
	if s.unusedReplica {
		reps["~unused"] = true
	}
	table := make([]string, 0, len(reps))
	for rep := range reps {
		table = append(table, rep)
	}
	slices.Sort(table)
	index := func(rep string) uint64 {
		i, _ := slices.BinarySearch(table, rep)
		return uint64(i)
	}

	w.b = append(w.b, workflow.FormatVersion)
	w.array(3)
	w.array(len(table))
	for _, rep := range table {
		w.b = msgpackx.AppendString(w.b, rep)
	}
	ctx := slices.Clone(r.ctx)
	slices.SortFunc(ctx, func(a, b rawRanges) int { return cmp.Compare(a.replica, b.replica) })
	if s.ctxReversed {
		slices.Reverse(ctx)
	}
	w.array(len(ctx))
	for _, c := range ctx {
		w.array(2)
		w.uint(index(c.replica))
		w.array(2 * len(c.ranges))
		prev := uint64(0)
		for i, rg := range c.ranges {
			if i == 0 {
				w.uint(rg.Lo)
			} else {
				w.uint(rg.Lo - prev - 2)
			}
			w.uint(rg.Hi - rg.Lo)
			prev = rg.Hi
		}
	}
	entries := slices.Clone(r.entries)
	slices.SortFunc(entries, func(a, b rawEntry) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.id, b.id), cmp.Compare(a.sub, b.sub),
			cmp.Compare(a.replica, b.replica), cmp.Compare(a.counter, b.counter))
	})
	var groups [][]rawEntry
	for i, e := range entries {
		if i == 0 || s.splitGroups || e.kind != entries[i-1].kind || e.id != entries[i-1].id {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], e)
	}
	if s.groupsReversed {
		slices.Reverse(groups)
	}
	w.array(len(groups))
	for _, g := range groups {
		w.array(3)
		w.uint(uint64(g[0].kind))
		w.b = msgpackx.AppendString(w.b, g[0].id)
		w.array(len(g))
		for _, e := range g {
			w.array(6)
			w.b = msgpackx.AppendString(w.b, e.sub)
			w.uint(index(e.replica))
			w.uint(e.counter)
			w.int(e.wall)
			w.uint(e.logical)
			if e.value == nil {
				w.b = msgpackx.AppendNil(w.b)
			} else {
				w.b = append(w.b, e.value...)
			}
		}
	}
	return w.b
}

// writer appends msgpack, in the shortest form or (wide) the longest.
type writer struct {
	b    []byte
	wide bool
}

func (w *writer) uint(v uint64) {
	if !w.wide {
		w.b = msgpackx.AppendUint(w.b, v)
		return
	}
	w.b = binary.BigEndian.AppendUint64(append(w.b, 0xcf), v)
}

func (w *writer) int(v int64) {
	if !w.wide {
		w.b = msgpackx.AppendInt(w.b, v)
		return
	}
	w.b = binary.BigEndian.AppendUint64(append(w.b, 0xd3), uint64(v))
}

func (w *writer) array(n int) {
	if !w.wide {
		w.b = msgpackx.AppendArrayHeader(w.b, n)
		return
	}
	w.b = binary.BigEndian.AppendUint32(append(w.b, 0xdd), uint32(n))
}

// float64Value is a msgpack float64, whatever its value (NaN included),
// which msgpackx.Canonical would refuse to write.
func float64Value(f float64) []byte {
	return binary.BigEndian.AppendUint64([]byte{0xcb}, math.Float64bits(f))
}

// positionValue is a block position as the document stores it: [x, y].
func positionValue(x, y float64) []byte {
	return append(append([]byte{0x92}, float64Value(x)...), float64Value(y)...)
}
