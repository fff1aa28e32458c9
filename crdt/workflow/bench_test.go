package workflow

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
)

// Benchmarks of the workflow document's hot paths. Fixtures are
// deterministic: fixed replica ids, fixed wall clock, seeded randomness.

const benchWall = 1_700_000_000_000

// benchClock is a replica's clock driven by a deterministic wall clock that
// advances one millisecond per reading.
type benchClock struct {
	c    *crdt.Clock
	wall int64
}

func newBenchClock(replica crdt.ReplicaID) *benchClock {
	return &benchClock{c: crdt.NewClock(replica), wall: benchWall}
}

func (c *benchClock) now() crdt.Timestamp {
	c.wall++
	return c.c.Now(c.wall)
}

// benchID is a deterministic UUID-shaped block id, as long as the real ones.
func benchID(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i) }

func benchBlock(i int, typ string) BlockInput {
	id := benchID(i)
	in := BlockInput{
		ID:       id,
		Type:     typ,
		Name:     fmt.Sprintf("Agent %d", i),
		Position: &Position{X: float64(i%50) * 250, Y: float64(i/50) * 150},
	}
	if typ == TypeLoop {
		in.Name = fmt.Sprintf("Loop %d", i)
		return in
	}
	in.SubBlocks = map[string]SubBlockInput{
		"model":        {ID: "model", Type: "combobox", Value: "gpt-4o"},
		"systemPrompt": {ID: "systemPrompt", Type: benchPromptType, Value: fmt.Sprintf("You are agent %d.", i)},
		"temperature":  {ID: "temperature", Type: "slider", Value: 0.7},
	}
	return in
}

// benchPromptType is the type of the fixture's system prompts: a text kind,
// so that benchmarks measure documents holding texts. The allocation bounds
// of the LWW paths set it to a value type (lwwPrompts).
var benchPromptType = "long-input"

// lwwPrompts makes the fixture's system prompts plain values for the rest
// of t (tests of this package do not run in parallel).
func lwwPrompts(t *testing.T) {
	benchPromptType = "short-input"
	t.Cleanup(func() { benchPromptType = "long-input" })
}

// buildDoc returns a document of nBlocks blocks written by replica
// "builder": agents with a name, a position and 3 sub-blocks, chained by
// edges, plus a few loop containers with 4 agent children each. Blocks are
// added with BatchAddBlocks in batches of 100 (1,000 above 10,000 blocks).
func buildDoc(tb testing.TB, nBlocks int) (*Doc, []string) {
	tb.Helper()
	d := New()
	clock := newBenchClock("builder")
	// The fixture is written before any bench clock starts: an edit must not
	// predate the add of its block (checkStamps).
	clock.wall -= 1_000_000
	ids := make([]string, 0, nBlocks)
	nLoops := min(10, max(1, nBlocks/100))
	loopEvery := max(1, nBlocks/nLoops)
	const childrenPerLoop = 4
	prevTop := "" // last top-level agent, the next one's edge source
	// Larger documents are added in larger batches, so that building one
	// does not cost n²/100 of the old per-operation scans.
	batch := 100
	if nBlocks > 10000 {
		batch = 1000
	}
	for start := 0; start < nBlocks; start += batch {
		var op BatchAddBlocks
		for i := start; i < min(start+batch, nBlocks); {
			if i%loopEvery == 0 && i+childrenPerLoop < min(start+batch, nBlocks) {
				loop := benchBlock(i, TypeLoop)
				op.Blocks = append(op.Blocks, loop)
				ids = append(ids, loop.ID)
				prevChild := ""
				for c := 1; c <= childrenPerLoop; c++ {
					ch := benchBlock(i+c, "agent")
					ch.Data = map[string]any{"parentId": loop.ID, "extent": "parent"}
					op.Blocks = append(op.Blocks, ch)
					ids = append(ids, ch.ID)
					if prevChild != "" {
						op.Edges = append(op.Edges, EdgeInput{ID: "e-" + ch.ID, Source: prevChild, Target: ch.ID})
					}
					prevChild = ch.ID
				}
				i += childrenPerLoop + 1
				continue
			}
			in := benchBlock(i, "agent")
			op.Blocks = append(op.Blocks, in)
			ids = append(ids, in.ID)
			if prevTop != "" {
				op.Edges = append(op.Edges, EdgeInput{ID: "e-" + in.ID, Source: prevTop, Target: in.ID, SourceHandle: "source", TargetHandle: "target"})
			}
			prevTop = in.ID
			i++
		}
		if _, err := d.Apply(clock.now(), op); err != nil {
			tb.Fatalf("buildDoc(%d): batch at %d: %v", nBlocks, start, err)
		}
	}
	return d, ids
}

