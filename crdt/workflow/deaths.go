package workflow

import (
	"cmp"
	"slices"
	"sort"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
)

// deaths records, for the catch-up (DeltaSince), which merge removed which
// dots, so that a replica that missed one edit is sent the dots that edit
// removed and not every dot the document's history removed.
//
// A replica whose context holds a dot has seen that dot's value, and,
// unless it has seen the value's removal too, may still hold it: the
// catch-up's context must name every removed dot such a replica may hold.
// What tells a removal seen is the dot the removing edit spent (every
// mutation spends one): a replica that has merged an edit has removed
// what the edit removed, and deltas carry whole edits. So each merge that
// removes values is recorded as a death: its key, the dots of the merged
// context the document had not seen (the removing edit's own dot is among
// them), and the dots it removed (held values it dropped, and dots of
// values it never held that arrived removed). A replica whose context
// holds every dot of a death's key has seen the edit that removed them;
// one that lacks any of them is sent the death's dots. That costs the
// deaths of the dots the replica lacks: O(the edits it missed).
//
// Coarser keys stay correct, only less precise: the oldest deaths are
// folded into base, keyed by the union of their keys (and, when the index
// is built from a decoded document, by the whole context, since who
// removed what is not encoded): a replica lacking any dot of base is sent
// every removed dot of the document, as before. The deaths kept are
// bounded (maxDeaths, maxDeathSpans), so their memory is bounded too.
//
// Text deletes are recorded the same way, by the marker of their text:
// a delete spends no dot of its own in the text, but the edit that makes
// it spends one of the document's.
//
// A merge that removes values without bringing a dot the document had not
// seen cannot name the edit responsible (a part of a StepMerge names the
// rest of its delta instead; see StepMerge.Step): what it removed is kept
// in sticky and sent with every catch-up.
type deaths struct {
	recs  []death // oldest first; recs[i] has sequence number first+i
	first uint64
	spans []span     // the key and dots of each record, in record order
	texts []textDead // the text changes of each record, in record order
	// keys lists, per replica, the key ranges of the records, sorted and
	// disjoint: a dot is unseen by the document in one merge only.
	keys   map[crdt.ReplicaID][]deathKey
	base   crdt.Context // the keys of folded deaths, and the context at build
	sticky crdt.Context // removed dots no death's key accounts for
	// stickyTexts are text deletes no death's key accounts for.
	stickyTexts []textDead

	// Scratch of the merge in progress, kept to spare allocations per edit.
	fresh []span // the delta's dots the document had not seen, sorted
	gone  []span // the dots the merge removed
	tgone []textDead
	// tkilled: the merge deleted text items that were not deleted
	tkilled bool
	// override, when set, is the key of the next merge's deaths instead
	// of its fresh dots (a StepMerge part: the rest of its delta).
	override *crdt.Context
}

// span is a range of one replica's counters.
type span struct {
	replica crdt.ReplicaID
	rg      crdt.Range
}

// textDead is a range of deleted items of the text whose marker is m, or
// with a zero range, a change of that text.
type textDead struct {
	m    crdt.Dot
	dead text.Dead
}

// death is one merge's record: spans[key:gone] is its key, spans[gone:end]
// the dots it removed, texts[text:tend] the text items it deleted.
type death struct{ key, gone, end, text, tend int }

// deathKey is a range of a death's key, in the index by replica.
type deathKey struct {
	rg  crdt.Range
	seq uint64
}

const (
	// maxDeaths is how many deaths are kept apart before the oldest half
	// are folded into base: enough for the edits a reconnecting replica
	// typically missed (a replica that missed more gets every removed dot),
	// few enough that a busy document's deaths cost ~100 KB at most.
	maxDeaths = 1024
	// maxDeathSpans bounds the spans of the deaths kept apart (a catch-up
	// merged from a peer can remove many dots at once): 32 B each.
	maxDeathSpans = 1 << 14
)

func compareSpans(a, b span) int {
	if c := cmp.Compare(a.replica, b.replica); c != 0 {
		return c
	}
	return cmp.Compare(a.rg.Lo, b.rg.Lo)
}

