package workflow

import (
	"slices"

	"github.com/flowsync/flowsync/crdt"
)

// WritesSince returns, as a delta, what a replica whose causal context is
// have lacks of the writes of replica r, leaving out the dots in skip (nil
// for none): the values under r's dots that have has not seen; a context of
// those dots, of r's other unseen dots (values since overwritten) and of
// every dot that have has seen, d no longer holds and skip lacks (the
// removals have must learn). It returns an empty Doc when have has seen every
// dot of r in d that skip lacks.
//
// It is DeltaSince for one author: the catch-up a replica sends to the
// server after a join, for the writes it made that the server never
// received (a restart from a saved document, a server node that died before
// its peers heard a write). Other replicas' values are left out because only
// their authors may send them. A document does not record which write removed
// a value, so the removals have lacks are all carried, including those of
// other replicas' writes that have lacks: they are what those writes do when
// they arrive. skip leaves out the writes and removals of deltas sent another
// way (an outbox) or never to be sent (refused).
func (d *Doc) WritesSince(r crdt.ReplicaID, have, skip *crdt.Context) *Doc {
	if skip == nil {
		skip = crdt.NewContext()
	}
	out := &Doc{}
	own := crdt.NewContext()
	for _, rg := range d.ctx.Ranges(r) {
		own.AddRange(r, rg)
	}
	missing := own.Missing(have).Missing(skip)
	if missing.IsEmpty() {
		return out
	}
	out.ctx.Merge(missing)
	d.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			if e.Dot.Replica == r && missing.Contains(e.Dot) {
				out.store.Put(k, e.Dot, e.Value)
			}
		}
		return true
	})
	// Removals: what both have seen (d.ctx ∩ have) minus what d holds.
	seen := d.ctx.Missing(d.ctx.Missing(have))
	heldSeen := map[crdt.ReplicaID][]uint64{}
	d.store.Dots(func(dot crdt.Dot) {
		if seen.Contains(dot) {
			heldSeen[dot.Replica] = append(heldSeen[dot.Replica], dot.Counter)
		}
	})
	held := crdt.NewContext()
	for rep, cs := range heldSeen {
		slices.Sort(cs) // in order, each AddRange appends or extends the last range
		for _, c := range cs {
			held.AddRange(rep, crdt.Range{Lo: c, Hi: c})
		}
	}
	out.ctx.Merge(seen.Missing(held).Missing(skip))
	// The replica's typed items, and every deleted dot (deletes spend no
	// dot of their own in the records: a missing delete dot of r is the
	// only sign of one).
	out.texts = d.textsSince(have, r, skip, nil)
	return out
}
