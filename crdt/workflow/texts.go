package workflow

import (
	"cmp"
	"slices"
	"sync/atomic"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
)

// A text key's value can be a collaborative text (crdt/text) instead of one
// last-writer-wins value. The key's winning entry then holds the text
// marker, and the marker's dot names the text's record: the record holds
// the text's items, which are dots of the document's own context (an
// insert of n code points spends n counters of its author). Whoever
// overwrites the key, or removes its block or variable, removes the marker
// and with it the record, in every replica alike: a record is dropped once
// its marker's dot is in the context and not in the store.
// docs/ARCHITECTURE.md "Text fields" and docs/PROTOCOL.md §7.9 tell the
// whole design.

// markerValue is the value of a text key's entry that makes the key a text:
// a msgpack bin of the one byte 0x01, which JSON cannot produce and no
// operation may write as an ordinary value.
var markerValue = Value{0xc4, 0x01, 0x01}

// isTextMarker reports whether v is the text marker.
func (v Value) isTextMarker() bool {
	return len(v) == 3 && v[0] == 0xc4 && v[1] == 0x01 && v[2] == 0x01
}

// TextSubBlockTypes are the sub-block types whose values are texts: the
// reference editor's free-text inputs (long-input holds prompts, system
// prompts and descriptions; code holds code, JSON and schemas; textarea).
var TextSubBlockTypes = []string{"code", "long-input", "textarea"}

// IsTextSubBlockType reports whether a sub-block of type t holds a text.
func IsTextSubBlockType(t string) bool {
	_, ok := slices.BinarySearch(TextSubBlockTypes, t)
	return ok
}

// IsTextVariableType reports whether a variable of type t holds its value
// as a text: the string types.
func IsTextVariableType(t string) bool { return t == "plain" || t == "string" }

// textRec is one text record as a document or delta holds it: a replica of
// the text and the runs it holds but cannot place yet, because their
// origins have not arrived (deltas may be merged in any order; the runs are
// placed when their origins come). Every document, delta or state, keeps
// its records in this one form, so equal records encode equally: the placed
// runs in document order, then the waiting ones by dot.
type textRec struct {
	t    *text.Text
	wait []text.Run // sorted by dot, disjoint, none known to t, continuing runs folded

	// enc is the record's encoding (encode), kept until add changes the
	// record: a decoded record keeps the bytes it was read from, so that
	// encoding a loaded document (a snapshot, a catch-up, chunks) does not
	// rebuild every text it holds. Atomic because a document that nobody
	// changes may be encoded from several goroutines at once; the bytes
	// are never written to.
	enc atomic.Pointer[[]byte]
	// val is the record's string as a value (textValue), kept the same
	// way: a view reads every text of the document.
	val atomic.Pointer[Value]
}

func newTextRec() *textRec { return &textRec{t: text.New()} }

// isEmpty reports whether r holds nothing: no item and no deleted dot.
func (r *textRec) isEmpty() bool {
	return len(r.wait) == 0 && r.t.IsEmpty()
}

// add merges a text delta (runs, deleted ranges) into r.
func (r *textRec) add(d *text.Delta) {
	r.enc.Store(nil)
	r.val.Store(nil)
	for i := range d.Runs {
		for _, piece := range r.t.Unknown(d.Runs[i]) {
			r.addWait(piece)
		}
	}
	if len(d.Deleted) > 0 {
		_ = r.t.Merge(text.Delta{Deleted: d.Deleted}) // ranges only: refused only when malformed, which decoding excludes
	}
	r.settle()
}

