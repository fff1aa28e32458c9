package workflow

import (
	"errors"
	"fmt"

	"github.com/flowsync/flowsync/crdt"
)

// ErrForgedContent: a delta carries a dot this document already holds, but
// with other content or under another key. Two writes can never share a dot,
// so the delta was forged, or written by a replica that lost its state and
// reused its id. Merging would keep the held content here and let the other
// content spread to whoever has not seen the dot yet: the replicas would
// agree on contexts and differ in state for good.
var ErrForgedContent = errors.New("workflow: dot already held with other content")

// ErrForeignContent: a delta carries values under dots of another replica
// that this document has never seen. A replica writes only under its own
// dots; another replica's edit reaches a server from its author, from
// another node, or from a client that hands it back together with the
// server's receipt for it — never as part of a replica's own delta.
var ErrForeignContent = errors.New("workflow: values under another replica's unseen dots")

// ErrCrowdedKey: a delta would leave two values of one replica under one
// key. A replica's writes are sequential and each covers what it saw of
// the key, its own earlier value included, so an honest replica never
// holds two values of its own under a key (a replica that lost its state
// is refused at join, REPLICA_BEHIND). Without this rule one replica could
// pile values on a key, delta after delta, and make every read and write
// of that key cost as many.
var ErrCrowdedKey = errors.New("workflow: two values of one replica under one key")

// Vetted is what a server may merge of a delta written by one replica.
type Vetted struct {
	// Delta is what to merge, store and relay. It is the delta given to Vet
	// itself when Changed is false.
	Delta *Doc
	// Changed reports that Vet left something out, so Delta's encoding
	// differs from the one received.
	Changed bool
	// Unverified holds the dots of other replicas that the delta's context
	// names but the document has never seen: an honest replica names them
	// when it overwrote or removed an edit the server lost (or has not
	// received yet), a forger to remove edits that do not exist yet. They
	// are left out of Delta's context.
	Unverified *crdt.Context
	// Dead counts entries left out because the document has seen their dots
	// removed: merging them would change nothing here, and relaying them
	// would hand removed content to replicas that missed the removal.
	Dead int
}

// Vet decides what of delta, written by replica own, the document d may take
// from a replica it trusts only with its own dots:
//   - an entry whose dot d holds must carry exactly what d holds, under the
//     same key (ErrForgedContent otherwise: nothing is taken);
//   - an entry under another replica's dot that d has never seen is refused
//     (ErrForeignContent: nothing is taken);
//   - an entry whose dot d has seen removed is left out;
//   - a delta that would leave two values of one replica under one key
//     (two in the delta, or one beside a value d holds that the delta's
//     context does not cover) is refused (ErrCrowdedKey: nothing is taken);
//   - context dots of other replicas that d has never seen are left out:
//     only own's dots, and dots d has seen, may enter d's context through
//     own. (Dots that another node or a receipt vouches for are merged
//     before Vet runs, so that they count as seen.)
//
// Vet reads d and delta and changes neither.
func (d *Doc) Vet(delta *Doc, own crdt.ReplicaID) (Vetted, error) {
	// The refusal names the smallest offending dot, so that it does not
	// depend on map order.
	var forged error
	var worst crdt.Dot
	refuse := func(sentinel error, dot crdt.Dot) {
		if forged == nil || dot.Replica < worst.Replica || dot.Replica == worst.Replica && dot.Counter < worst.Counter {
			forged, worst = sentinel, dot
		}
	}
	dead := 0
	delta.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		if dot, ok := crowds(d, delta, k, es); ok {
			refuse(ErrCrowdedKey, dot)
		}
		for _, e := range es {
			if !d.ctx.Contains(e.Dot) {
				if e.Dot.Replica != own {
					refuse(ErrForeignContent, e.Dot)
				}
				continue
			}
			held, ok := d.store.KeyOf(e.Dot)
			if !ok {
				dead++
				continue
			}
			cell, _ := d.cellAt(held, e.Dot)
			if held != k || cell.Wall != e.Value.Wall || cell.Logical != e.Value.Logical || !sameCellValue(cell.Value, e.Value.Value) {
				refuse(ErrForgedContent, e.Dot)
			}
		}
		return true
	})
	if forged != nil {
		return Vetted{}, fmt.Errorf("%w: dot %s:%d", forged, worst.Replica, worst.Counter)
	}
	// What d has not seen, but own's dots: a fresh context Vet may change,
	// built in one pass however many replicas the delta names.
	unverified := delta.ctx.Missing(&d.ctx)
	unverified.RemoveReplica(own)
	if dead == 0 && unverified.IsEmpty() {
		return Vetted{Delta: delta, Unverified: unverified}, nil
	}
	out := &Doc{ctx: *delta.ctx.Missing(unverified)}
	delta.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		for _, e := range es {
			if d.ctx.Contains(e.Dot) && !d.store.Has(e.Dot) {
				continue
			}
			out.store.Put(k, e.Dot, e.Value)
		}
		return true
	})
	return Vetted{Delta: out, Changed: true, Unverified: unverified, Dead: dead}, nil
}

// crowds reports a new value of es (delta's values under k, whose dots d
// has not seen) that would stand beside another value of its replica under
// k once delta is merged into d, and which: the greatest such dot. Values d
// holds already are Vet's other checks' concern.
func crowds(d, delta *Doc, k Key, es []crdt.Dotted[Cell]) (crdt.Dot, bool) {
	var worst crdt.Dot
	found := false
	note := func(dot crdt.Dot) {
		if !found || dot.Replica > worst.Replica || dot.Replica == worst.Replica && dot.Counter > worst.Counter {
			worst, found = dot, true
		}
	}
	held := d.store.Get(k)
	if len(es) == 1 {
		// The common case, without a map: one value, set or overwriting.
		e := es[0]
		if d.ctx.Contains(e.Dot) {
			return worst, false
		}
		for _, h := range held {
			if h.Dot.Replica == e.Dot.Replica && h.Dot != e.Dot && !delta.ctx.Contains(h.Dot) {
				return e.Dot, true
			}
		}
		return worst, false
	}
	// Values per replica that stay under k: the delta's, and those d holds
	// that the delta's context does not cover. A forged crowd is bounded by
	// the value cap (the delta) or by this rule (the document), and counting
	// in a map keeps the check linear in both.
	stays := make(map[crdt.ReplicaID]int, len(es)+len(held))
	for _, e := range es {
		stays[e.Dot.Replica]++
	}
	for _, h := range held {
		if !delta.ctx.Contains(h.Dot) {
			stays[h.Dot.Replica]++
		}
	}
	for _, e := range es {
		if stays[e.Dot.Replica] > 1 && !d.ctx.Contains(e.Dot) {
			note(e.Dot)
		}
	}
	return worst, found
}
