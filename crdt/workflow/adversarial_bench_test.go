package workflow

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// Adversarial deltas: the largest a client may send (DeltaLimits, 1 MiB),
// shaped to make decoding and merging as costly as possible, merged into a
// realistic 1,000-block document. Each iteration decodes the delta and
// merges it into a fresh copy of the document; the copy is made with the
// timer stopped. Goal: ≤ 10 ms each.
//
//	go test -run XXX -bench Adversarial -benchtime 20x ./crdt/workflow

// adversarialCase is a document to merge into and a delta to decode.
type adversarialCase struct {
	name  string
	doc   *Doc
	delta []byte
}

// fillDelta returns the largest delta built by add(d, 0), …, add(d, n-1)
// whose encoding DeltaLimits admits (a binary search on n). Each add must
// make the encoding grow.
func fillDelta(tb testing.TB, add func(d *Doc, i int)) []byte {
	tb.Helper()
	build := func(n int) []byte {
		d := New()
		for i := range n {
			add(d, i)
		}
		return d.Encode()
	}
	lo, hi := 0, 1
	for len(build(hi))-1 <= DeltaLimits.MaxBytes {
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if len(build(mid))-1 <= DeltaLimits.MaxBytes {
			lo = mid
		} else {
			hi = mid
		}
	}
	enc := build(lo)
	if _, err := Decode(enc, DeltaLimits); err != nil {
		tb.Fatalf("adversarial delta of %d bytes does not decode: %v", len(enc), err)
	}
	return enc
}

func adversarialCases(tb testing.TB) []adversarialCase {
	base, ids := buildDoc(tb, 1000)
	var out []adversarialCase

	// Interleaved ranges: the document holds the even counters of a
	// replica, the delta the odd ones, as many ranges as the cap allows.
	{
		n := MaxRanges(DeltaLimits)
		doc := base.Clone()
		delta := New()
		for i := range n {
			doc.ctx.AddRange("evil", crdt.Range{Lo: uint64(2*i + 2), Hi: uint64(2*i + 2)})
			delta.ctx.AddRange("evil", crdt.Range{Lo: uint64(2*i + 3), Hi: uint64(2*i + 3)})
		}
		out = append(out, adversarialCase{"interleaved-ranges", doc, delta.Encode()})
	}
	// As many distinct keys as fit, one small entry each.
	out = append(out, adversarialCase{"max-keys", base, fillDelta(tb, func(d *Doc, i int) {
		dot := crdt.Dot{Replica: "evil", Counter: uint64(i + 1)}
		d.ctx.Add(dot)
		d.store.Put(Key{KindSubBlock, ids[i%len(ids)], strconv.Itoa(i)}, dot, Cell{Wall: benchWall, Value: Value{0x01}})
	})})
	// As many replicas in the table as fit, one dot each.
	out = append(out, adversarialCase{"max-replicas", base, fillDelta(tb, func(d *Doc, i int) {
		d.ctx.Add(crdt.Dot{Replica: crdt.ReplicaID(strconv.Itoa(i)), Counter: 1})
	})})
	// Values nested as deep as the document's depth limit lets them.
	deep := msgpackx.MustCanonical(nest(30))
	out = append(out, adversarialCase{"deep-values", base, fillDelta(tb, func(d *Doc, i int) {
		dot := crdt.Dot{Replica: "evil", Counter: uint64(i + 1)}
		d.ctx.Add(dot)
		d.store.Put(Key{KindSubBlock, ids[i%len(ids)], "v" + strconv.Itoa(i)}, dot, Cell{Wall: benchWall, Value: Value(deep)})
	})})
	// Concurrent values under one key: the delta adds them all.
	crowd := fillDelta(tb, func(d *Doc, i int) {
		dot := crdt.Dot{Replica: crdt.ReplicaID("r" + strconv.Itoa(i%64)), Counter: uint64(i/64 + 1)}
		d.ctx.Add(dot)
		d.store.Put(fieldKey(ids[0], FieldName), dot, Cell{Wall: benchWall, Value: Value{0xa1, 'x'}})
	})
	out = append(out, adversarialCase{"many-entries-per-key", base, crowd})
	// ... and a delta that removes them all from a document holding them.
	{
		crowded := base.Clone()
		add, err := Decode(crowd, DeltaLimits)
		if err != nil {
			tb.Fatal(err)
		}
		crowded.Merge(add)
		remove := &Doc{ctx: *add.ctx.Clone()}
		remove.ctx.Add(crdt.Dot{Replica: "z", Counter: 1})
		out = append(out, adversarialCase{"remove-crowded-key", crowded, remove.Encode()})
	}
	return out
}

// nest returns an array nested depth levels deep.
func nest(depth int) any {
	var v any = "x"
	for range depth {
		v = []any{v}
	}
	return v
}

func BenchmarkAdversarialDelta(b *testing.B) {
	for _, c := range adversarialCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(c.delta)), "delta-bytes")
			for range b.N {
				b.StopTimer()
				doc := c.doc.Clone()
				b.StartTimer()
				d, err := Decode(c.delta, DeltaLimits)
				if err != nil {
					b.Fatal(err)
				}
				doc.Merge(d)
			}
		})
	}
}

// BenchmarkOrdinaryDelta measures what the canonical checks add to an
// ordinary edit's path on the server and in every replica: decode a
// client's delta, merge it into a 1,000-block document, encode it again
// (for the log and the broadcast). Three common edits: typing in a
// sub-block, a drag's committed position, a block added.
func BenchmarkOrdinaryDelta(b *testing.B) {
	base, ids := buildDoc(b, 1000)
	edits := map[string]func(i int) Op{
		"subblock-text": func(i int) Op {
			return UpdateSubBlock{BlockID: ids[i%len(ids)], SubBlockID: "systemPrompt", Value: fmt.Sprintf("Summarize ticket %d politely.", i)}
		},
		"position": func(i int) Op {
			return UpdatePosition{ID: ids[i%len(ids)], Position: Position{X: float64(i), Y: 0.5 * float64(i)}}
		},
		"add-block": func(i int) Op { return AddBlock{Block: benchBlock(100_000+i, "agent")} },
	}
	for _, name := range []string{"subblock-text", "position", "add-block"} {
		b.Run(name, func(b *testing.B) {
			client, clock := base.Clone(), newBenchClock("client")
			clock.wall += 1_000_000 // after the adds: a write must not predate its block's add
			const pool = 256
			encs := make([][]byte, pool)
			for i := range encs {
				d, err := client.Apply(clock.now(), edits[name](i))
				if err != nil {
					b.Fatal(err)
				}
				encs[i] = d.Encode()
			}
			server := base.Clone()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				j := i % pool
				if j == 0 && i > 0 {
					b.StopTimer()
					server = base.Clone()
					b.StartTimer()
				}
				d, err := Decode(encs[j], DeltaLimits)
				if err != nil {
					b.Fatal(err)
				}
				server.Merge(d)
				_ = d.Encode()
			}
		})
	}
}
