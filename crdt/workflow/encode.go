package workflow

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// FormatVersion is the first byte of every encoded document or delta.
//
// History:
//   - 1: initial format (see docs/PROTOCOL.md, "Document encoding").
const FormatVersion = 1

// Decoding limits. A delta is a document, so both share the codec; callers
// pick the limit that fits what they expect. Decode also caps the ranges of
// the decoded context at MaxRanges(lim).
var (
	// DocLimits bounds a stored or transferred document: 64 MiB.
	DocLimits = msgpackx.Limits{MaxBytes: 64 << 20, MaxDepth: 40}
	// DeltaLimits bounds a delta sent by a client: 1 MiB, and so at most
	// 262,144 context ranges (MaxRanges).
	DeltaLimits = msgpackx.Limits{MaxBytes: 1 << 20, MaxDepth: 40}
)

// MaxRanges returns how many context ranges Decode accepts under lim: one
// per 4 bytes of lim.MaxBytes (262,144 for DeltaLimits, 16,777,216 for
// DocLimits). A range takes at least 2 bytes, so without the cap a 1 MiB
// delta could carry 524,288 ranges, each of which a merge must visit and
// the document keeps. An honest context has one range per replica plus one
// per gap: a delta's gaps are the values its sender holds and the receiver
// has seen (the holes in a removal context), so a client reaches the cap only
// with more than 262,144 live values in one document, far beyond what
// DocLimits stores in practice. Decode refuses more with ErrTooManyRanges.
func MaxRanges(lim msgpackx.Limits) int {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = defaultMaxBytes
	}
	return lim.MaxBytes / 4
}

// defaultMaxBytes is msgpackx's default for a zero Limits.MaxBytes.
const defaultMaxBytes = 16 << 20

// Errors returned by Decode. Decode wraps them with detail, and every one
// but ErrFormatVersion also wraps ErrMalformed; test with errors.Is.
var (
	ErrFormatVersion = errors.New("workflow: unknown format version")
	ErrMalformed     = errors.New("workflow: malformed document")
	// ErrNotCanonical: the input is well formed but not in the one form
	// Encode writes (groups or entries out of order, a replica the context
	// does not use, an integer in a longer form than needed, a value that is
	// not canonical msgpack...). Accepting it would let two byte strings stand
	// for one state, and the document would re-encode to other bytes.
	ErrNotCanonical = errors.New("workflow: document not in canonical form")
	// ErrOutOfDomain: a value every replica cannot hold exactly: a wall time
	// outside [-crdt.MaxWall, crdt.MaxWall], a NaN or infinite number in a
	// value, a string that is not valid UTF-8.
	ErrOutOfDomain = errors.New("workflow: value outside the shared domain")
	// ErrTooManyRanges: the context holds more ranges than MaxRanges allows.
	ErrTooManyRanges = errors.New("workflow: context has too many ranges")
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
	return d.AppendEncode(make([]byte, 0, 64+d.store.NumDots()*64))
}

// AppendEncode appends the encoding of d to b.
//
// The store keeps its groups in id order and each id's keys in (kind, sub)
// order, and each key's values in dot order (store.go), so the canonical
// order comes from one walk of the groups: their runs of one kind are
// bucketed by kind, and written kind by kind. Nothing is sorted but the
// ids added since the store last folded its order (order.go).
func (d *Doc) AppendEncode(b []byte) []byte {
	tids, tbs := d.encodedTexts()
	elems := 3
	if len(tids) > 0 {
		elems = 4
	}
	b, replicaIndex := appendHead(b, &d.ctx, elems)
	groups := kindRuns(&d.store)
	b = msgpackx.AppendArrayHeader(b, len(groups))
	for _, g := range groups {
		b = msgpackx.AppendArrayHeader(b, 3)
		b = msgpackx.AppendUint(b, uint64(g.kind))
		b = msgpackx.AppendString(b, g.id)
		n := 0
		for _, s := range g.slots {
			n += len(s.es)
		}
		b = msgpackx.AppendArrayHeader(b, n)
		for _, s := range g.slots {
			for _, e := range s.es {
				b = appendEntry(b, s.sub, replicaIndex(e.Dot.Replica), e)
			}
		}
	}
	if len(tids) > 0 {
		b = appendTexts(b, tids, tbs)
	}
	return b
}

