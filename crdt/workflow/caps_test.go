package workflow

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
	"github.com/flowsync/flowsync/internal/testutil"
)

var chunkSeed = flag.Uint64("chunk.seed", 0, "seed of TestEncodeChunksWithinCaps (0: from FLOWSYNC_SEED, else the time)")

// capShapes builds, for each cap, a delta holding exactly n of what it
// bounds and as little else as possible.
var capShapes = []struct {
	name     string
	sentinel error
	cap      func(Caps) int
	build    func(n int) []byte
}{
	{"values", ErrTooManyValues, func(c Caps) int { return c.MaxValues }, func(n int) []byte {
		d := New()
		for i := range n {
			dot := crdt.Dot{Replica: "a", Counter: uint64(i + 1)}
			d.ctx.Add(dot)
			d.store.Put(Key{KindSubBlock, "b", strconv.Itoa(i)}, dot, Cell{Wall: 1, Value: Value{0x01}})
		}
		return d.Encode()
	}},
	{"replicas", ErrTooManyReplicas, func(c Caps) int { return c.MaxReplicas }, func(n int) []byte {
		d := New()
		for i := range n {
			d.ctx.Add(crdt.Dot{Replica: crdt.ReplicaID(strconv.Itoa(i)), Counter: 1})
		}
		return d.Encode()
	}},
	{"ranges", ErrTooManyRanges, func(c Caps) int { return c.MaxRanges }, func(n int) []byte {
		d := New()
		for i := range n {
			d.ctx.Add(crdt.Dot{Replica: "a", Counter: uint64(2*i + 1)})
		}
		return d.Encode()
	}},
	{"value nodes", ErrTooManyValueNodes, func(c Caps) int { return c.MaxValueNodes }, func(n int) []byte {
		// Two values: an array of n-2 items (n-1 nodes) and a scalar.
		items := make([]any, n-2)
		for i := range items {
			items[i] = i % 100
		}
		d := New()
		for i, v := range []Value{msgpackx.MustCanonical(items), {0x01}} {
			dot := crdt.Dot{Replica: "a", Counter: uint64(i + 1)}
			d.ctx.Add(dot)
			d.store.Put(Key{KindSubBlock, "b", strconv.Itoa(i)}, dot, Cell{Wall: 1, Value: v})
		}
		return d.Encode()
	}},
}

// TestDecodeDeltaCaps: each of DeltaCaps admits a delta at the cap and
// refuses one past it, with its typed error wrapped in ErrMalformed, while
// Decode (what a stored document or a server's catch-up is read with)
// admits both.
func TestDecodeDeltaCaps(t *testing.T) {
	for _, s := range capShapes {
		t.Run(s.name, func(t *testing.T) {
			n := s.cap(DeltaCaps)
			at, past := s.build(n), s.build(n+1)
			if _, err := DecodeDelta(at); err != nil {
				t.Fatalf("%d at the cap: %v", n, err)
			}
			_, err := DecodeDelta(past)
			if !errors.Is(err, s.sentinel) || !errors.Is(err, ErrMalformed) || !IsOverCap(err) {
				t.Fatalf("%d past the cap: %v, want %v wrapped in ErrMalformed", n+1, err, s.sentinel)
			}
			if _, err := Decode(past, DeltaLimits); err != nil {
				t.Fatalf("Decode without caps refuses %d: %v", n+1, err)
			}
			if len(past) > DeltaLimits.MaxBytes {
				t.Fatalf("the shape past the cap is %d bytes: the cap, not the size, must refuse it", len(past))
			}
		})
	}
}