// begin computes the fresh dots of merging delta into a document whose
// context is have, before the merge.
func (x *deaths) begin(delta, have *crdt.Context) {
	x.fresh, x.gone, x.tgone, x.tkilled = x.fresh[:0], x.gone[:0], x.tgone[:0], false
	if x.override != nil {
		delta, have = x.override, &crdt.Context{}
	}
	delta.EachReplica(func(r crdt.ReplicaID, rs []crdt.Range) {
		var scratch [4]crdt.Range
		for _, rg := range crdt.AppendMissing(scratch[:0], rs, have.Ranges(r)) {
			x.fresh = append(x.fresh, span{r, rg})
		}
	})
	slices.SortFunc(x.fresh, compareSpans)
}

// isFresh reports whether dot was unseen before the merge in progress.
func (x *deaths) isFresh(d crdt.Dot) bool {
	i := sort.Search(len(x.fresh), func(i int) bool {
		s := x.fresh[i]
		return s.replica > d.Replica || s.replica == d.Replica && s.rg.Hi >= d.Counter
	})
	return i < len(x.fresh) && x.fresh[i].replica == d.Replica && x.fresh[i].rg.Lo <= d.Counter
}

// removed notes that the merge in progress removed dot.
func (x *deaths) removed(d crdt.Dot) {
	if n := len(x.gone); n > 0 && x.gone[n-1].replica == d.Replica && x.gone[n-1].rg.Hi+1 == d.Counter {
		x.gone[n-1].rg.Hi = d.Counter
		return
	}
	x.gone = append(x.gone, span{d.Replica, crdt.Range{Lo: d.Counter, Hi: d.Counter}})
}

// removedRange notes that the merge in progress removed the dots of rg.
func (x *deaths) removedRange(r crdt.ReplicaID, rg crdt.Range) {
	x.gone = append(x.gone, span{r, rg})
}

// textChanged notes that the merge in progress changed the text whose
// marker is m: an entry with no range says so (CatchUp visits only the
// texts that the edits a replica lacks changed), and one per range of ds
// names the items it deleted (killed: some were not deleted before).
func (x *deaths) textChanged(m crdt.Dot, ds []text.Dead, killed bool) {
	x.tgone = append(x.tgone, textDead{m: m})
	for _, d := range ds {
		x.tgone = append(x.tgone, textDead{m, d})
	}
	x.tkilled = x.tkilled || killed
}

// end records the merge in progress.
func (x *deaths) end() {
	defer func() {
		clear(x.tgone) // drop the replica ids until the next merge
		x.fresh, x.gone, x.tgone, x.tkilled = x.fresh[:0], x.gone[:0], x.tgone[:0], false
	}()
	if len(x.gone) == 0 && len(x.tgone) == 0 {
		return
	}
	if len(x.fresh) == 0 {
		for _, g := range x.gone {
			x.sticky.AddRange(g.replica, g.rg)
		}
		if x.tkilled {
			// A delete merged again kills nothing: only one that did
			// is kept (a replica re-sending its outbox must not make
			// every text delete sticky).
			x.stickyTexts = append(x.stickyTexts, x.tgone...)
		}
		return
	}
	if x.recs == nil {
		// Sized for a stream of edits, so that they do not pay the
		// doubling from nothing one allocation at a time.
		x.recs, x.spans = make([]death, 0, 128), make([]span, 0, 512)
		x.keys = map[crdt.ReplicaID][]deathKey{}
	}
	seq := x.first + uint64(len(x.recs))
	k := len(x.spans)
	x.spans = append(x.spans, x.fresh...)
	g := len(x.spans)
	x.spans = append(x.spans, x.gone...)
	t := len(x.texts)
	x.texts = append(x.texts, x.tgone...)
	x.recs = append(x.recs, death{k, g, len(x.spans), t, len(x.texts)})
	for _, f := range x.fresh {
		ks := x.keys[f.replica]
		key := deathKey{f.rg, seq}
		if ks == nil {
			ks = make([]deathKey, 0, 64)
		}
		if n := len(ks); n == 0 || ks[n-1].rg.Hi < f.rg.Lo {
			ks = append(ks, key)
		} else {
			i := sort.Search(n, func(i int) bool { return ks[i].rg.Lo > f.rg.Hi })
			ks = slices.Insert(ks, i, key)
		}
		x.keys[f.replica] = ks
	}
	if len(x.recs) > maxDeaths || len(x.spans) > maxDeathSpans {
		x.fold(max(1, len(x.recs)/2))
	}
}