// benchDocs caches fixtures across benchmarks (callers clone before
// mutating).
var benchDocs = map[int]struct {
	d   *Doc
	ids []string
}{}

func cachedDoc(tb testing.TB, n int) (*Doc, []string) {
	if f, ok := benchDocs[n]; ok {
		return f.d, f.ids
	}
	d, ids := buildDoc(tb, n)
	benchDocs[n] = struct {
		d   *Doc
		ids []string
	}{d, ids}
	return d, ids
}

// BenchmarkApplyOneFieldDelta merges a realistic stream of one-field deltas
// (position updates by a second replica, prepared in order on the writer's
// own copy so its dots advance) into the reader's document.
func BenchmarkApplyOneFieldDelta(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			base, ids := cachedDoc(b, n)
			const pool = 20000
			writer := base.Clone()
			clock := newBenchClock("writer")
			rng := rand.New(rand.NewPCG(1, 2))
			deltas := make([]*Doc, pool)
			for i := range deltas {
				id := ids[rng.IntN(len(ids))]
				d, err := writer.Apply(clock.now(), UpdatePosition{ID: id, Position: Position{X: float64(i), Y: float64(i % 977)}})
				if err != nil {
					b.Fatal(err)
				}
				deltas[i] = d
			}
			// The reader is a long-lived document, as a room's: its index
			// is built (it has prepared operations or answered a join).
			reader := base.Clone()
			warmIndex(reader)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			for i, j := 0, 0; i < b.N; i, j = i+1, j+1 {
				if j == pool {
					b.StopTimer()
					reader = base.Clone()
					warmIndex(reader)
					j = 0
					b.StartTimer()
				}
				reader.Merge(deltas[j])
			}
			if b.N <= pool { // else cpu-ns/op would count the fresh copies
				cpu.report()
			}
		})
	}
}

// BenchmarkDecodeApplyClientDelta decodes a client's encoded delta (one
// sub-block value: a ~40-character string being typed) and merges it into a
// 1,000-block document.
func BenchmarkDecodeApplyClientDelta(b *testing.B) {
	base, ids := cachedDoc(b, 1000)
	const pool = 20000
	client := base.Clone()
	clock := newBenchClock("client")
	const text = "Summarize the customer's ticket in three bullet points, politely."
	encs := make([][]byte, pool)
	size := 0
	for i := range encs {
		id := ids[(i/40)%len(ids)]
		v := text[:40+i%20]
		d, err := client.Apply(clock.now(), UpdateSubBlock{BlockID: id, SubBlockID: "systemPrompt", Value: v})
		if err != nil {
			b.Fatal(err)
		}
		encs[i] = d.Encode()
		size += len(encs[i])
	}
	server := base.Clone()
	b.ReportAllocs()
	b.ResetTimer()
	for i, j := 0, 0; i < b.N; i, j = i+1, j+1 {
		if j == pool {
			b.StopTimer()
			server = base.Clone()
			j = 0
			b.StartTimer()
		}
		d, err := Decode(encs[j], DeltaLimits)
		if err != nil {
			b.Fatal(err)
		}
		server.Merge(d)
	}
	b.ReportMetric(float64(size)/pool, "delta-bytes")
}

// cpuMeter reports the process's CPU time per operation (cpu-ns/op) over
// the timed loop, garbage collection included. On a machine shared with
// other work it moves far less than wall time.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) *cpuMeter { return &cpuMeter{b, procCPU(b)} }

func (m *cpuMeter) report() {
	m.b.ReportMetric(float64((procCPU(m.b)-m.start).Nanoseconds())/float64(m.b.N), "cpu-ns/op")
}

// scaleSizes are the document sizes the per-operation benchmarks run at.
var scaleSizes = []int{1000, 10000, 50000}

