package workflow

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// FormatVersion is the first byte of every encoded document or delta.
//
// History:
//   - 1: initial format (see docs/PROTOCOL.md, "Document encoding").
const FormatVersion = 1

// Decoding limits. A delta is a document, so both share the codec; callers
// pick the limit that fits what they expect.
var (
	// DocLimits bounds a stored or transferred document: 64 MiB.
	DocLimits = msgpackx.Limits{MaxBytes: 64 << 20, MaxDepth: 40}
	// DeltaLimits bounds a delta sent by a client: 1 MiB.
	DeltaLimits = msgpackx.Limits{MaxBytes: 1 << 20, MaxDepth: 40}
)

// Errors returned by Decode. Decode wraps them with detail; test with
// errors.Is.
var (
	ErrFormatVersion = errors.New("workflow: unknown format version")
	ErrMalformed     = errors.New("workflow: malformed document")
)

// Encode returns the canonical encoding of d: equal states encode to equal
// bytes, on every replica and in every language.
//
// Layout (after the version byte, one msgpack array of three elements):
//
//	[ replicas: [str ...]                       sorted replica ids; dots refer to them by index
//	  context:  [[ridx, [lo, n, gap, n, ...]] ...]   ranges of counters: first Lo, then
//	                                            alternately length-1 and gap-1 to the next Lo
//	  groups:   [[kind, id, [[sub, ridx, counter, wall, logical, value] ...]] ...] ]
//
// Groups are sorted by (kind, id) and entries by (sub, replica, counter);
// value is the cell's canonical msgpack, embedded as is.
func (d *Doc) Encode() []byte {
	return d.AppendEncode(make([]byte, 0, 64+d.store.NumDots()*32))
}

// AppendEncode appends the encoding of d to b.
func (d *Doc) AppendEncode(b []byte) []byte {
	type entry struct {
		key  Key
		dot  crdt.Dot
		cell Cell
	}
	entries := make([]entry, 0, d.store.NumDots())
	d.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			entries = append(entries, entry{k, e.Dot, e.Value})
		}
		return true
	})
	// Every stored dot is in the context (Merge and Decode keep it so), so
	// the context's replicas are the whole table.
	replicas := d.ctx.Replicas()
	replicaSet := make(map[crdt.ReplicaID]int, len(replicas))
	for i, r := range replicas {
		replicaSet[r] = i
	}
	// Most entries share their replica with the previous one; skip the map.
	lastReplica, lastIndex := crdt.ReplicaID(""), 0
	replicaIndex := func(r crdt.ReplicaID) int {
		if r != lastReplica {
			lastReplica, lastIndex = r, replicaSet[r]
		}
		return lastIndex
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := cmp.Compare(a.key.Kind, b.key.Kind); c != 0 {
			return c
		}
		if c := cmp.Compare(a.key.ID, b.key.ID); c != 0 {
			return c
		}
		if c := cmp.Compare(a.key.Sub, b.key.Sub); c != 0 {
			return c
		}
		if c := cmp.Compare(a.dot.Replica, b.dot.Replica); c != 0 {
			return c
		}
		return cmp.Compare(a.dot.Counter, b.dot.Counter)
	})

	b = append(b, FormatVersion)
	b = msgpackx.AppendArrayHeader(b, 3)
	b = msgpackx.AppendArrayHeader(b, len(replicas))
	for _, r := range replicas {
		b = msgpackx.AppendString(b, string(r))
	}
	ctxReplicas := d.ctx.Replicas()
	b = msgpackx.AppendArrayHeader(b, len(ctxReplicas))
	for _, r := range ctxReplicas {
		rs := d.ctx.Ranges(r)
		b = msgpackx.AppendArrayHeader(b, 2)
		b = msgpackx.AppendUint(b, uint64(replicaSet[r]))
		b = msgpackx.AppendArrayHeader(b, 2*len(rs))
		prev := uint64(0)
		for i, rg := range rs {
			if i == 0 {
				b = msgpackx.AppendUint(b, rg.Lo)
			} else {
				b = msgpackx.AppendUint(b, rg.Lo-prev-2)
			}
			b = msgpackx.AppendUint(b, rg.Hi-rg.Lo)
			prev = rg.Hi
		}
	}
	groups := 0
	for i := range entries {
		if i == 0 || entries[i].key.Kind != entries[i-1].key.Kind || entries[i].key.ID != entries[i-1].key.ID {
			groups++
		}
	}
	b = msgpackx.AppendArrayHeader(b, groups)
	for i := 0; i < len(entries); {
		j := i + 1
		for j < len(entries) && entries[j].key.Kind == entries[i].key.Kind && entries[j].key.ID == entries[i].key.ID {
			j++
		}
		b = msgpackx.AppendArrayHeader(b, 3)
		b = msgpackx.AppendUint(b, uint64(entries[i].key.Kind))
		b = msgpackx.AppendString(b, entries[i].key.ID)
		b = msgpackx.AppendArrayHeader(b, j-i)
		for _, e := range entries[i:j] {
			b = msgpackx.AppendArrayHeader(b, 6)
			b = msgpackx.AppendString(b, e.key.Sub)
			b = msgpackx.AppendUint(b, uint64(replicaIndex(e.dot.Replica)))
			b = msgpackx.AppendUint(b, e.dot.Counter)
			b = msgpackx.AppendInt(b, e.cell.Wall)
			b = msgpackx.AppendUint(b, uint64(e.cell.Logical))
			if len(e.cell.Value) == 0 {
				b = msgpackx.AppendNil(b)
			} else {
				b = append(b, e.cell.Value...)
			}
		}
		i = j
	}
	return b
}