// addWait adds run x to the waiting runs, leaving out the items already
// waiting.
func (r *textRec) addWait(x text.Run) {
	i, _ := slices.BinarySearchFunc(r.wait, x.ID, func(w text.Run, d crdt.Dot) int { return compareDots(w.ID, d) })
	// Items of x already waiting (in the run before i or from i on) are left out.
	lo, hi := x.ID.Counter, x.Last().Counter
	if i > 0 {
		if p := &r.wait[i-1]; p.ID.Replica == x.ID.Replica && p.Last().Counter >= lo {
			lo = p.Last().Counter + 1
		}
	}
	var pieces []text.Run
	j := i
	for ; lo <= hi && j < len(r.wait) && r.wait[j].ID.Replica == x.ID.Replica && r.wait[j].ID.Counter <= hi; j++ {
		if w := &r.wait[j]; w.ID.Counter > lo {
			pieces = append(pieces, text.CutRun(x, lo, w.ID.Counter-1))
		}
		lo = max(lo, r.wait[j].Last().Counter+1)
	}
	if lo <= hi {
		pieces = append(pieces, text.CutRun(x, lo, hi))
	}
	if len(pieces) == 0 {
		return
	}
	r.wait = slices.Insert(r.wait, i, pieces...)
	slices.SortFunc(r.wait[i:], func(a, b text.Run) int { return compareDots(a.ID, b.ID) })
}

// settle places every waiting run whose origins are known or themselves
// placeable, and folds what still waits.
func (r *textRec) settle() {
	if len(r.wait) == 0 {
		return
	}
	// Usually every run can be placed (a delta carries what its runs need,
	// or the receiver holds it): one merge does it. A run with an origin
	// that is neither known nor waiting dooms that merge (a typing delta
	// decoded on its own, without the text it edits: every log row of a
	// load): skip it rather than pay for its error.
	if r.originsAvailable() && r.t.Merge(r.delta(r.wait)) == nil {
		r.wait = r.wait[:0]
		return
	}
	for progress := true; progress && len(r.wait) > 0; {
		progress = false
		kept := r.wait[:0]
		for _, w := range r.wait {
			if r.t.Knows(w.Left) && r.t.Knows(w.Right) && r.t.Merge(r.delta([]text.Run{w})) == nil {
				progress = true
				continue
			}
			kept = append(kept, w)
		}
		clear(r.wait[len(kept):])
		r.wait = kept
	}
	r.fold()
}

// originsAvailable reports whether every origin of the waiting runs is
// known to r.t or an item of a waiting run: what merging them all at once
// needs (text.Text.Merge refuses the delta otherwise, ErrMissingOrigin).
func (r *textRec) originsAvailable() bool {
	for i := range r.wait {
		for _, o := range [2]crdt.Dot{r.wait[i].Left, r.wait[i].Right} {
			if !r.t.Knows(o) && !r.waiting(o) {
				return false
			}
		}
	}
	return true
}

// waiting reports whether d is an item of a waiting run.
func (r *textRec) waiting(d crdt.Dot) bool {
	i, found := slices.BinarySearchFunc(r.wait, d, func(w text.Run, d crdt.Dot) int { return compareDots(w.ID, d) })
	if found {
		return true
	}
	if i == 0 {
		return false
	}
	w := &r.wait[i-1]
	return w.ID.Replica == d.Replica && d.Counter <= w.Last().Counter
}

// delta returns runs as a text delta, with the dots of those without
// content deleted (a run without content is deleted by definition).
func (r *textRec) delta(runs []text.Run) text.Delta {
	d := text.Delta{Runs: runs}
	for i := range runs {
		if runs[i].Text == "" {
			d.Deleted = append(d.Deleted, text.Dead{Replica: runs[i].ID.Replica, Range: crdt.Range{Lo: runs[i].ID.Counter, Hi: runs[i].Last().Counter}})
		}
	}
	return d
}

// fold joins waiting runs that continue one another.
func (r *textRec) fold() {
	out := r.wait[:0]
	for _, w := range r.wait {
		if n := len(out); n > 0 && text.Continues(&out[n-1], &w) {
			out[n-1].Len += w.Len
			out[n-1].Text += w.Text
			continue
		}
		out = append(out, w)
	}
	clear(r.wait[len(out):])
	r.wait = out
}

