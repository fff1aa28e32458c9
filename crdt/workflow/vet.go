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

// ErrCrowdedKey: a delta carries two values of one replica under one key,
// or a new value of a replica under a key where the document holds a newer
// value of that replica the delta does not cover. A replica's writes are
// sequential and each overwrites what it saw of the key, so its deltas
// never do either; merging them would let one replica pile values on a key
// and make every read and write of it cost as many.
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
//   - two values of one replica under one key, one of them new, are
//     refused (ErrCrowdedKey: nothing is taken), and so is a new value of a
//     replica under a key where d holds a newer value of that replica the
//     delta's context does not cover;
//   - a new value of a replica supersedes the older values of that replica
//     d holds under its key: their dots join the delta's context, so the
//     merge removes them. The replica has seen its own earlier writes (a
//     joined replica's context holds every dot of its own the server has,
//     REPLICA_BEHIND otherwise), but its delta names only the value it
//     overwrote locally, which is not the server's when the server refused
//     the write in between; without this, one replica would hold two values
//     under the key;
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
	var superseded []crdt.Dot
	delta.store.Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		if dot, ok := crowding(d, delta, k, es, &superseded); ok {
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
	if len(delta.texts) > 0 {
		if err := d.vetTexts(delta, own); err != nil {
			return Vetted{}, err
		}
	}
	// What d has not seen, but own's dots: a fresh context Vet may change,
	// built in one pass however many replicas the delta names.
	unverified := delta.ctx.Missing(&d.ctx)
	unverified.RemoveReplica(own)
	if dead == 0 && unverified.IsEmpty() && len(superseded) == 0 {
		return Vetted{Delta: delta, Unverified: unverified}, nil
	}
	out := &Doc{ctx: *delta.ctx.Missing(unverified), texts: delta.texts}
	for _, dot := range superseded {
		out.ctx.Add(dot)
	}
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

// crowding checks delta's values under k (es) for the crowded-key rule:
// it appends to superseded the dots of older values d holds under k that a
// new value of their replica replaces, and reports the offending new dot
// (the greatest) when the rule refuses the delta.
func crowding(d, delta *Doc, k Key, es []crdt.Dotted[Cell], superseded *[]crdt.Dot) (crdt.Dot, bool) {
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
		if e := es[0]; !d.ctx.Contains(e.Dot) {
			beside(held, delta, e.Dot, superseded, note)
		}
		return worst, found
	}
	// A forged crowd in one delta is bounded by the value cap; a map keeps
	// the check linear in it.
	fresh := make(map[crdt.ReplicaID]crdt.Dot, len(es))
	count := make(map[crdt.ReplicaID]int, len(es))
	for _, e := range es {
		count[e.Dot.Replica]++
		if !d.ctx.Contains(e.Dot) {
			fresh[e.Dot.Replica] = e.Dot
		}
	}
	for r, dot := range fresh {
		if count[r] > 1 {
			note(dot)
			continue
		}
		beside(held, delta, dot, superseded, note)
	}
	return worst, found
}

// beside compares the new value dot with the values of its replica held
// under its key (held) that delta does not cover: an older one is
// superseded, a newer one makes the delta crowd the key.
func beside(held []crdt.Dotted[Cell], delta *Doc, dot crdt.Dot, superseded *[]crdt.Dot, crowd func(crdt.Dot)) {
	for _, h := range held {
		if h.Dot.Replica != dot.Replica || h.Dot == dot || delta.ctx.Contains(h.Dot) {
			continue
		}
		if h.Dot.Counter < dot.Counter {
			*superseded = append(*superseded, h.Dot)
		} else {
			crowd(dot)
		}
	}
}