// fold moves the n oldest deaths into base.
func (x *deaths) fold(n int) {
	keys := make([]span, 0, x.recs[n-1].gone)
	for _, d := range x.recs[:n] {
		keys = append(keys, x.spans[d.key:d.gone]...)
	}
	slices.SortFunc(keys, compareSpans)
	var folded crdt.Context
	for _, s := range keys {
		folded.AddRange(s.replica, s.rg) // sorted: appends or extends
	}
	x.base.Merge(&folded)
	cut, tcut := x.recs[n-1].end, x.recs[n-1].tend
	x.spans = x.spans[:copy(x.spans, x.spans[cut:])]
	clear(x.texts[len(x.texts)-tcut:])
	x.texts = x.texts[:copy(x.texts, x.texts[tcut:])]
	x.recs = x.recs[:copy(x.recs, x.recs[n:])]
	for i := range x.recs {
		x.recs[i].key -= cut
		x.recs[i].gone -= cut
		x.recs[i].end -= cut
		x.recs[i].text -= tcut
		x.recs[i].tend -= tcut
	}
	x.first += uint64(n)
	for r, ks := range x.keys {
		kept := ks[:0]
		for _, k := range ks {
			if k.seq >= x.first {
				kept = append(kept, k)
			}
		}
		if len(kept) == 0 {
			delete(x.keys, r)
			continue
		}
		x.keys[r] = kept
	}
}

// lacking returns the removed dots a replica that lacks missing (a part
// of the document's context) may still hold, or all = true when that is
// every removed dot of the document (or finding out would cost more than
// budget spans: then sending them all is cheaper).
func (x *deaths) lacking(missing *crdt.Context, budget int) (extra *crdt.Context, texts map[crdt.Dot][]text.Dead, all bool) {
	var hit []uint64
	all = false
	missing.EachReplica(func(r crdt.ReplicaID, mrs []crdt.Range) {
		if all {
			return
		}
		if overlaps(x.base.Ranges(r), mrs) {
			all = true
			return
		}
		ks := x.keys[r]
		for _, mr := range mrs {
			i := sort.Search(len(ks), func(i int) bool { return ks[i].rg.Hi >= mr.Lo })
			for ; i < len(ks) && ks[i].rg.Lo <= mr.Hi; i++ {
				hit = append(hit, ks[i].seq)
			}
			if len(hit) > budget {
				all = true
				return
			}
		}
	})
	if all {
		return nil, nil, true
	}
	slices.Sort(hit)
	hit = slices.Compact(hit)
	var gone []span
	tds := slices.Clone(x.stickyTexts)
	for _, seq := range hit {
		d := x.recs[seq-x.first]
		gone = append(gone, x.spans[d.gone:d.end]...)
		tds = append(tds, x.texts[d.text:d.tend]...)
		if len(gone)+len(tds) > budget {
			return nil, nil, true
		}
	}
	texts = map[crdt.Dot][]text.Dead{}
	for _, td := range tds {
		ds := texts[td.m]
		if td.dead.Lo != 0 { // 0: the text changed, no delete
			ds = append(ds, td.dead)
		}
		texts[td.m] = ds
	}
	for m, ds := range texts {
		texts[m] = normalizeDeads(ds)
	}
	slices.SortFunc(gone, compareSpans)
	extra = &crdt.Context{}
	for _, g := range gone {
		extra.AddRange(g.replica, g.rg)
	}
	extra.Merge(&x.sticky)
	return extra, texts, false
}

// normalizeDeads sorts ds by replica and counter and coalesces the ranges
// that overlap or touch.
func normalizeDeads(ds []text.Dead) []text.Dead {
	slices.SortFunc(ds, func(a, b text.Dead) int {
		if c := cmp.Compare(a.Replica, b.Replica); c != 0 {
			return c
		}
		return cmp.Compare(a.Lo, b.Lo)
	})
	out := ds[:0]
	for _, d := range ds {
		// Lo ≥ 1: Lo-1 does not wrap, Hi+1 might
		if n := len(out); n > 0 && out[n-1].Replica == d.Replica && d.Lo-1 <= out[n-1].Hi {
			out[n-1].Hi = max(out[n-1].Hi, d.Hi)
			continue
		}
		out = append(out, d)
	}
	return out
}

// overlaps reports whether two sorted sets of ranges share a counter, at
// the cost of a binary search into a per range of b.
func overlaps(a, b []crdt.Range) bool {
	if len(a) == 0 {
		return false
	}
	for _, r := range b {
		i := sort.Search(len(a), func(i int) bool { return a[i].Hi >= r.Lo })
		if i < len(a) && a[i].Lo <= r.Hi {
			return true
		}
	}
	return false
}