// since returns what a replica whose context is have lacks of r (nil: the
// whole record): the runs of items not in have, placed ones in document
// order then waiting ones by dot, and every deleted dot (deletes spend no
// dot, so have cannot tell which ones it has seen).
func (r *textRec) since(have *crdt.Context) text.Delta {
	d := r.t.DeltaSince(have)
	for _, w := range r.wait {
		if have == nil {
			d.Runs = append(d.Runs, w)
			continue
		}
		for _, piece := range missingPieces(w, have) {
			d.Runs = append(d.Runs, piece)
		}
	}
	return d
}

// missingPieces returns the pieces of w whose dots have lacks.
func missingPieces(w text.Run, have *crdt.Context) []text.Run {
	var out []text.Run
	lo, hi := w.ID.Counter, w.Last().Counter
	for _, rg := range have.Ranges(w.ID.Replica) {
		if rg.Hi < lo {
			continue
		}
		if rg.Lo > hi {
			break
		}
		if rg.Lo > lo {
			out = append(out, text.CutRun(w, lo, rg.Lo-1))
		}
		lo = rg.Hi + 1
		if lo > hi {
			return out
		}
	}
	return append(out, text.CutRun(w, lo, hi))
}

// encode returns the canonical encoding of the whole record.
// The bytes are shared: callers must not write to them.
func (r *textRec) encode() []byte {
	if p := r.enc.Load(); p != nil {
		return *p
	}
	d := r.since(nil)
	b := text.Encode(&d)
	r.enc.Store(&b)
	return b
}

// clone returns an independent copy of r.
func (r *textRec) clone() *textRec {
	c := &textRec{t: r.t.Clone(), wait: slices.Clone(r.wait)}
	c.enc.Store(r.enc.Load()) // the bytes are never written to
	c.val.Store(r.val.Load())
	return c
}

// itemDots returns the dots of every item r holds, placed or waiting.
func (r *textRec) itemDots() *crdt.Context {
	c := r.t.Context()
	for _, w := range r.wait {
		c.AddRange(w.ID.Replica, crdt.Range{Lo: w.ID.Counter, Hi: w.Last().Counter})
	}
	return c
}

// textRemoved reports whether the record named by marker dot m is removed
// in d: its marker's dot seen and no longer held.
func (d *Doc) textRemoved(m crdt.Dot) bool {
	return d.ctx.Contains(m) && !d.store.Has(m)
}

// mergeTexts joins delta's records into d after the store and the context
// were joined: records whose marker the join removed are dropped, and the
// delta's records are merged unless d has seen their marker removed.
func (d *Doc) mergeTexts(delta *Doc) {
	if len(d.texts) > 0 && !delta.ctx.IsEmpty() {
		// Visit the smaller side: a typing delta names a few dots, a
		// document may hold thousands of texts.
		if delta.ctx.Len() <= uint64(len(d.texts)) {
			delta.ctx.ForEach(func(m crdt.Dot) bool {
				if _, ok := d.texts[m]; ok && !d.store.Has(m) {
					delete(d.texts, m)
				}
				return true
			})
		} else {
			for m := range d.texts {
				if delta.ctx.Contains(m) && !d.store.Has(m) {
					delete(d.texts, m)
				}
			}
		}
	}
	for m, dr := range delta.texts {
		if d.textRemoved(m) || dr.isEmpty() {
			continue
		}
		r := d.texts[m]
		if r == nil {
			if d.texts == nil {
				d.texts = map[crdt.Dot]*textRec{}
			}
			r = newTextRec()
			d.texts[m] = r
		}
		td := dr.since(nil)
		killed := r.t.Killed()
		r.add(&td)
		if d.idx != nil {
			d.idx.deaths.textChanged(m, td.Deleted, r.t.Killed() != killed)
		}
	}
}

