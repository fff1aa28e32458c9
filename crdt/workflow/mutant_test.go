package workflow

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// The mutant machinery: documents parsed into their raw layout, changed one
// rule at a time and written back, some numbers in a longer form than
// needed. The campaign (canonical_test.go) and the golden decode vectors
// both draw from it.

// mutDoc is an encoding in its raw layout: every number as written.
type mutDoc struct {
	replicas []string
	ctx      []mutCtx
	groups   []mutGroup
	texts    []byte // the texts element as is, when there is one
}

type mutCtx struct {
	ridx uint64
	nums []uint64
}

type mutGroup struct {
	kind    uint64
	id      string
	entries []mutEntry
}

type mutEntry struct {
	sub           string
	ridx, counter uint64
	wall          int64
	logical       uint64
	value         []byte // raw msgpack; nil writes nil
}

// parseMut reads a valid encoding (one Encode wrote) into its layout.
func parseMut(b []byte) (*mutDoc, error) {
	r := msgpackx.NewReader(b[1:])
	d := &mutDoc{}
	elems := r.ArrayHeader()
	for range r.ArrayHeader() {
		d.replicas = append(d.replicas, r.String())
	}
	for range r.ArrayHeader() {
		r.ArrayHeader()
		c := mutCtx{ridx: r.Uint()}
		for range r.ArrayHeader() {
			c.nums = append(c.nums, r.Uint())
		}
		d.ctx = append(d.ctx, c)
	}
	for range r.ArrayHeader() {
		r.ArrayHeader()
		g := mutGroup{kind: r.Uint(), id: r.String()}
		for range r.ArrayHeader() {
			r.ArrayHeader()
			e := mutEntry{sub: r.String(), ridx: r.Uint(), counter: r.Uint(), wall: r.Int(), logical: r.Uint()}
			if v := r.Raw(); len(v) > 0 && v[0] != 0xc0 {
				e.value = slices.Clone(v)
			}
			g.entries = append(g.entries, e)
		}
		d.groups = append(d.groups, g)
	}
	if elems == 4 {
		d.texts = slices.Clone(r.Raw())
	}
	if r.Err() != nil || !r.Done() {
		return nil, fmt.Errorf("parseMut: %v", r.Err())
	}
	return d, nil
}

func (d *mutDoc) clone() *mutDoc {
	out := &mutDoc{replicas: slices.Clone(d.replicas), texts: d.texts}
	for _, c := range d.ctx {
		out.ctx = append(out.ctx, mutCtx{c.ridx, slices.Clone(c.nums)})
	}
	for _, g := range d.groups {
		out.groups = append(out.groups, mutGroup{g.kind, g.id, slices.Clone(g.entries)})
	}
	return out
}

// mutWriter writes the layout; wide, when set, picks the numbers and
// headers written in a longer form than needed (by their write order).
type mutWriter struct {
	b    []byte
	n    int
	wide func(i int) bool
}

func (w *mutWriter) widen() bool {
	w.n++
	return w.wide != nil && w.wide(w.n-1)
}

func (w *mutWriter) uint(v uint64) {
	if !w.widen() {
		w.b = msgpackx.AppendUint(w.b, v)
		return
	}
	switch {
	case v <= math.MaxUint8:
		w.b = append(w.b, 0xcd, 0, byte(v))
	case v <= math.MaxUint16:
		w.b = binary.BigEndian.AppendUint32(append(w.b, 0xce), uint32(v))
	default:
		w.b = binary.BigEndian.AppendUint64(append(w.b, 0xcf), v)
	}
}

func (w *mutWriter) int(v int64) {
	if !w.widen() {
		w.b = msgpackx.AppendInt(w.b, v)
		return
	}
	w.b = binary.BigEndian.AppendUint64(append(w.b, 0xd3), uint64(v))
}

func (w *mutWriter) array(n int) {
	if !w.widen() {
		w.b = msgpackx.AppendArrayHeader(w.b, n)
		return
	}
	w.b = binary.BigEndian.AppendUint32(append(w.b, 0xdd), uint32(n))
}

func (w *mutWriter) str(s string) {
	if !w.widen() {
		w.b = msgpackx.AppendString(w.b, s)
		return
	}
	w.b = append(binary.BigEndian.AppendUint16(append(w.b, 0xda), uint16(len(s))), s...)
}