func BenchmarkEncodeDocument(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			d, _ := cachedDoc(b, n)
			var enc []byte
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			for b.Loop() {
				enc = d.Encode()
			}
			cpu.report()
			b.ReportMetric(float64(len(enc)), "bytes")
		})
	}
}

func BenchmarkDecodeDocument(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			d, _ := cachedDoc(b, n)
			enc := d.Encode()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			for b.Loop() {
				if _, err := Decode(enc, DocLimits); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report()
			b.ReportMetric(float64(len(enc)), "bytes")
		})
	}
}

func BenchmarkView(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			d, _ := cachedDoc(b, n)
			if v := d.View(); len(v.Blocks) != n {
				b.Fatalf("view has %d blocks, want %d", len(v.Blocks), n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU(b)
			for b.Loop() {
				d.View()
			}
			cpu.report()
		})
	}
}

// mixedOps applies n mixed operations to d from three replicas: mostly
// position updates and sub-block edits, some renames, a few block removals
// and adds. ids is the live block list; it returns it updated.
func mixedOps(tb testing.TB, d *Doc, ids []string, n int, seed uint64) []string {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	clocks := []*benchClock{newBenchClock("alice"), newBenchClock("bob"), newBenchClock("carol")}
	ids = append([]string(nil), ids...)
	next := 1_000_000
	for i := 0; i < n; i++ {
		clock := clocks[rng.IntN(len(clocks))]
		idx := rng.IntN(len(ids))
		id := ids[idx]
		var op Op
		switch p := rng.IntN(100); {
		case p < 65:
			op = UpdatePosition{ID: id, Position: Position{X: float64(rng.IntN(10000)), Y: float64(rng.IntN(10000))}}
		case p < 90:
			op = UpdateSubBlock{BlockID: id, SubBlockID: "systemPrompt", Value: fmt.Sprintf("You are agent %d, revision %d.", idx, i)}
		case p < 96:
			op = UpdateName{ID: id, NewName: fmt.Sprintf("Renamed %d", i)}
		case p < 98:
			if blockType(d, id) == TypeLoop {
				op = UpdatePosition{ID: id, Position: Position{X: 1, Y: float64(i)}}
				break
			}
			op = BatchRemoveBlocks{IDs: []string{id}}
			ids[idx] = ids[len(ids)-1]
			ids = ids[:len(ids)-1]
		default:
			in := benchBlock(next, "agent")
			next++
			op = BatchAddBlocks{Blocks: []BlockInput{in}}
			ids = append(ids, in.ID)
		}
		ts := clock.now()
		if _, err := d.Apply(ts, op); err != nil {
			tb.Fatalf("mixed op %d %s: %v", i, op.Name(), err)
		}
		// The three replicas edit one document, so each has seen what the
		// others wrote: a replica stamping an edit of a block before that
		// block's add is refused, as it would be anywhere.
		for _, c := range clocks {
			c.c.Observe(ts, c.wall)
		}
	}
	return ids
}

// BenchmarkDeltaSince computes the delta for a replica that is 1,000 mixed
// operations behind.
func BenchmarkDeltaSince(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("behind=1000/blocks=%d", n), func(b *testing.B) {
			base, ids := cachedDoc(b, n)
			behind := base.Clone()
			ahead := base.Clone()
			mixedOps(b, ahead, ids, 1000, 7)
			delta := ahead.DeltaSince(behind.Context())
			check := behind.Clone()
			check.Merge(delta)
			if !check.Equal(ahead) {
				b.Fatal("behind replica merged with DeltaSince differs from the up-to-date one")
			}
			size := len(delta.Encode())
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ahead.DeltaSince(behind.Context())
			}
			b.ReportMetric(float64(size), "delta-bytes")
		})
	}
}