// TestDecodeDeltaAtEveryCap: a delta at all of DeltaCaps at once is
// admitted (the bound on its nodes in all is not below what the caps
// allow), and the 1 MiB value of a million nodes is refused by that bound,
// before its walk crosses the rest.
func TestDecodeDeltaAtEveryCap(t *testing.T) {
	c := DeltaCaps
	d := New()
	// Replicas: c.MaxReplicas-1 context-only ones, with as many ranges as
	// the range cap leaves after the value writer's one range.
	perReplica := (c.MaxRanges - 1) / (c.MaxReplicas - 1)
	extra := (c.MaxRanges - 1) % (c.MaxReplicas - 1)
	for i := range c.MaxReplicas - 1 {
		n := perReplica
		if i < extra {
			n++
		}
		for j := range n {
			d.ctx.Add(crdt.Dot{Replica: crdt.ReplicaID(fmt.Sprintf("r%04d", i)), Counter: uint64(2*j + 1)})
		}
	}
	// Values: each its own group, their nodes summing to the node cap.
	per := c.MaxValueNodes / c.MaxValues
	for i := range c.MaxValues {
		n := per
		if i == 0 {
			n += c.MaxValueNodes - per*c.MaxValues
		}
		items := make([]any, n-1)
		for j := range items {
			items[j] = j % 100
		}
		dot := crdt.Dot{Replica: "writer", Counter: uint64(i + 1)}
		d.ctx.Add(dot)
		d.store.Put(Key{KindSubBlock, fmt.Sprintf("b%05d", i), "s"}, dot, Cell{Wall: 1, Value: msgpackx.MustCanonical(items)})
	}
	got := d.Counts()
	if got != (Counts{Values: c.MaxValues, Replicas: c.MaxReplicas, Ranges: c.MaxRanges, ValueNodes: c.MaxValueNodes}) {
		t.Fatalf("counts %+v, want every cap", got)
	}
	if _, err := DecodeDelta(d.Encode()); err != nil {
		t.Fatalf("a delta at every cap: %v", err)
	}
	items := make([]any, DeltaLimits.MaxBytes-128)
	for i := range items {
		items[i] = i % 100
	}
	wide := New()
	dot := crdt.Dot{Replica: "a", Counter: 1}
	wide.ctx.Add(dot)
	wide.store.Put(Key{KindSubBlock, "b", "s"}, dot, Cell{Wall: 1, Value: msgpackx.MustCanonical(items)})
	if _, err := DecodeDelta(wide.Encode()); !errors.Is(err, ErrTooManyNodes) || !IsOverCap(err) {
		t.Fatalf("a value of a million nodes: %v, want ErrTooManyNodes", err)
	}
}

// TestDecodeCappedRefusesAtTheHeader: a count header past a cap is refused
// before what it announces is read: a delta whose group array claims more
// values than the cap is refused for the count, though its body is cut
// short (it would otherwise fail as truncated after a walk).
func TestDecodeCappedRefusesAtTheHeader(t *testing.T) {
	caps := Caps{MaxValues: 3, MaxReplicas: 2}
	// 3 replicas in the table: refused at the table's header.
	d := New()
	for _, r := range []crdt.ReplicaID{"a", "b", "c"} {
		d.ctx.Add(crdt.Dot{Replica: r, Counter: 1})
	}
	if _, err := DecodeCapped(d.Encode(), DeltaLimits, caps); !errors.Is(err, ErrTooManyReplicas) {
		t.Fatalf("3 replicas under a cap of 2: %v", err)
	}
	// One group of 4 entries: refused at the group's entry count, before
	// the first entry is decoded (the entries' dots are not even in the
	// context, which would be refused otherwise).
	body := msgpackx.AppendArrayHeader(nil, 3)
	body = msgpackx.AppendArrayHeader(body, 0)
	body = msgpackx.AppendArrayHeader(body, 0)
	body = msgpackx.AppendArrayHeader(body, 1)
	body = msgpackx.AppendArrayHeader(body, 3)
	body = msgpackx.AppendUint(body, uint64(KindSubBlock))
	body = msgpackx.AppendString(body, "b")
	body = msgpackx.AppendArrayHeader(body, 4)
	for i := range 4 {
		body = msgpackx.AppendArrayHeader(body, 6)
		body = msgpackx.AppendString(body, strconv.Itoa(i))
		body = msgpackx.AppendUint(body, 0)
		body = msgpackx.AppendUint(body, uint64(i+1))
		body = msgpackx.AppendInt(body, 1)
		body = msgpackx.AppendUint(body, 0)
		body = msgpackx.AppendNil(body)
	}
	enc := append([]byte{FormatVersion}, body...)
	if _, err := DecodeCapped(enc, DeltaLimits, caps); !errors.Is(err, ErrTooManyValues) {
		t.Fatalf("4 entries under a cap of 3: %v", err)
	}
	if _, err := Decode(enc, DeltaLimits); err == nil || IsOverCap(err) {
		t.Fatalf("without caps the same input is malformed (dots outside the context): %v", err)
	}
}

