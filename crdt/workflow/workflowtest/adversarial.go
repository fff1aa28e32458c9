// Package workflowtest builds workflow deltas that tests and benchmarks of
// several packages share: the adversarial deltas, the largest a client may
// send (workflow.DeltaLimits and workflow.DeltaCaps) shaped to cost a
// server as much as possible, and the 1 MiB deltas of the same shapes that
// the caps refuse.
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
	// Delta is the delta's encoding: the largest of its shape that
	// workflow.DecodeDelta admits.
	Delta []byte
	// Refused is the same shape grown past a cap that DecodeDelta refuses:
	// as large as DeltaLimits lets it be (1 MiB), or one past the cap when
	// the shape is bounded by one alone. Nil when no cap refuses the shape.
	Refused []byte
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
		interleaved := func(n int) (*workflow.Doc, []byte) {
			doc := base.Clone()
			delta := workflow.New()
			for i := range n {
				doc.Context().AddRange(evil, crdt.Range{Lo: uint64(2*i + 2), Hi: uint64(2*i + 2)})
				delta.Context().AddRange(evil, crdt.Range{Lo: uint64(2*i + 3), Hi: uint64(2*i + 3)})
			}
			return doc, delta.Encode()
		}
		doc, delta := interleaved(workflow.DeltaCaps.MaxRanges)
		// Refused: every range a 1 MiB delta can hold, past the cap.
		_, refused := interleaved(workflow.MaxRanges(workflow.DeltaLimits))
		out = append(out, Adversarial{Name: "interleaved-ranges", Doc: doc, Delta: admitted(tb, delta), Refused: refusedBy(tb, refused)})
	}
	// As many distinct keys as fit, one small entry each.
	keys := func(d *workflow.Doc, i int) {
		dot := crdt.Dot{Replica: evil, Counter: uint64(i + 1)}
		d.Context().Add(dot)
		d.Store().Put(workflow.Key{Kind: workflow.KindSubBlock, ID: ids[i%len(ids)], Sub: strconv.Itoa(i)}, dot, workflow.Cell{Wall: wall, Value: workflow.Value{0x01}})
	}
	out = append(out, Adversarial{Name: "max-keys", Doc: base, Delta: FillDelta(tb, keys), Refused: refusedBy(tb, FillBytes(tb, keys))})
	// As many replicas in the table as fit, one dot each.
	replicas := func(d *workflow.Doc, i int) {
		d.Context().Add(crdt.Dot{Replica: crdt.ReplicaID(strconv.Itoa(i)), Counter: 1})
	}
	out = append(out, Adversarial{Name: "max-replicas", Doc: base, Delta: FillDelta(tb, replicas), Refused: refusedBy(tb, FillBytes(tb, replicas))})
	// Values nested as deep as the document's depth limit lets them.
	deep := msgpackx.MustCanonical(nest(30))
	deepValues := func(d *workflow.Doc, i int) {
		dot := crdt.Dot{Replica: evil, Counter: uint64(i + 1)}
		d.Context().Add(dot)
		d.Store().Put(workflow.Key{Kind: workflow.KindSubBlock, ID: ids[i%len(ids)], Sub: "v" + strconv.Itoa(i)}, dot, workflow.Cell{Wall: wall, Value: workflow.Value(deep)})
	}
	out = append(out, Adversarial{Name: "deep-values", Doc: base, Delta: FillDelta(tb, deepValues), Refused: refusedBy(tb, FillBytes(tb, deepValues))})
	// One value as wide as the node cap allows: an array of small ints.
	wide := func(n int) []byte {
		d := workflow.New()
		dot := crdt.Dot{Replica: evil, Counter: 1}
		d.Context().Add(dot)
		items := make([]any, n)
		for i := range items {
			items[i] = i % 100
		}
		d.Store().Put(workflow.Key{Kind: workflow.KindSubBlock, ID: ids[0], Sub: "wide"}, dot, workflow.Cell{Wall: wall, Value: workflow.Value(msgpackx.MustCanonical(items))})
		return d.Encode()
	}
	{
		// The array is one node, its items the rest; 1 MiB holds 1,048,000
		// one-byte items.
		n := workflow.DeltaCaps.MaxValueNodes - 1
		out = append(out, Adversarial{Name: "wide-value", Doc: base, Delta: admitted(tb, wide(n)), Refused: refusedBy(tb, wide(workflow.DeltaLimits.MaxBytes-128))})
	}
	// Concurrent values under one key: the delta adds them all. They are
	// written by 64 replicas, so a server refuses them from one client.
	crowdOf := func(d *workflow.Doc, i int) {
		dot := crdt.Dot{Replica: crdt.ReplicaID("r" + strconv.Itoa(i%64)), Counter: uint64(i/64 + 1)}
		d.Context().Add(dot)
		d.Store().Put(workflow.Key{Kind: workflow.KindBlockField, ID: ids[0], Sub: workflow.FieldName}, dot, workflow.Cell{Wall: wall, Value: workflow.Value{0xa1, 'x'}})
	}
	crowd := FillDelta(tb, crowdOf)
	out = append(out, Adversarial{Name: "many-entries-per-key", Doc: base, Delta: crowd, Refused: refusedBy(tb, FillBytes(tb, crowdOf)), Foreign: true})
	// ... and a delta that removes them all from a document holding them.
	{
		crowded := base.Clone()
		add, err := workflow.DecodeDelta(crowd)
		if err != nil {
			tb.Fatal(err)
		}
		crowded.Merge(add)
		remove := workflow.New()
		remove.Context().Merge(add.Context())
		remove.Context().Add(crdt.Dot{Replica: evil, Counter: 1})
		out = append(out, Adversarial{Name: "remove-crowded-key", Doc: crowded, Delta: admitted(tb, remove.Encode())})
	}
	return out
}

