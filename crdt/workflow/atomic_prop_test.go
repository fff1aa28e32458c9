package workflow

// Property: blocks are atomic records under concurrency.
//
//	go test ./crdt/workflow -run AtomicRecords -rapid.checks=2000
//	go test ./crdt/workflow -run AtomicRecords -rapid.seed=N   # replay a failure
//
// Three replicas, each with its own hybrid clock, add, remove and edit blocks
// whose ids come from a pool of two, so adds collide all the time; between
// operations they exchange deltas in random directions (observing the
// timestamps they merge, as clients do). After a full exchange every replica
// must hold the same state and view, and each visible block must be exactly
// the record of one add (the one that won its id) plus edits stamped after
// that add: its type and position are the add's, every sub-block the add
// wrote shows, and every other value is the add's or one a later edit wrote.
// Every edge shown was added after the adds of its ends that show. The reads
// operations make must agree with the view on every replica.

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"pgregory.net/rapid"
)

// atomicWrite is one value an accepted operation wrote to a block.
type atomicWrite struct {
	ts    crdt.Timestamp
	value any // string, bool or sub-block value, as the operation gave it
}

type atomicHistory struct {
	// adds maps the dot of each accepted add's membership entry to the add.
	adds map[crdt.Dot]atomicAdd
	// edits holds what each accepted edit wrote, by block id and then by
	// "name", "isWide", "enabled" or "sub.<id>".
	edits map[string]map[string][]atomicWrite
}

type atomicAdd struct {
	ts crdt.Timestamp
	in BlockInput
}

func (h *atomicHistory) edit(id, what string, ts crdt.Timestamp, v any) {
	if h.edits[id] == nil {
		h.edits[id] = map[string][]atomicWrite{}
	}
	h.edits[id][what] = append(h.edits[id][what], atomicWrite{ts, v})
}

// later reports whether an edit stamped after ts wrote to what of block id
// and, when match is not nil, wrote a value match accepts.
func (h *atomicHistory) later(id, what string, ts crdt.Timestamp, match func(any) bool) bool {
	for _, w := range h.edits[id][what] {
		if w.ts.Compare(ts) > 0 && (match == nil || match(w.value)) {
			return true
		}
	}
	return false
}

var atomicSubValues = []any{"a", "b", 1.0, true, nil, map[string]any{"k": "v"}}

func drawAtomicOp(t *rapid.T) Op {
	id := rapid.SampledFrom([]string{"x", "y"}).Draw(t, "id")
	name := func() string { return id + "-" + rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "name") }
	optBool := func(label string) *bool {
		switch rapid.IntRange(0, 2).Draw(t, label) {
		case 0:
			return nil
		case 1:
			return ptr(false)
		}
		return ptr(true)
	}
	switch rapid.IntRange(0, 7).Draw(t, "op") {
	case 0, 1:
		in := BlockInput{ID: id, Type: rapid.SampledFrom([]string{"agent", "api", "function"}).Draw(t, "type"), Name: name(),
			Enabled: optBool("enabled"), IsWide: optBool("isWide"), AdvancedMode: optBool("advancedMode")}
		if rapid.Bool().Draw(t, "hasPosition") {
			in.Position = &Position{float64(rapid.IntRange(0, 9).Draw(t, "x")), 0}
		}
		for _, sid := range []string{"p", "q"} {
			if rapid.Bool().Draw(t, "has "+sid) {
				if in.SubBlocks == nil {
					in.SubBlocks = map[string]SubBlockInput{}
				}
				in.SubBlocks[sid] = SubBlockInput{ID: sid, Type: rapid.SampledFrom([]string{"short-input", "code"}).Draw(t, "subType"),
					Value: rapid.SampledFrom(atomicSubValues).Draw(t, "subValue")}
			}
		}
		return addBlocks(in)
	case 2:
		return RemoveBlock{ID: id}
	case 3:
		return UpdateName{ID: id, NewName: name()}
	case 4:
		return UpdateWide{ID: id, IsWide: rapid.Bool().Draw(t, "wide")}
	case 5:
		return ToggleEnabled{ID: id}
	case 6:
		other := map[string]string{"x": "y", "y": "x"}[id]
		return AddEdge{Edge: EdgeInput{ID: rapid.SampledFrom([]string{"e0", "e1"}).Draw(t, "edge"), Source: id, Target: other}}
	}
	return UpdateSubBlock{BlockID: id, SubBlockID: rapid.SampledFrom([]string{"p", "q", "r"}).Draw(t, "sub"),
		Value: rapid.SampledFrom(atomicSubValues).Draw(t, "subValue")}
}