// randomCapsDoc builds a document of many keys, replicas, concurrent
// values, nested values and removals (context dots without entries).
func randomCapsDoc(rng *rand.Rand) *Doc {
	d := New()
	replicas := 1 + rng.IntN(30)
	counters := make([]uint64, replicas)
	mint := func() crdt.Dot {
		r := rng.IntN(replicas)
		counters[r] += 1 + uint64(rng.IntN(3)) // gaps: dots seen removed
		dot := crdt.Dot{Replica: crdt.ReplicaID(fmt.Sprintf("replica-%02d", r)), Counter: counters[r]}
		d.ctx.Add(dot)
		return dot
	}
	keys := rng.IntN(400)
	for i := range keys {
		k := Key{Kind(2 + rng.IntN(2)), fmt.Sprintf("b%03d", rng.IntN(60)), fmt.Sprintf("s%d", i)}
		for range 1 + rng.IntN(2) { // sometimes two concurrent values
			var v Value
			switch rng.IntN(3) {
			case 0:
				v = Value{byte(rng.IntN(100))}
			case 1:
				items := make([]any, rng.IntN(30)) // at most 91 nodes: within every cap below
				for j := range items {
					items[j] = []any{j, "x"}
				}
				v = msgpackx.MustCanonical(items)
			}
			d.store.Put(k, mint(), Cell{Wall: int64(1 + rng.IntN(1000)), Value: v})
		}
	}
	for range rng.IntN(200) {
		mint() // a removal: a dot with no entry
	}
	return d
}

// TestEncodeChunksWithinCaps: chunks of random documents, cut by small
// caps and limits, each decode under those caps (DecodeCapped with
// DeltaLimits), and their join, in any order, is the document.
func TestEncodeChunksWithinCaps(t *testing.T) {
	seed := testutil.Seed(t, *chunkSeed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	for iter := range 150 {
		d := randomCapsDoc(rng)
		caps := Caps{MaxValues: 1 + rng.IntN(40), MaxReplicas: 1 + rng.IntN(8), MaxRanges: 1 + rng.IntN(60), MaxValueNodes: 100 + rng.IntN(200)}
		limit := 200 + rng.IntN(4000)
		chunks := d.EncodeChunksCapped(limit, caps)
		if d.IsEmpty() != (len(chunks) == 0) {
			t.Fatalf("iteration %d: %d chunks of an empty=%v document", iter, len(chunks), d.IsEmpty())
		}
		rng.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
		joined := New()
		for i, ch := range chunks {
			c, err := DecodeCapped(ch, DeltaLimits, caps)
			if err != nil {
				t.Fatalf("iteration %d, caps %+v, limit %d: chunk %d of %d: %v", iter, caps, limit, i, len(chunks), err)
			}
			joined.Merge(c)
		}
		if !joined.Equal(d) {
			t.Fatalf("iteration %d, caps %+v, limit %d: the %d chunks do not join to the document", iter, caps, limit, len(chunks))
		}
	}
}

// TestEncodeChunksDeltaCaps: a document far past DeltaCaps (a 1,000-block
// document, plus a context of 5,000 replicas) travels in chunks that
// DecodeDelta admits and that join to it.
func TestEncodeChunksDeltaCaps(t *testing.T) {
	d, _ := buildDoc(t, 1000)
	for i := range 5000 {
		d.ctx.Add(crdt.Dot{Replica: crdt.ReplicaID(fmt.Sprintf("editor-%05d", i)), Counter: uint64(1 + 2*(i%3))})
	}
	if d.Counts().Within(DeltaCaps) {
		t.Fatalf("the document is within the caps: %+v", d.Counts())
	}
	chunks := d.EncodeChunks(768 << 10)
	joined := New()
	for i, ch := range chunks {
		c, err := DecodeDelta(ch)
		if err != nil {
			t.Fatalf("chunk %d of %d (%d bytes): %v", i, len(chunks), len(ch), err)
		}
		joined.Merge(c)
	}
	if !joined.Equal(d) {
		t.Fatalf("the %d chunks do not join to the document", len(chunks))
	}
}

// TestCheckCanonicalNodes counts nodes as documented and refuses past the
// budget.
func TestCheckCanonicalNodes(t *testing.T) {
	v := msgpackx.MustCanonical(map[string]any{"a": []any{1, 2, 3}, "b": nil})
	// map 1 + 2 keys + array 1 + 3 items + nil 1 = 8
	if n, err := msgpackx.CheckCanonicalNodes(v, 8); err != nil || n != 8 {
		t.Fatalf("nodes = %d, %v; want 8", n, err)
	}
	if _, err := msgpackx.CheckCanonicalNodes(v, 7); !errors.Is(err, msgpackx.ErrTooManyNodes) {
		t.Fatalf("budget 7: %v", err)
	}
}
