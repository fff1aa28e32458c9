// Package workflowtest builds workflow deltas that tests and benchmarks of
// several packages share: the adversarial deltas, the largest a client may
// send (workflow.DeltaLimits) shaped to cost a server as much as possible.
// It is imported by tests only and must never be imported by a server or
// library package.
package workflowtest

import (
	"strconv"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// Adversarial is a document to merge into and a delta to decode.
type Adversarial struct {
	Name string
	// Doc is the document the delta targets. Cases that need no particular
	// state share the base document given to AdversarialDeltas: do not
	// change it, clone it.
	Doc *workflow.Doc
	// Delta is the delta's encoding, at most DeltaLimits.MaxBytes long.
	Delta []byte
	// Foreign reports that the delta writes under dots of replicas other
	// than the attacker's, which a server refuses (Doc.Vet) rather than
	// merges.
	Foreign bool
}

// AdversarialDeltas returns one case per adversarial shape against base, a
// realistic document whose block ids are ids (keys are spread over them).
// Deltas are written by replica evil with HLC wall time wall, so a server
// whose clock reads near wall admits them. Building takes seconds: the
// largest admitted delta of each shape is found by binary search.
func AdversarialDeltas(tb testing.TB, base *workflow.Doc, ids []string, evil crdt.ReplicaID, wall int64) []Adversarial {
	tb.Helper()
	var out []Adversarial

	// Interleaved ranges: the document holds the even counters of a
	// replica, the delta the odd ones, as many ranges as the cap allows.
	{
		n := workflow.MaxRanges(workflow.DeltaLimits)
		doc := base.Clone()
		delta := workflow.New()
		for i := range n {
			doc.Context().AddRange(evil, crdt.Range{Lo: uint64(2*i + 2), Hi: uint64(2*i + 2)})
			delta.Context().AddRange(evil, crdt.Range{Lo: uint64(2*i + 3), Hi: uint64(2*i + 3)})
		}
		out = append(out, Adversarial{Name: "interleaved-ranges", Doc: doc, Delta: delta.Encode()})
	}
	// As many distinct keys as fit, one small entry each.
	out = append(out, Adversarial{Name: "max-keys", Doc: base, Delta: FillDelta(tb, func(d *workflow.Doc, i int) {
		dot := crdt.Dot{Replica: evil, Counter: uint64(i + 1)}
		d.Context().Add(dot)
		d.Store().Put(workflow.Key{Kind: workflow.KindSubBlock, ID: ids[i%len(ids)], Sub: strconv.Itoa(i)}, dot, workflow.Cell{Wall: wall, Value: workflow.Value{0x01}})
	})})
	// As many replicas in the table as fit, one dot each.
	out = append(out, Adversarial{Name: "max-replicas", Doc: base, Delta: FillDelta(tb, func(d *workflow.Doc, i int) {
		d.Context().Add(crdt.Dot{Replica: crdt.ReplicaID(strconv.Itoa(i)), Counter: 1})
	})})
	// Values nested as deep as the document's depth limit lets them.
	deep := msgpackx.MustCanonical(nest(30))
	out = append(out, Adversarial{Name: "deep-values", Doc: base, Delta: FillDelta(tb, func(d *workflow.Doc, i int) {
		dot := crdt.Dot{Replica: evil, Counter: uint64(i + 1)}
		d.Context().Add(dot)
		d.Store().Put(workflow.Key{Kind: workflow.KindSubBlock, ID: ids[i%len(ids)], Sub: "v" + strconv.Itoa(i)}, dot, workflow.Cell{Wall: wall, Value: workflow.Value(deep)})
	})})
	// Concurrent values under one key: the delta adds them all. They are
	// written by 64 replicas, so a server refuses them from one client.
	crowd := FillDelta(tb, func(d *workflow.Doc, i int) {
		dot := crdt.Dot{Replica: crdt.ReplicaID("r" + strconv.Itoa(i%64)), Counter: uint64(i/64 + 1)}
		d.Context().Add(dot)
		d.Store().Put(workflow.Key{Kind: workflow.KindBlockField, ID: ids[0], Sub: workflow.FieldName}, dot, workflow.Cell{Wall: wall, Value: workflow.Value{0xa1, 'x'}})
	})
	out = append(out, Adversarial{Name: "many-entries-per-key", Doc: base, Delta: crowd, Foreign: true})
	// ... and a delta that removes them all from a document holding them.
	{
		crowded := base.Clone()
		add, err := workflow.Decode(crowd, workflow.DeltaLimits)
		if err != nil {
			tb.Fatal(err)
		}
		crowded.Merge(add)
		remove := workflow.New()
		remove.Context().Merge(add.Context())
		remove.Context().Add(crdt.Dot{Replica: evil, Counter: 1})
		out = append(out, Adversarial{Name: "remove-crowded-key", Doc: crowded, Delta: remove.Encode()})
	}
	return out
}

// FillDelta returns the largest delta built by add(d, 0), …, add(d, n-1)
// whose encoding DeltaLimits admits (a binary search on n). Each add must
// make the encoding grow.
func FillDelta(tb testing.TB, add func(d *workflow.Doc, i int)) []byte {
	tb.Helper()
	build := func(n int) []byte {
		d := workflow.New()
		for i := range n {
			add(d, i)
		}
		return d.Encode()
	}
	lo, hi := 0, 1
	for len(build(hi))-1 <= workflow.DeltaLimits.MaxBytes {
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if len(build(mid))-1 <= workflow.DeltaLimits.MaxBytes {
			lo = mid
		} else {
			hi = mid
		}
	}
	enc := build(lo)
	if _, err := workflow.Decode(enc, workflow.DeltaLimits); err != nil {
		tb.Fatalf("adversarial delta of %d bytes does not decode: %v", len(enc), err)
	}
	return enc
}

// nest returns an array nested depth levels deep.
func nest(depth int) any {
	var v any = "x"
	for range depth {
		v = []any{v}
	}
	return v
}
