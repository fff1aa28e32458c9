package text

import (
	"errors"
	"slices"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// FormatVersion is the first byte of an encoded text delta or state.
const FormatVersion = 1

// Decoding limits: DeltaLimits for what a client sends, StateLimits for a
// stored or transferred whole text.
var (
	DeltaLimits = msgpackx.Limits{MaxBytes: 1 << 20, MaxDepth: 8}
	StateLimits = msgpackx.Limits{MaxBytes: 64 << 20, MaxDepth: 8}
)

// MaxItems returns how many items (code points, deleted ones included) a
// delta decoded under lim may hold: 4 per byte of lim.MaxBytes. Deleted
// items cost a few bytes per run on the wire whatever the run's length but
// an int32 each in memory, so without a bound ten bytes could claim two
// billion of them.
func MaxItems(lim msgpackx.Limits) int {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = 16 << 20
	}
	return min(4*lim.MaxBytes, maxItems)
}

// Decoding errors. Every one wraps ErrMalformed; test with errors.Is.
var (
	ErrFormatVersion = errors.New("text: unknown format version")
	ErrMalformed     = errors.New("text: malformed delta")
	// ErrNotCanonical: well formed, but not the one encoding Encode writes
	// for this delta.
	ErrNotCanonical = errors.New("text: delta not in canonical form")
	ErrTooManyItems = errors.New("text: delta holds too many items")
)

// Run flags: the low 6 bits of a run's first varint.
const (
	flagContent    = 1 << 0 // the run's code points are in the text column
	flagNewReplica = 1 << 1 // a replica index follows; else the previous run's
	leftShift      = 2      // 2 bits: leftStart, leftPrev, leftOwn, leftDot
	rightShift     = 4      // 2 bits: rightEnd, rightNext, rightInherit, rightFar
	flagBits       = 6
)

// Left origin forms, the first that applies is the one written.
const (
	leftStart = iota // the start of the text
	leftPrev         // the previous run's last item
	leftOwn          // the item before the run's first, the last item of an earlier run k back: only k−1 is written, no replica or counter
	leftDot          // explicit: replica index, counter
)

// Right origin forms, the first that applies is the one written.
const (
	rightEnd     = iota // the end of the text
	rightNext           // the next run's first item
	rightInherit        // the right origin of the run of this delta holding the left origin
	rightFar            // v > 0: the first item of run i+1+v; v = 0: an explicit replica index, counter follow
)

// leftForm returns the form of run i's left origin and, for leftOwn, how
// many runs back the run that ends at it is.
func leftForm(runs []Run, p *plan, i int) (int, int) {
	r := &runs[i]
	switch {
	case r.Left == (crdt.Dot{}):
		return leftStart, 0
	case i > 0 && r.Left == runs[i-1].last():
		return leftPrev, 0
	case r.Left.Replica == r.ID.Replica && r.Left.Counter+1 == r.ID.Counter:
		if j := p.find(r.Left); j >= 0 && j < i && runs[j].last() == r.Left {
			return leftOwn, i - j
		}
	}
	return leftDot, 0
}

// rightForm returns the form of run i's right origin and, for rightFar,
// its v.
func rightForm(runs []Run, p *plan, i int) (int, int) {
	r := &runs[i]
	switch {
	case r.Right == (crdt.Dot{}):
		return rightEnd, 0
	case i+1 < len(runs) && r.Right == runs[i+1].ID:
		return rightNext, 0
	}
	if r.Left != (crdt.Dot{}) {
		if j := p.find(r.Left); j >= 0 && j != i && runs[j].Right == r.Right {
			return rightInherit, 0
		}
	}
	if j := p.find(r.Right); j > i+1 && runs[j].ID == r.Right {
		return rightFar, j - i - 1
	}
	return rightFar, 0
}

