// Package workflow is the collaborative workflow document: blocks with their
// fields and sub-block values, edges, loop and parallel containers
// (subflows) and variables, held as one delta-state CRDT over a single causal
// context. It provides every operation of the reference editor as a function
// that reads the document and returns a delta, and the materialized view an
// editor renders, with the graph rules enforced the same way on every replica.
//
// Like package crdt it is pure: no goroutines, no I/O, no wall clock. Callers
// pass hybrid-logical timestamps in.
package workflow

import (
	"github.com/flowsync/flowsync/crdt"
)

// Kind says which part of the document a key belongs to. Values are part of
// the encoding: never renumber them.
type Kind uint8

const (
	// KindBlock is block membership (an add-wins OR-set): ID is the block id,
	// Sub is empty, the value is nil.
	KindBlock Kind = 1
	// KindBlockField is a block field (LWW): ID is the block id, Sub the field
	// name (see the Field* constants).
	KindBlockField Kind = 2
	// KindSubBlock is a sub-block value (LWW): ID is the block id, Sub the
	// sub-block id.
	KindSubBlock Kind = 3
	// KindSubBlockType is a sub-block's type (LWW), e.g. "short-input".
	KindSubBlockType Kind = 4
	// KindEdge is edge membership (an add-wins OR-set): ID is the edge id and
	// the value is the edge's endpoints, written once by the add.
	KindEdge Kind = 5
	// KindSubflow is a loop or parallel config key (LWW): ID is the container
	// block id, Sub the config key.
	KindSubflow Kind = 6
	// KindVariable is variable membership (an add-wins OR-set).
	KindVariable Kind = 7
	// KindVariableField is a variable field (LWW): Sub is name, type or value.
	KindVariableField Kind = 8

	maxKind = KindVariableField
)

// Key addresses one register or set element of the document.
type Key struct {
	Kind Kind
	ID   string
	Sub  string
}

// Value is a field value in canonical msgpack (see msgpackx.Canonical).
type Value []byte

// Cell is what the document stores under a dot: a value and the hybrid
// logical time it was written at.
type Cell = crdt.Register[Value]

// Doc is a workflow document, and also a delta: a delta is a document that
// holds only what changed. The zero Doc is empty and ready to use.
//
// A Doc is not safe for concurrent use, not even by readers only: Prepare
// and DeltaSince build its index (index.go) the first time they need it.
// Write to a document through Store or Context only while building it,
// before either reads it.
type Doc struct {
	ctx   crdt.Context
	store Store
	// idx is derived from store and ctx; nil until first needed (or
	// PrimeIndex), then kept by every merge.
	idx *docIndex
	// version counts merges, so that a caller can keep what it derived from
	// the document (an encoding) until the next one.
	version uint64
	// texts are the text records by the dot of their marker (texts.go).
	texts map[crdt.Dot]*textRec
}

// Version returns a number that changes whenever d is merged into: a copy of
// an encoding of d made at one version is an encoding of d as long as the
// version stays the same (writes through Store or Context do not count).
func (d *Doc) Version() uint64 { return d.version }

// New returns an empty document.
func New() *Doc { return &Doc{} }

// Context returns the document's causal context. It belongs to the document.
func (d *Doc) Context() *crdt.Context { return &d.ctx }

// Store returns the document's dot store. It belongs to the document.
func (d *Doc) Store() *Store { return &d.store }

// Merge joins delta into d and returns how many stored values it added or
// removed. Merging is commutative, associative and idempotent.
func (d *Doc) Merge(delta *Doc) int {
	d.version++
	if d.idx != nil {
		n := d.idx.merge(d, delta)
		d.mergeTexts(delta)
		d.idx.deaths.end()
		return n
	}
	n := d.store.Join(&delta.store, &d.ctx, &delta.ctx)
	d.ctx.Merge(&delta.ctx)
	d.mergeTexts(delta)
	return n
}

// DeltaSince returns what a replica whose causal context is have lacks: the
// writes it has not seen and the removals it has not seen. It visits only
// the values have lacks (see docIndex.since).
//
// Its context names every dot d removed, so the delta is the same whatever
// have removed already; it is the one the TypeScript port computes byte for
// byte. A server's catch-up uses CatchUp.
func (d *Doc) DeltaSince(have *crdt.Context) *Doc { return d.index().since(d, have, false) }

// CatchUp returns a delta that makes a replica whose causal context is have
// what d is, as DeltaSince does, but whose context names only the removed
// dots that replica may still hold: those removed by the edits it lacks
// (deaths.go). A replica missing one edit is sent that edit, not every
// removal of the document's history. It relies on what every delta
// carries: a replica that has merged an edit's dot has merged its
// removals. Where d cannot tell (removals older than its index, or older
// than the deaths it keeps), it names every removed dot, as DeltaSince.
func (d *Doc) CatchUp(have *crdt.Context) *Doc { return d.index().since(d, have, true) }

// Clone returns an independent copy of d.
func (d *Doc) Clone() *Doc {
	return &Doc{ctx: *d.ctx.Clone(), store: *d.store.Clone(), texts: d.cloneTexts()}
}

// IsEmpty reports whether d holds no value and no context: an empty delta.
func (d *Doc) IsEmpty() bool {
	return d.store.NumDots() == 0 && d.ctx.IsEmpty() && len(d.texts) == 0
}

// Equal reports whether d and o are the same state: the same causal context
// and the same values under the same dots.
func (d *Doc) Equal(o *Doc) bool {
	if !d.ctx.Equal(&o.ctx) || d.store.NumDots() != o.store.NumDots() || !d.equalTexts(o) {
		return false
	}
	equal := true
	d.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			ok, found := o.cellAt(k, e.Dot)
			if !found || ok.Wall != e.Value.Wall || ok.Logical != e.Value.Logical || !sameCellValue(ok.Value, e.Value.Value) {
				equal = false
				return false
			}
		}
		return true
	})
	return equal
}

// sameCellValue reports whether two cell values are the same: an explicit msgpack
// nil is no value, as in the encoding (which writes both as nil and decodes
// nil as no value).
func sameCellValue(a, b Value) bool {
	isNil := func(v Value) bool { return len(v) == 0 || (len(v) == 1 && v[0] == 0xc0) }
	if isNil(a) || isNil(b) {
		return isNil(a) && isNil(b)
	}
	return string(a) == string(b)
}

func (d *Doc) cellAt(k Key, dot crdt.Dot) (Cell, bool) {
	for _, e := range d.store.Get(k) {
		if e.Dot == dot {
			return e.Value, true
		}
	}
	return Cell{}, false
}

// get returns the winning value under k, nil if none (or if it belongs to
// an earlier incarnation of its element: see current); a text reads as its
// string, as the view shows it.
func (d *Doc) get(k Key) Value {
	if w, ok := current(d, k); ok {
		if w.Value.Value.isTextMarker() {
			return d.textValue(w.Dot)
		}
		return w.Value.Value
	}
	return nil
}

// winner returns the winning entry under k, if it belongs to the current
// incarnation of its element.
func (d *Doc) winner(k Key) (crdt.Dotted[Cell], bool) { return current(d, k) }

// rawWinner returns the last-writer-wins winner under k, whatever its
// incarnation.
func (d *Doc) rawWinner(k Key) (crdt.Dotted[Cell], bool) {
	es := d.store.Get(k)
	if i := crdt.Winner(es); i >= 0 {
		return es[i], true
	}
	return crdt.Dotted[Cell]{}, false
}

// has reports whether k holds a current value: for a membership key, whether
// the element is in the set.
func (d *Doc) has(k Key) bool {
	_, ok := current(d, k)
	return ok
}