// appendHead appends the version byte, the top-level array's header, the
// replica table and the context of a document whose context is ctx, and
// returns the function that gives a replica's index in the table. Every
// value's dot is in the context (Merge and Decode keep it so), so the
// context's replicas are the whole table.
func appendHead(b []byte, ctx *crdt.Context, elems int) ([]byte, func(crdt.ReplicaID) int) {
	replicas := ctx.Replicas()
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

	b = append(b, FormatVersion)
	b = msgpackx.AppendArrayHeader(b, elems)
	b = msgpackx.AppendArrayHeader(b, len(replicas))
	for _, r := range replicas {
		b = msgpackx.AppendString(b, string(r))
	}
	b = msgpackx.AppendArrayHeader(b, len(replicas))
	for _, r := range replicas {
		rs := ctx.Ranges(r)
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
	return b, replicaIndex
}

// appendEntry appends one entry of a group: value e under sub, its replica
// at index ridx of the table.
func appendEntry(b []byte, sub string, ridx int, e crdt.Dotted[Cell]) []byte {
	b = msgpackx.AppendArrayHeader(b, 6)
	b = msgpackx.AppendString(b, sub)
	b = msgpackx.AppendUint(b, uint64(ridx))
	b = msgpackx.AppendUint(b, e.Dot.Counter)
	b = msgpackx.AppendInt(b, e.Value.Wall)
	b = msgpackx.AppendUint(b, uint64(e.Value.Logical))
	if len(e.Value.Value) == 0 {
		return msgpackx.AppendNil(b)
	}
	return append(b, e.Value.Value...)
}

// kindGroup is one encoded group: the keys of one (kind, id), a run of a
// store group's slots.
type kindGroup struct {
	id    string
	kind  Kind
	slots []*slot
}

// kindRuns returns the store's (kind, id) groups in the encoding's order:
// by kind, then id. The store counts the groups of each kind and each
// group its keys of each kind, so one walk of the groups in id order
// places every run where it goes without reading a key.
func kindRuns(m *Store) []kindGroup {
	var at [maxKind + 1]int
	for k := 1; k <= int(maxKind); k++ {
		at[k] = at[k-1] + m.kindGroups[k-1]
	}
	out := make([]kindGroup, at[maxKind]+m.kindGroups[maxKind])
	m.order.eachSorted(func(g *group) bool {
		i := 0
		for k, n := range g.nkind {
			if n > 0 {
				j := i + int(n)
				out[at[k]] = kindGroup{g.id, Kind(k), g.slots[i:j:j]}
				at[k]++
				i = j
			}
		}
		return true
	})
	return out
}

// Decode parses an encoded document or delta, checking it against lim
// first: a hostile input is an error, never a large allocation or a panic.
// Every dot must be in the decoded context, which is what a valid state
// guarantees. The returned document does not alias b.
//
// Only the canonical encoding is accepted (docs/PROTOCOL.md §7.2 lists the
// rules), so a document that decodes re-encodes to exactly b. Errors wrap
// ErrFormatVersion, or ErrMalformed and, where it applies, ErrNotCanonical,
// ErrOutOfDomain or ErrTooManyRanges.
func Decode(b []byte, lim msgpackx.Limits) (*Doc, error) {
	return DecodeCapped(b, lim, Caps{})
}

// DecodeCapped is Decode that also holds the input to caps (a zero field is
// no cap): a count beyond one is refused with ErrTooManyValues,
// ErrTooManyReplicas, ErrTooManyRanges or ErrTooManyValueNodes, wrapped in
// ErrMalformed, as soon as its header is read.
func DecodeCapped(b []byte, lim msgpackx.Limits, caps Caps) (*Doc, error) {
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
	caps = caps.resolved(lim)
	if err := msgpackx.CheckNodes(body, lim, caps.maxNodes()); err != nil {
		if errors.Is(err, msgpackx.ErrTooManyNodes) {
			return nil, fmt.Errorf("%w: %w: %w", ErrMalformed, ErrTooManyNodes, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	d, err := decodeBody(msgpackx.NewCanonicalReader(body), caps, lim)
	if err != nil {
		if errors.Is(err, msgpackx.ErrNotCanonical) && !errors.Is(err, ErrNotCanonical) {
			err = fmt.Errorf("%w: %w", ErrNotCanonical, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return d, nil
}

func notCanonical(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotCanonical}, args...)...)
}

func outOfDomain(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrOutOfDomain}, args...)...)
}

func decodeBody(r *msgpackx.Reader, caps Caps, lim msgpackx.Limits) (*Doc, error) {
	elems := r.ArrayHeader()
	if elems != 3 && elems != 4 {
		return nil, fmt.Errorf("top level has %d elements, want 3 (or 4 with texts)", elems)
	}
	nrep := r.ArrayHeader()
	if nrep > caps.MaxReplicas {
		return nil, overCap(ErrTooManyReplicas, caps.MaxReplicas)
	}
	replicas := make([]crdt.ReplicaID, nrep)
	for i := range replicas {
		s := r.StringBytes()
		if r.Err() != nil {
			return nil, r.Err()
		}
		if !utf8.Valid(s) {
			return nil, outOfDomain("replica id %q is not valid UTF-8", s)
		}
		replicas[i] = crdt.ReplicaID(s)
		if replicas[i] == "" || (i > 0 && replicas[i] <= replicas[i-1]) {
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
	// The context lists every replica of the table, in table order: the
	// table is the context's replicas (every dot is in the context).
	nctx := r.ArrayHeader()
	if r.Err() == nil && nctx != nrep {
		return nil, notCanonical("context has %d replicas, the table %d", nctx, nrep)
	}
	ranges := 0
	d.ctx.Grow(nrep)
	// Replicas' ranges are cut from slabs (each capped at its own length,
	// so that growing one copies it): a context of 60,000 replicas costs a
	// few allocations for its ranges, not 60,000. The first slab holds one
	// range per replica (each has at least one; the table was read, so
	// nrep is bounded by the input), the next ones double.
	slab := make([]crdt.Range, 0, nrep)
	// rangesAt[i] are the ranges of replica i of the table: every value's
	// dot is checked against them without looking its replica up by id.
	rangesAt := make([][]crdt.Range, nrep)
	for i := 0; i < nctx && r.Err() == nil; i++ {
		if r.ArrayHeader() != 2 {
			return nil, errors.New("context entry is not [replica, ranges]")
		}
		ridx := r.Uint()
		replica, err := replicaAt(ridx)
		if err != nil {
			return nil, err
		}
		if ridx != uint64(i) {
			return nil, notCanonical("context entry %d is for replica %d (entries follow the table)", i, ridx)
		}
		n := r.ArrayHeader()
		if n == 0 || n%2 != 0 {
			return nil, fmt.Errorf("context ranges of %q: %d numbers, want a positive even count", replica, n)
		}
		if ranges += n / 2; ranges > caps.MaxRanges {
			return nil, overCap(ErrTooManyRanges, caps.MaxRanges)
		}
		if len(slab)+n/2 > cap(slab) {
			slab = make([]crdt.Range, 0, max(n/2, 2*cap(slab)))
		}
		rs := slab[len(slab) : len(slab) : len(slab)+n/2]
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
			rs = append(rs, crdt.Range{Lo: lo, Hi: hi}) // ascending, gaps ≥ 1: valid as is
			prev = hi
		}
		slab = slab[:len(slab)+len(rs)]
		d.ctx.AddRanges(replica, rs)
		rangesAt[i] = rs
	}
	ngroups := r.ArrayHeader()
	// Every group holds at least one entry.
	if ngroups > caps.MaxValues {
		return nil, overCap(ErrTooManyValues, caps.MaxValues)
	}
	values, nodesLeft := 0, caps.MaxValueNodes
	// Subs (field names, sub-block ids) alias the decoder's copy of the
	// input, as ids and values do (aliasString): no allocation and no map
	// per distinct string. Most are not even validated again: groups of one
	// kind list mostly the same subs in the same order, compared below
	// with the previous group's.
	subString := func(b []byte) (string, error) {
		if !utf8.Valid(b) {
			return "", outOfDomain("string %q is not valid UTF-8", b)
		}
		return aliasString(b), nil
	}
	// A typical entry takes ~50 bytes (maps grow if needed); every group
	// holds one at least, which is the whole of a small client delta's
	// (a position is 70 bytes, 30 of them the entry).
	ld := newLoader(&d.store, &d.ctx, replicas, max(min(r.Remaining()/48, caps.MaxValues), ngroups), ngroups)
	var prevKind uint64
	var prevID string
	// subsAt[j] is the sub of the j-th entry of an earlier group (the
	// latest group that had to look it up).
	var subsAt [32]string
	for i := 0; i < ngroups && r.Err() == nil; i++ {
		if r.ArrayHeader() != 3 {
			return nil, errors.New("group is not [kind, id, entries]")
		}
		kind := r.Uint()
		if r.Err() == nil && (kind == 0 || kind > uint64(maxKind)) {
			return nil, fmt.Errorf("unknown kind %d", kind)
		}
		idb := r.StringBytes()
		if r.Err() != nil {
			break
		}
		id, err := ld.groupID(Kind(kind), idb)
		if err != nil {
			return nil, err
		}
		if i > 0 && (kind < prevKind || kind == prevKind && id <= prevID) {
			return nil, notCanonical("group (%d, %q) does not follow (%d, %q)", kind, id, prevKind, prevID)
		}
		prevKind, prevID = kind, id
		n := r.ArrayHeader()
		if r.Err() == nil && n == 0 {
			return nil, notCanonical("group (%d, %q) has no entries", kind, id)
		}
		if values += n; values > caps.MaxValues {
			return nil, overCap(ErrTooManyValues, caps.MaxValues)
		}
		membership := isMembership(Kind(kind))
		if r.Err() == nil {
			ld.group(Kind(kind), id, n)
		}
		var prevSub string
		var prevRidx, prevCounter uint64
		for j := 0; j < n && r.Err() == nil; j++ {
			if r.ArrayHeader() != 6 {
				return nil, errors.New("entry is not [sub, replica, counter, wall, logical, value]")
			}
			sb := r.StringBytes()
			sub := prevSub // a key's concurrent values repeat its sub
			switch {
			case j > 0 && string(sb) == prevSub:
			case j < len(subsAt) && string(sb) == subsAt[j]:
				// Groups of one kind list mostly the same subs in the
				// same order (a block's fields): compared, not hashed.
				sub = subsAt[j]
			default:
				if sub, err = subString(sb); err != nil {
					return nil, err
				}
				if j < len(subsAt) {
					subsAt[j] = sub
				}
			}
			ridx := r.Uint()
			replica, err := replicaAt(ridx)
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
			if membership && sub != "" {
				return nil, notCanonical("membership entry of (%d, %q) has sub %q", kind, id, sub)
			}
			if j > 0 && !entryAfter(sub, ridx, dot.Counter, prevSub, prevRidx, prevCounter) {
				return nil, notCanonical("entries of (%d, %q) out of order at %d", kind, id, j)
			}
			prevSub, prevRidx, prevCounter = sub, ridx, dot.Counter
			if logical > 1<<32-1 {
				return nil, fmt.Errorf("logical time %d out of range", logical)
			}
			if !crdt.ValidWall(wall) {
				return nil, outOfDomain("wall time %d beyond ±%d", wall, int64(crdt.MaxWall))
			}
			if !inRanges(rangesAt[ridx], dot.Counter) {
				return nil, fmt.Errorf("dot %v is not in the context", dot)
			}
			var v Value
			if len(raw) > 0 && raw[0] != 0xc0 {
				used, err := checkValue(raw, nodesLeft)
				if err != nil {
					if errors.Is(err, msgpackx.ErrTooManyNodes) {
						return nil, overCap(ErrTooManyValueNodes, caps.MaxValueNodes)
					}
					return nil, fmt.Errorf("value of (%d, %q, %q): %w", kind, id, sub, err)
				}
				nodesLeft -= used
				v = Value(raw[:len(raw):len(raw)])
			}
			if !ld.put(Kind(kind), sub, uint32(ridx), dot, Cell{Wall: wall, Logical: uint32(logical), Value: v}) {
				return nil, fmt.Errorf("dot %v appears twice", dot)
			}
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	ld.finish()
	if elems == 4 {
		if err := decodeTexts(r, d, lim, caps.MaxValues-values); err != nil {
			return nil, err
		}
	}
	if !r.Done() {
		return nil, errors.New("trailing bytes")
	}
	return d, nil
}

// inRanges reports whether c lies in one of rs, which are ascending and
// disjoint.
func inRanges(rs []crdt.Range, c uint64) bool {
	if len(rs) == 1 { // a replica with no gap: most of a document's
		return c >= rs[0].Lo && c <= rs[0].Hi
	}
	i, _ := slices.BinarySearchFunc(rs, c, func(r crdt.Range, c uint64) int { return cmp.Compare(r.Hi, c) })
	return i < len(rs) && rs[i].Lo <= c
}

// isMembership reports whether k is a set's membership, whose entries have
// no sub.
func isMembership(k Kind) bool { return k == KindBlock || k == KindEdge || k == KindVariable }

// entryAfter reports whether entry (sub, ridx, counter) sorts strictly after
// the previous one of its group: by sub, then replica (the table is sorted,
// so its index orders as its id), then counter.
func entryAfter(sub string, ridx, counter uint64, prevSub string, prevRidx, prevCounter uint64) bool {
	if sub != prevSub {
		return sub > prevSub
	}
	if ridx != prevRidx {
		return ridx > prevRidx
	}
	return counter > prevCounter
}

// checkValue holds an embedded value to the canonical value form, with
// non-finite numbers reported as out of the domain. raw is one well-formed
// value (Reader.Raw or an encoder returned it), as CheckCanonicalForm needs.
// It returns the value's nodes, refusing with msgpackx.ErrTooManyNodes past
// budget.
func checkValue(raw []byte, budget int) (int, error) {
	n, err := msgpackx.CheckCanonicalNodes(raw, budget)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, msgpackx.ErrTooManyNodes):
		return 0, err
	case errors.Is(err, msgpackx.ErrNonFinite):
		return 0, fmt.Errorf("%w: %w", ErrOutOfDomain, err)
	}
	return 0, fmt.Errorf("%w: %w", ErrNotCanonical, err)
}