// Encode returns the canonical encoding of d. d must be in the form
// DeltaSince, Insert and Delete return: runs valid and in their order, with
// no run that continues the one before it, and Deleted holding every dot of
// the runs without content.
//
// Layout: the version byte, then one msgpack array
//
//	[ replicas: [str ...]     sorted, each used by a run, an origin or a deleted range
//	  runs:     bin           per run, varints: (len−1)<<6 | flags, then [replica index]
//	                          and zigzag(counter − base), or for a continued run (left
//	                          form 2) how many runs back it continues; [left ridx,
//	                          counter]; [right: runs ahead, or 0, ridx, counter]
//	  text:     str           the code points of the runs with content, concatenated
//	  deleted:  [[ridx, [lo, n, gap, n, ...]] ...]   Deleted minus the runs without
//	                          content, as the workflow document writes a context ]
//
// base is the previous run's last counter + 1 when it has the same replica,
// else 1. docs/PROTOCOL.md, "Text deltas", has the details and a hex dump.
func Encode(d *Delta) []byte {
	e := newEncoder(d)
	return e.encode()
}

type encoder struct {
	d        *Delta
	replicas []crdt.ReplicaID
	index    map[crdt.ReplicaID]int
	plan     plan // runs by dot
}

func newEncoder(d *Delta) *encoder {
	e := &encoder{d: d, index: make(map[crdt.ReplicaID]int)}
	add := func(r crdt.ReplicaID) {
		if _, ok := e.index[r]; !ok && r != "" {
			e.index[r] = 0
			e.replicas = append(e.replicas, r)
		}
	}
	for i := range d.Runs {
		r := &d.Runs[i]
		add(r.ID.Replica)
		add(r.Left.Replica)
		add(r.Right.Replica)
	}
	for _, x := range d.Deleted {
		add(x.Replica)
	}
	slices.Sort(e.replicas)
	for i, r := range e.replicas {
		e.index[r] = i
	}
	e.plan = newPlan(d.Runs)
	return e
}

func (e *encoder) encode() []byte {
	d := e.d
	b := make([]byte, 0, 64+len(d.Runs)*8+textBytes(d.Runs))
	b = append(b, FormatVersion)
	b = msgpackx.AppendArrayHeader(b, 4)
	b = msgpackx.AppendArrayHeader(b, len(e.replicas))
	for _, r := range e.replicas {
		b = msgpackx.AppendString(b, string(r))
	}
	var rb []byte
	prevRep, prevLast := -1, uint64(0)
	for i := range d.Runs {
		r := &d.Runs[i]
		rep := e.index[r.ID.Replica]
		lf, back := leftForm(d.Runs, &e.plan, i)
		rf, ahead := rightForm(d.Runs, &e.plan, i)
		flags := uint64(lf<<leftShift | rf<<rightShift)
		if r.Text != "" {
			flags |= flagContent
		}
		if rep != prevRep && lf != leftOwn {
			flags |= flagNewReplica
		}
		rb = appendVarint(rb, uint64(r.Len-1)<<flagBits|flags)
		switch {
		case lf == leftOwn:
			rb = appendVarint(rb, uint64(back-1))
		case rep != prevRep:
			rb = appendVarint(rb, uint64(rep))
			rb = appendVarint(rb, zigzag(int64(r.ID.Counter-1)))
		default:
			rb = appendVarint(rb, zigzag(int64(r.ID.Counter-prevLast-1)))
		}
		if lf == leftDot {
			rb = appendVarint(appendVarint(rb, uint64(e.index[r.Left.Replica])), r.Left.Counter)
		}
		if rf == rightFar {
			rb = appendVarint(rb, uint64(ahead))
			if ahead == 0 {
				rb = appendVarint(appendVarint(rb, uint64(e.index[r.Right.Replica])), r.Right.Counter)
			}
		}
		prevRep, prevLast = rep, r.last().Counter
	}
	b = msgpackx.AppendBytes(b, rb)
	n := textBytes(d.Runs)
	b = appendStrHeader(b, n)
	for i := range d.Runs {
		b = append(b, d.Runs[i].Text...)
	}
	explicit := subtractDead(normalizeDead(slices.Clone(d.Deleted)), skeleton(d.Runs))
	groups := 0
	for i := range explicit {
		if i == 0 || explicit[i].Replica != explicit[i-1].Replica {
			groups++
		}
	}
	b = msgpackx.AppendArrayHeader(b, groups)
	for i := 0; i < len(explicit); {
		j := i + 1
		for j < len(explicit) && explicit[j].Replica == explicit[i].Replica {
			j++
		}
		b = msgpackx.AppendArrayHeader(b, 2)
		b = msgpackx.AppendUint(b, uint64(e.index[explicit[i].Replica]))
		b = msgpackx.AppendArrayHeader(b, 2*(j-i))
		for k, x := range explicit[i:j] {
			if k == 0 {
				b = msgpackx.AppendUint(b, x.Lo)
			} else {
				b = msgpackx.AppendUint(b, x.Lo-explicit[i+k-1].Hi-2)
			}
			b = msgpackx.AppendUint(b, x.Hi-x.Lo)
		}
		i = j
	}
	return b
}