// record notes what an accepted op wrote.
func (h *atomicHistory) record(op Op, ts crdt.Timestamp, delta *Doc, after *Doc) {
	switch op := op.(type) {
	case BatchAddBlocks:
		in := op.Blocks[0]
		es := delta.store.Get(blockKey(in.ID))
		h.adds[es[0].Dot] = atomicAdd{ts, in}
	case UpdateName:
		h.edit(op.ID, "name", ts, op.NewName)
	case UpdateWide:
		h.edit(op.ID, "isWide", ts, op.IsWide)
	case ToggleEnabled:
		h.edit(op.ID, "enabled", ts, after.get(fieldKey(op.ID, FieldEnabled)).asBool(true))
	case UpdateSubBlock:
		h.edit(op.BlockID, "sub."+op.SubBlockID, ts, op.Value)
	}
}

func TestAtomicRecordsUnderCollidingAdds(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		replicas := []crdt.ReplicaID{"r0", "r1", "r2"}
		docs := make([]*Doc, len(replicas))
		clocks := make([]*crdt.Clock, len(replicas))
		for i, r := range replicas {
			docs[i], clocks[i] = New(), crdt.NewClock(r)
		}
		h := &atomicHistory{adds: map[crdt.Dot]atomicAdd{}, edits: map[string]map[string][]atomicWrite{}}
		wall := int64(1_000)
		deliver := func(from, into int) {
			delta := docs[from].DeltaSince(docs[into].Context())
			docs[into].Merge(delta)
			if latest := delta.Latest(); latest.Wall != 0 {
				clocks[into].Observe(latest, wall)
			}
		}
		n := rapid.IntRange(1, 40).Draw(rt, "steps")
		for i := range n {
			wall += int64(rapid.IntRange(0, 2).Draw(rt, "tick"))
			if rapid.IntRange(0, 2).Draw(rt, "exchange?") == 0 {
				from, into := rapid.IntRange(0, 2).Draw(rt, "from"), rapid.IntRange(0, 2).Draw(rt, "into")
				if from != into {
					deliver(from, into)
					rt.Logf("#%d deliver %s → %s", i, replicas[from], replicas[into])
				}
				continue
			}
			r := rapid.IntRange(0, 2).Draw(rt, "replica")
			op := drawAtomicOp(rt)
			ts := clocks[r].Now(wall)
			delta, err := docs[r].Apply(ts, op)
			if err != nil {
				rt.Logf("#%d %s refused %s: %v", i, replicas[r], describe(op), err)
				continue
			}
			rt.Logf("#%d %s at %d.%d: %s", i, replicas[r], ts.Wall, ts.Logical, describe(op))
			h.record(op, ts, delta, docs[r])
		}
		for range 2 {
			for from := range docs {
				for into := range docs {
					if from != into {
						deliver(from, into)
					}
				}
			}
		}
		v := docs[0].View()
		for i := 1; i < len(docs); i++ {
			if !docs[i].Equal(docs[0]) {
				rt.Fatalf("%s and %s hold different states after a full exchange", replicas[i], replicas[0])
			}
			if diff := diffViews(docs[i].View(), v); diff != "" {
				rt.Fatalf("%s's view (got) differs from %s's (want):\n%s", replicas[i], replicas[0], diff)
			}
		}
		for _, d := range docs {
			checkReadsMatchView(rt, d)
		}
		// A shown edge was added to the records of its ends that show.
		for _, e := range v.Edges {
			w, _ := docs[0].rawWinner(edgeKey(e.ID))
			for _, end := range []string{e.Source, e.Target} {
				if inc, _ := docs[0].rawWinner(blockKey(end)); w.Value.Stamp(w.Dot).Compare(inc.Value.Stamp(inc.Dot)) < 0 {
					rt.Fatalf("edge %s shows, but was added before %q's add that shows", e.ID, end)
				}
			}
		}
		for _, id := range slices.Sorted(func(yield func(string) bool) {
			for id := range v.Blocks {
				if !yield(id) {
					return
				}
			}
		}) {
			checkAtomicRecord(rt, h, docs[0], v.Blocks[id])
		}
	})
}