// Decode parses an encoded document or delta, checking it against lim
// first: a hostile input is an error, never a large allocation or a panic.
// Every dot must be in the decoded context, which is what a valid state
// guarantees. The returned document does not alias b.
func Decode(b []byte, lim msgpackx.Limits) (*Doc, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrMalformed)
	}
	if b[0] != FormatVersion {
		return nil, fmt.Errorf("%w: %d (this build reads %d)", ErrFormatVersion, b[0], FormatVersion)
	}
	// One copy of the input backs every value of the decoded document, so a
	// 10,000-block document costs one allocation for its values, not one per
	// value.
	body := slices.Clone(b[1:])
	if err := msgpackx.Check(body, lim); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	d, err := decodeBody(msgpackx.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return d, nil
}

func decodeBody(r *msgpackx.Reader) (*Doc, error) {
	if n := r.ArrayHeader(); n != 3 {
		return nil, fmt.Errorf("top level has %d elements, want 3", n)
	}
	nrep := r.ArrayHeader()
	replicas := make([]crdt.ReplicaID, nrep)
	for i := range replicas {
		replicas[i] = crdt.ReplicaID(r.String())
		if r.Err() == nil && (replicas[i] == "" || (i > 0 && replicas[i] <= replicas[i-1])) {
			return nil, fmt.Errorf("replica table not sorted, unique and non-empty at %d", i)
		}
	}
	replicaAt := func(i uint64) (crdt.ReplicaID, error) {
		if i >= uint64(len(replicas)) {
			return "", fmt.Errorf("replica index %d out of range (%d replicas)", i, len(replicas))
		}
		return replicas[i], nil
	}
	d := &Doc{}
	nctx := r.ArrayHeader()
	for i := 0; i < nctx && r.Err() == nil; i++ {
		if r.ArrayHeader() != 2 {
			return nil, errors.New("context entry is not [replica, ranges]")
		}
		replica, err := replicaAt(r.Uint())
		if err != nil {
			return nil, err
		}
		if len(d.ctx.Ranges(replica)) > 0 {
			return nil, fmt.Errorf("replica %q appears twice in the context", replica)
		}
		n := r.ArrayHeader()
		if n == 0 || n%2 != 0 {
			return nil, fmt.Errorf("context ranges of %q: %d numbers, want a positive even count", replica, n)
		}
		var prev uint64
		for j := 0; j < n/2; j++ {
			start, length := r.Uint(), r.Uint()
			lo := start
			if j > 0 {
				// lo = prev + 2 + start, refused if it wraps: a wrapped lo
				// could land on or next to an earlier range.
				if prev > math.MaxUint64-2 || start > math.MaxUint64-2-prev {
					return nil, errors.New("context range overflows")
				}
				lo = prev + 2 + start
			}
			hi := lo + length
			if lo == 0 || hi < lo || hi > crdt.MaxCounter {
				return nil, fmt.Errorf("context range [%d, %d] of %q is invalid", lo, hi, replica)
			}
			d.ctx.AddRange(replica, crdt.Range{Lo: lo, Hi: hi})
			prev = hi
		}
	}
	ngroups := r.ArrayHeader()
	// Ids repeat across kinds (a block's fields and sub-blocks) and field
	// names repeat across blocks: decode each distinct string once.
	interned := make(map[string]string, ngroups)
	intern := func(b []byte) string {
		if s, ok := interned[string(b)]; ok {
			return s
		}
		s := string(b)
		interned[s] = s
		return s
	}
	d.store.Grow(r.Remaining() / 48) // a typical entry takes ~50 bytes; maps grow if needed
	for i := 0; i < ngroups && r.Err() == nil; i++ {
		if r.ArrayHeader() != 3 {
			return nil, errors.New("group is not [kind, id, entries]")
		}
		kind := r.Uint()
		if kind == 0 || kind > uint64(maxKind) {
			return nil, fmt.Errorf("unknown kind %d", kind)
		}
		id := intern(r.StringBytes())
		n := r.ArrayHeader()
		for j := 0; j < n && r.Err() == nil; j++ {
			if r.ArrayHeader() != 6 {
				return nil, errors.New("entry is not [sub, replica, counter, wall, logical, value]")
			}
			sub := intern(r.StringBytes())
			replica, err := replicaAt(r.Uint())
			if err != nil {
				return nil, err
			}
			dot := crdt.Dot{Replica: replica, Counter: r.Uint()}
			wall := r.Int()
			logical := r.Uint()
			raw := r.Raw()
			if r.Err() != nil {
				break
			}
			if logical > 1<<32-1 {
				return nil, fmt.Errorf("logical time %d out of range", logical)
			}
			if !d.ctx.Contains(dot) {
				return nil, fmt.Errorf("dot %v is not in the context", dot)
			}
			var v Value
			if len(raw) > 0 && raw[0] != 0xc0 {
				v = Value(raw[:len(raw):len(raw)])
			}
			if !d.store.Put(Key{Kind(kind), id, sub}, dot, Cell{Wall: wall, Logical: uint32(logical), Value: v}) {
				return nil, fmt.Errorf("dot %v appears twice", dot)
			}
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if !r.Done() {
		return nil, errors.New("trailing bytes")
	}
	return d, nil
}