func textBytes(runs []Run) int {
	n := 0
	for i := range runs {
		n += len(runs[i].Text)
	}
	return n
}

// appendStrHeader appends the header of a msgpack str of n bytes.
func appendStrHeader(b []byte, n int) []byte {
	switch {
	case n <= 31:
		return append(b, 0xa0|byte(n))
	case n <= 0xff:
		return append(b, 0xd9, byte(n))
	case n <= 0xffff:
		return append(b, 0xda, byte(n>>8), byte(n))
	}
	return append(b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// skeletonSorted is skeleton for runs p has sorted.
func skeletonSorted(runs []Run, p *plan) []Dead {
	var s []Dead
	for _, i := range p.sorted {
		r := &runs[i]
		if r.Text != "" {
			continue
		}
		x := Dead{r.ID.Replica, crdt.Range{Lo: r.ID.Counter, Hi: r.last().Counter}}
		if n := len(s); n > 0 && s[n-1].Replica == x.Replica && s[n-1].Hi+1 == x.Lo {
			s[n-1].Hi = x.Hi
			continue
		}
		s = append(s, x)
	}
	return s
}

// unionDead merges two normalized, disjoint range lists into one.
func unionDead(a, b []Dead) []Dead {
	if len(a) == 0 {
		return b
	}
	out := make([]Dead, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var x Dead
		if j == len(b) || i < len(a) && compareDead(a[i], b[j]) < 0 {
			x, i = a[i], i+1
		} else {
			x, j = b[j], j+1
		}
		if n := len(out); n > 0 && out[n-1].Replica == x.Replica && out[n-1].Hi+1 >= x.Lo {
			out[n-1].Hi = max(out[n-1].Hi, x.Hi)
			continue
		}
		out = append(out, x)
	}
	return out
}

// skeleton returns the dots of the runs without content, normalized.
func skeleton(runs []Run) []Dead {
	var s []Dead
	for i := range runs {
		if r := &runs[i]; r.Text == "" {
			s = append(s, Dead{r.ID.Replica, crdt.Range{Lo: r.ID.Counter, Hi: r.last().Counter}})
		}
	}
	return normalizeDead(s)
}

// subtractDead returns a \ b for normalized range lists.
func subtractDead(a, b []Dead) []Dead {
	var out []Dead
	j := 0
	for _, x := range a {
		lo := x.Lo
		for j < len(b) && (b[j].Replica < x.Replica || b[j].Replica == x.Replica && b[j].Hi < lo) {
			j++
		}
		open := true
		for k := j; open && k < len(b) && b[k].Replica == x.Replica && b[k].Lo <= x.Hi; k++ {
			if b[k].Lo > lo {
				out = append(out, Dead{x.Replica, crdt.Range{Lo: lo, Hi: b[k].Lo - 1}})
			}
			if b[k].Hi >= x.Hi {
				open = false
			} else {
				lo = b[k].Hi + 1
			}
		}
		if open {
			out = append(out, Dead{x.Replica, crdt.Range{Lo: lo, Hi: x.Hi}})
		}
	}
	return out
}