// textFromWrites reports whether every character of text was written by the
// winning add (want) or by a write of key stamped after it.
func textFromWrites(text string, want *SubBlockView, h *atomicHistory, id, key string, after crdt.Timestamp) bool {
	var from strings.Builder
	if want != nil {
		if s, ok := want.Value.stringOK(); ok {
			from.WriteString(s)
		}
	}
	h.later(id, key, after, func(x any) bool {
		if s, ok := x.(string); ok {
			from.WriteString(s)
		}
		return false // visit every later write
	})
	for _, r := range text {
		if !strings.ContainsRune(from.String(), r) {
			return false
		}
	}
	return true
}

// checkAtomicRecord fails unless bv is the record of the add that won its id
// plus edits stamped after that add.
func checkAtomicRecord(t *rapid.T, h *atomicHistory, d *Doc, bv *BlockView) {
	id := bv.ID
	w, ok := d.rawWinner(blockKey(id))
	if !ok {
		t.Fatalf("block %q shows without a membership entry", id)
	}
	add, ok := h.adds[w.Dot]
	if !ok {
		t.Fatalf("block %q: its membership dot %v is no recorded add's", id, w.Dot)
	}
	// The add's record as its author rendered it, defaults filled in.
	alone := New()
	if _, err := alone.Apply(add.ts, addBlocks(add.in)); err != nil {
		t.Fatalf("re-applying the winning add of %q: %v", id, err)
	}
	want := alone.View().Blocks[id]
	fail := func(what string, got, want any) {
		t.Fatalf("block %q (won by the add at %d.%d %s): %s = %s, want the add's %s or a later edit's",
			id, add.ts.Wall, add.ts.Logical, add.ts.Replica, what, jsonOf(got), jsonOf(want))
	}
	if bv.Type != want.Type {
		fail("type", bv.Type, want.Type)
	}
	if bv.Position != want.Position {
		fail("position", bv.Position, want.Position)
	}
	if bv.AdvancedMode != want.AdvancedMode {
		fail("advancedMode", bv.AdvancedMode, want.AdvancedMode)
	}
	if bv.Name != want.Name && !h.later(id, "name", add.ts, func(x any) bool { n := x.(string); return bv.Name == n || isSuffixed(bv.Name, n) }) {
		fail("name", bv.Name, want.Name)
	}
	if bv.IsWide != want.IsWide && !h.later(id, "isWide", add.ts, func(x any) bool { return x == bv.IsWide }) {
		fail("isWide", bv.IsWide, want.IsWide)
	}
	if bv.Enabled != want.Enabled && !h.later(id, "enabled", add.ts, func(x any) bool { return x == bv.Enabled }) {
		fail("enabled", bv.Enabled, want.Enabled)
	}
	for sid, ws := range want.SubBlocks {
		if bv.SubBlocks[sid] == nil {
			fail(fmt.Sprintf("sub-block %q", sid), nil, ws)
		}
	}
	for sid, sv := range bv.SubBlocks {
		ws := want.SubBlocks[sid]
		sameValue := func(x any) bool {
			v, err := anyValue(x)
			return err == nil && sameCellValue(v, sv.Value)
		}
		if ws != nil && sameCellValue(ws.Value, sv.Value) && ws.Type == sv.Type {
			continue
		}
		if text, ok := sv.Value.stringOK(); ok && IsTextSubBlockType(sv.Type) {
			// A text merges concurrent writes character by character (two
			// replicas replacing "a" by "b" at once leave "bb"), so it need
			// not equal any one write: every character must come from the
			// winning add's text or a later write, none from a losing add.
			if !textFromWrites(text, ws, h, id, "sub."+sid, add.ts) {
				fail(fmt.Sprintf("text sub-block %q", sid), sv, ws)
			}
			continue
		}
		if !h.later(id, "sub."+sid, add.ts, sameValue) {
			fail(fmt.Sprintf("sub-block %q", sid), sv, ws)
		}
		// An update of a sub-block its author's record lacked writes its
		// type too ("unknown").
		if ws != nil && ws.Type != sv.Type && !h.later(id, "sub."+sid, add.ts, nil) {
			fail(fmt.Sprintf("type of sub-block %q", sid), sv.Type, ws.Type)
		}
	}
	if !reflect.DeepEqual(bv.Data, want.Data) {
		fail("data", bv.Data, want.Data)
	}
}