// BenchmarkPrepareOp prepares (without merging) single operations on a
// 1,000-block document.
func BenchmarkPrepareOp(b *testing.B) {
	d, ids := cachedDoc(b, 1000)
	// Top-level agents, in chain order: an edge from an early one to a late
	// one is admitted after a full cycle-check walk down the chain.
	var top []string
	for _, id := range ids {
		if effectiveParent(d, id) == "" && blockType(d, id) != TypeLoop {
			top = append(top, id)
		}
	}
	mid := top[len(top)/2]
	ops := []Op{
		UpdatePosition{ID: mid, Position: Position{X: 1, Y: 2}},
		UpdateSubBlock{BlockID: mid, SubBlockID: "systemPrompt", Value: "You are a careful reviewer of pull requests"},
		UpdateName{ID: mid, NewName: "Reviewer"},
		AddEdge{Edge: EdgeInput{ID: "bench-edge", Source: top[1], Target: top[len(top)-1]}},
		BatchRemoveBlocks{IDs: []string{mid}},
	}
	ts := crdt.Timestamp{Wall: benchWall + 1_000_000, Replica: "preparer"}
	for _, op := range ops {
		name := fmt.Sprintf("%T", op)
		b.Run(name[len("workflow."):], func(b *testing.B) {
			if _, err := d.Prepare(ts, op); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := d.Prepare(ts, op); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStructuralOp prepares (without merging) one structural
// operation on documents of growing size: what an edit costs the replica
// that makes it, and the server that vets it. A cost that grows with the
// document shows as a ratio between the sizes.
func BenchmarkStructuralOp(b *testing.B) {
	for _, n := range scaleSizes {
		d, ids := cachedDoc(b, n)
		var top []string
		loop := ""
		for _, id := range ids {
			switch {
			case blockType(d, id) == TypeLoop:
				if loop == "" {
					loop = id
				}
			case effectiveParent(d, id) == "":
				top = append(top, id)
			}
		}
		mid := top[len(top)/2]
		newBlock := benchBlock(10_000_000, "agent")
		ops := []struct {
			name string
			op   Op
		}{
			{"add", BatchAddBlocks{Blocks: []BlockInput{newBlock}}},
			{"remove", BatchRemoveBlocks{IDs: []string{mid}}},
			{"rename", UpdateName{ID: mid, NewName: "Reviewer"}},
			{"move", UpdateParent{ID: mid, ParentID: loop, Extent: "parent"}},
			{"edge-add", AddEdge{Edge: EdgeInput{ID: "bench-edge", Source: top[len(top)-3], Target: top[len(top)-1]}}},
			{"edge-remove", RemoveEdge{ID: "e-" + mid}},
			{"duplicate", DuplicateBlock{SourceID: mid, ID: benchID(10_000_001)}},
			{"position", UpdatePosition{ID: mid, Position: Position{X: 1, Y: 2}}},
			{"subblock", UpdateSubBlock{BlockID: mid, SubBlockID: "systemPrompt", Value: "You are a careful reviewer of pull requests"}},
		}
		ts := crdt.Timestamp{Wall: benchWall + 1_000_000, Replica: "preparer"}
		for _, o := range ops {
			b.Run(fmt.Sprintf("op=%s/blocks=%d", o.name, n), func(b *testing.B) {
				if _, err := d.Prepare(ts, o.op); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu := startCPU(b)
				for b.Loop() {
					if _, err := d.Prepare(ts, o.op); err != nil {
						b.Fatal(err)
					}
				}
				cpu.report()
			})
		}
	}
}

// BenchmarkDeltaSinceBehind computes the delta for a peer that missed the
// last k mixed operations: what a reconnecting editor costs the server.
func BenchmarkDeltaSinceBehind(b *testing.B) {
	for _, n := range scaleSizes {
		base, ids := cachedDoc(b, n)
		for _, k := range []int{1, 100} {
			b.Run(fmt.Sprintf("behind=%d/blocks=%d", k, n), func(b *testing.B) {
				behind := base.Clone()
				ahead := base.Clone()
				mixedOps(b, ahead, ids, k, 11)
				delta := ahead.DeltaSince(behind.Context())
				check := behind.Clone()
				check.Merge(delta)
				if !check.Equal(ahead) {
					b.Fatal("behind replica merged with DeltaSince differs from the up-to-date one")
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu := startCPU(b)
				for b.Loop() {
					ahead.DeltaSince(behind.Context())
				}
				cpu.report()
			})
		}
	}
}

// BenchmarkIndexBuild builds a document's index from its store: what the
// first operation or join after Decode or Clone pays once (index.go).
func BenchmarkIndexBuild(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("blocks=%d", n), func(b *testing.B) {
			d, _ := cachedDoc(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				buildIndex(d)
			}
		})
	}
}