// admitted returns enc after checking that DecodeDelta admits it.
func admitted(tb testing.TB, enc []byte) []byte {
	tb.Helper()
	if _, err := workflow.DecodeDelta(enc); err != nil {
		tb.Fatalf("adversarial delta of %d bytes is refused: %v", len(enc), err)
	}
	return enc
}

// refusedBy returns enc after checking that DecodeDelta refuses it for a
// cap (and that it would decode without the caps).
func refusedBy(tb testing.TB, enc []byte) []byte {
	tb.Helper()
	if _, err := workflow.Decode(enc, workflow.DeltaLimits); err != nil {
		tb.Fatalf("refused adversarial delta of %d bytes does not decode: %v", len(enc), err)
	}
	if _, err := workflow.DecodeDelta(enc); !workflow.IsOverCap(err) {
		tb.Fatalf("adversarial delta of %d bytes: %v, want a cap's refusal", len(enc), err)
	}
	return enc
}

// FillDelta returns the largest delta built by add(d, 0), …, add(d, n-1)
// that DecodeDelta admits (a binary search on n): within DeltaLimits and
// DeltaCaps. Each add must make the encoding grow.
func FillDelta(tb testing.TB, add func(d *workflow.Doc, i int)) []byte {
	tb.Helper()
	return fill(tb, add, func(enc []byte) bool {
		_, err := workflow.DecodeDelta(enc)
		return err == nil
	})
}

// FillBytes is FillDelta bounded by DeltaLimits alone: the 1 MiB delta of
// the shape, which DeltaCaps may refuse.
func FillBytes(tb testing.TB, add func(d *workflow.Doc, i int)) []byte {
	tb.Helper()
	return fill(tb, add, func(enc []byte) bool { return len(enc)-1 <= workflow.DeltaLimits.MaxBytes })
}

func fill(tb testing.TB, add func(d *workflow.Doc, i int), fits func([]byte) bool) []byte {
	tb.Helper()
	build := func(n int) []byte {
		d := workflow.New()
		for i := range n {
			add(d, i)
		}
		return d.Encode()
	}
	lo, hi := 0, 1
	for fits(build(hi)) {
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if fits(build(mid)) {
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