func (d *mutDoc) encode(wide func(int) bool) []byte {
	w := &mutWriter{b: []byte{FormatVersion}, wide: wide}
	if d.texts != nil {
		w.array(4)
	} else {
		w.array(3)
	}
	w.array(len(d.replicas))
	for _, r := range d.replicas {
		w.str(r)
	}
	w.array(len(d.ctx))
	for _, c := range d.ctx {
		w.array(2)
		w.uint(c.ridx)
		w.array(len(c.nums))
		for _, n := range c.nums {
			w.uint(n)
		}
	}
	w.array(len(d.groups))
	for _, g := range d.groups {
		w.array(3)
		w.uint(g.kind)
		w.str(g.id)
		w.array(len(g.entries))
		for _, e := range g.entries {
			w.array(6)
			w.str(e.sub)
			w.uint(e.ridx)
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
	return append(w.b, d.texts...)
}

// numbers returns how many numbers and headers encode writes: the range of
// indices wide may pick from.
func (d *mutDoc) numbers() int {
	n := 0
	d.encode(func(int) bool { n++; return false })
	return n
}

// nonCanonicalValues are values in every way CheckCanonical refuses, and
// some it accepts that differ from what Canonical writes for the same value.
var nonCanonicalValues = [][]byte{
	{0xcc, 0x05},                                     // uint8 below 128
	{0xd0, 0x01},                                     // signed form of a non-negative
	{0xca, 0x3f, 0x80, 0, 0},                         // float32
	{0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1},             // NaN
	{0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0},             // +Inf
	{0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0},             // -Inf
	{0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0x02},         // keys unsorted
	{0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02},         // key repeated
	{0x81, 0x01, 0x02},                               // integer key
	{0xd9, 0x01, 'x'},                                // str8 that fits a fixstr
	{0xdc, 0x00, 0x01, 0xc0},                         // array16 that fits a fixarray
	{0x92, 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0, 0x01}, // NaN inside an array
	{0xc0}, // explicit nil: the same as none
	{0xa0}, // empty string: a value, not none
}

// mutation names, in the order mutate picks them.
var mutations = []string{
	"truncate", "flip byte", "insert byte", "delete byte",
	"swap groups", "split group", "unused replica", "swap context entries",
	"widen number", "swap entries", "membership sub", "empty group",
	"non-canonical value", "wall out of domain", "repeat group", "drop context entry",
}

// mutate returns a mutant of base (a valid encoding) and the mutation's
// name. Structure-aware mutations that do not apply to base (too few
// groups) fall back to a byte flip.
func mutate(rng *rand.Rand, base []byte) ([]byte, string) {
	interesting := []byte{0x00, 0x01, 0x7f, 0x80, 0x90, 0x93, 0x96, 0xa0, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xca, 0xcb,
		0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xd4, 0xd9, 0xdc, 0xdd, 0xde, 0xe0, 0xff}
	k := rng.IntN(len(mutations))
	name := mutations[k]
	in := slices.Clone(base)
	d, err := parseMut(base)
	if err != nil {
		panic(err)
	}
	d = d.clone()
	flip := func() []byte {
		name = "flip byte"
		in[rng.IntN(len(in))] = interesting[rng.IntN(len(interesting))]
		return in
	}
	pickGroup := func(minEntries int) int {
		var ok []int
		for i, g := range d.groups {
			if len(g.entries) >= minEntries {
				ok = append(ok, i)
			}
		}
		if len(ok) == 0 {
			return -1
		}
		return ok[rng.IntN(len(ok))]
	}
	switch name {
	case "truncate":
		return in[:rng.IntN(len(in))], name
	case "flip byte":
		return flip(), name
	case "insert byte":
		return slices.Insert(in, rng.IntN(len(in)+1), interesting[rng.IntN(len(interesting))]), name
	case "delete byte":
		i := rng.IntN(len(in))
		return slices.Delete(in, i, i+1), name
	case "swap groups":
		if len(d.groups) < 2 {
			return flip(), name
		}
		i := rng.IntN(len(d.groups) - 1)
		d.groups[i], d.groups[i+1] = d.groups[i+1], d.groups[i]
	case "split group":
		i := pickGroup(2)
		if i < 0 {
			return flip(), name
		}
		g := d.groups[i]
		cut := 1 + rng.IntN(len(g.entries)-1)
		first := mutGroup{g.kind, g.id, g.entries[:cut]}
		second := mutGroup{g.kind, g.id, g.entries[cut:]}
		d.groups = slices.Replace(d.groups, i, i+1, first, second)
	case "unused replica":
		// A replica sorted first shifts every index; one sorted last
		// shifts none.
		id := "~unused"
		if rng.IntN(2) == 0 {
			id = "!unused"
			d.replicas = slices.Insert(d.replicas, 0, id)
			for i := range d.ctx {
				d.ctx[i].ridx++
			}
			for _, g := range d.groups {
				for j := range g.entries {
					g.entries[j].ridx++
				}
			}
		} else {
			d.replicas = append(d.replicas, id)
		}
	case "swap context entries":
		if len(d.ctx) < 2 {
			return flip(), name
		}
		i := rng.IntN(len(d.ctx) - 1)
		d.ctx[i], d.ctx[i+1] = d.ctx[i+1], d.ctx[i]
	case "widen number":
		n := d.numbers()
		at := rng.IntN(n)
		return d.encode(func(i int) bool { return i == at }), name
	case "swap entries":
		i := pickGroup(2)
		if i < 0 {
			return flip(), name
		}
		es := d.groups[i].entries
		j := rng.IntN(len(es) - 1)
		es[j], es[j+1] = es[j+1], es[j]
	case "membership sub":
		var ok []int
		for i, g := range d.groups {
			if isMembership(Kind(g.kind)) {
				ok = append(ok, i)
			}
		}
		if len(ok) == 0 {
			return flip(), name
		}
		g := d.groups[ok[rng.IntN(len(ok))]]
		g.entries[rng.IntN(len(g.entries))].sub = "x"
	case "empty group":
		d.groups = append(d.groups, mutGroup{kind: uint64(maxKind), id: "~"})
	case "non-canonical value":
		i := pickGroup(1)
		if i < 0 {
			return flip(), name
		}
		g := d.groups[i]
		g.entries[rng.IntN(len(g.entries))].value = nonCanonicalValues[rng.IntN(len(nonCanonicalValues))]
	case "wall out of domain":
		i := pickGroup(1)
		if i < 0 {
			return flip(), name
		}
		g := d.groups[i]
		walls := []int64{-1 << 60, 1 << 60, 1 << 53, -(1 << 53), 1<<53 - 1, -(1<<53 - 1), math.MinInt64}
		g.entries[rng.IntN(len(g.entries))].wall = walls[rng.IntN(len(walls))]
	case "repeat group":
		i := pickGroup(1)
		if i < 0 {
			return flip(), name
		}
		d.groups = slices.Insert(d.groups, i+1, d.groups[i])
	case "drop context entry":
		if len(d.ctx) == 0 {
			return flip(), name
		}
		i := rng.IntN(len(d.ctx))
		d.ctx = slices.Delete(d.ctx, i, i+1)
	}
	return d.encode(nil), name
}