// textIDs returns the record ids of d sorted by (replica, counter), the
// order of the encoding.
func (d *Doc) textIDs() []crdt.Dot {
	ids := make([]crdt.Dot, 0, len(d.texts))
	for m := range d.texts {
		ids = append(ids, m)
	}
	slices.SortFunc(ids, func(a, b crdt.Dot) int {
		if c := cmp.Compare(a.Replica, b.Replica); c != 0 {
			return c
		}
		return cmp.Compare(a.Counter, b.Counter)
	})
	return ids
}

// cloneTexts returns a deep copy of d's records.
func (d *Doc) cloneTexts() map[crdt.Dot]*textRec {
	if len(d.texts) == 0 {
		return nil
	}
	out := make(map[crdt.Dot]*textRec, len(d.texts))
	for m, r := range d.texts {
		out[m] = r.clone()
	}
	return out
}

// equalTexts reports whether d and o hold the same records.
func (d *Doc) equalTexts(o *Doc) bool {
	if len(d.texts) != len(o.texts) {
		return false
	}
	for m, r := range d.texts {
		or := o.texts[m]
		if or == nil || string(r.encode()) != string(or.encode()) {
			return false
		}
	}
	return true
}

// textString returns the string of the record named by marker dot m ("" for
// a record that holds nothing yet).
func (d *Doc) textString(m crdt.Dot) string {
	if r := d.texts[m]; r != nil {
		return r.t.String()
	}
	return ""
}

// textValue returns what a reader that does not know texts sees of the
// record named by m: its string as a value.
// The bytes are shared (capped, so an append copies): callers must not
// write to them.
func (d *Doc) textValue(m crdt.Dot) Value {
	r := d.texts[m]
	if r == nil {
		return stringValue("")
	}
	if p := r.val.Load(); p != nil {
		return *p
	}
	v := slices.Clip(stringValue(r.t.String()))
	r.val.Store(&v)
	return v
}

// textsSince returns the records of d as a replica whose context is have
// lacks them (DeltaSince): the runs it lacks and every deleted dot. With
// only set, runs of other replicas and runs in skip are left out
// (WritesSince: a replica sends only its own items). With deleted set
// (CatchUp), only the records it names are visited, those the edits have
// lacks changed, and their deleted dots are those it names instead of
// all (the items have lacks come as dead runs).
func (d *Doc) textsSince(have *crdt.Context, only crdt.ReplicaID, skip *crdt.Context, deleted *map[crdt.Dot][]text.Dead) map[crdt.Dot]*textRec {
	var out map[crdt.Dot]*textRec
	visit := d.texts
	if deleted != nil {
		visit = make(map[crdt.Dot]*textRec, len(*deleted))
		for m := range *deleted {
			if r := d.texts[m]; r != nil {
				visit[m] = r
			}
		}
	}
	for m, r := range visit {
		td := r.since(have)
		if deleted != nil {
			td.Deleted = (*deleted)[m]
		}
		if only != "" {
			runs := td.Runs[:0]
			for _, x := range td.Runs {
				if x.ID.Replica != only {
					continue
				}
				if skip == nil {
					runs = append(runs, x)
					continue
				}
				runs = append(runs, missingPieces(x, skip)...)
			}
			td.Runs = runs
		}
		if td.IsEmpty() {
			continue
		}
		rec := newTextRec()
		rec.add(&td)
		if out == nil {
			out = map[crdt.Dot]*textRec{}
		}
		out[m] = rec
	}
	return out
}

// textValues is what d's records count as values under the caps: one per
// record and one per run.
func (d *Doc) textValues() int {
	n := 0
	for _, r := range d.texts {
		n += 1 + len(r.wait)
		n += r.t.NumSpans()
	}
	return n
}

// textChunks encodes d's records as deltas for EncodeChunks, several
// records a chunk while they fit limit and caps, each with a context of its
// items' dots, and returns them with those contexts (one per record: the
// caller unites them once, crdt.Union). A record that alone passes limit or
// the caps is one chunk. The cut is the TypeScript SDK's too (golden chunk
// vectors): by the exact ranges of the chunk's context.
func (d *Doc) textChunks(limit int, caps Caps) ([][]byte, []*crdt.Context) {
	var items []*crdt.Context
	var out [][]byte
	cur := &Doc{}
	size, values := 0, 0
	flush := func() {
		if len(cur.texts) > 0 {
			out = append(out, cur.Encode())
		}
		cur, size, values = &Doc{}, 0, 0
	}
	for _, m := range d.textIDs() {
		r := d.texts[m]
		if r.isEmpty() {
			continue
		}
		dots := r.itemDots()
		items = append(items, dots)
		n := len(r.encode()) + 16 + len(m.Replica)
		v := 1 + len(r.wait)
		v += r.t.NumSpans()
		if len(cur.texts) > 0 && (size+n > limit || values+v > caps.MaxValues ||
			cur.ctx.NumRanges()+dots.NumRanges() > caps.MaxRanges) {
			flush()
		}
		if cur.texts == nil {
			cur.texts = map[crdt.Dot]*textRec{}
		}
		cur.texts[m] = r
		cur.ctx.Merge(dots)
		size, values = size+n, values+v
	}
	flush()
	return out, items
}

// textKeyOf returns the key a text target names, without checking it.
func (t TextTarget) rawKey() Key {
	if t.VariableID != "" {
		return variableFieldKey(t.VariableID, VarFieldValue)
	}
	return subBlockKey(t.BlockID, t.SubBlockID)
}

// liveRecord returns the record of the text at t, if t is a text now.
func (d *Doc) liveRecord(t TextTarget) (crdt.Dot, *textRec, bool) {
	w, ok := current(d, t.rawKey())
	if !ok || !w.Value.Value.isTextMarker() {
		return crdt.Dot{}, nil, false
	}
	r := d.texts[w.Dot]
	if r == nil {
		r = newTextRec() // a text that holds nothing yet
	}
	return w.Dot, r, true
}

// Text returns the string of the text field t names and true, or false when
// that field is not a text (absent, or holding another value).
func (d *Doc) Text(t TextTarget) (string, bool) {
	_, r, ok := d.liveRecord(t)
	if !ok {
		return "", false
	}
	return r.t.String(), true
}

// TextLen returns the length in code points of the text field t names (0
// when it is not a text).
func (d *Doc) TextLen(t TextTarget) int {
	_, r, ok := d.liveRecord(t)
	if !ok {
		return 0
	}
	return r.t.Len()
}

// TextAnchor returns the stable position of code point index pos of the
// text t names: a caret that stays with its character while others edit.
func (d *Doc) TextAnchor(t TextTarget, pos int) (text.Anchor, error) {
	_, r, ok := d.liveRecord(t)
	if !ok {
		return text.Anchor{}, errorf(ErrInvalid, "not a text field")
	}
	return r.t.Anchor(pos)
}

// ResolveTextAnchor returns the code point index anchor a stands at in the
// text t names.
func (d *Doc) ResolveTextAnchor(t TextTarget, a text.Anchor) (int, error) {
	_, r, ok := d.liveRecord(t)
	if !ok {
		return 0, errorf(ErrInvalid, "not a text field")
	}
	return r.t.Resolve(a)
}

// TextKeys returns the keys of the text fields delta edits, as d (or the
// delta itself, for a text it creates) names them: what a text edit
// writes, for checks and reports that look at the keys a delta writes
// (locks, audit, change events). Records d has dropped or does not know
// are left out.
func (d *Doc) TextKeys(delta *Doc) []Key {
	var out []Key
	for _, m := range delta.textIDs() {
		if k, ok := d.store.KeyOf(m); ok {
			out = append(out, k)
		} else if k, ok := delta.store.KeyOf(m); ok {
			out = append(out, k)
		}
	}
	return out
}
