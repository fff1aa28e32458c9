package rooms

import (
	"context"
	"flag"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/crdt/workflow/workflowtest"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/receipt"
)

// turnClock records how long each turn of a room's loop took, in the CPU
// time of the room goroutine's thread (Config.onTurn locks the goroutine to
// its thread on the first turn), so that other processes on a loaded
// machine do not count; on systems without a thread clock, in wall time.
type turnClock struct {
	mu      sync.Mutex
	locked  bool
	started int // turns started so far
	turns   []turnTook
}

type turnTook struct {
	n    int // the turn's number, from 0
	what string
	took time.Duration
}

func (tc *turnClock) onTurn(what any) func() {
	if !tc.locked {
		runtime.LockOSThread() // the room goroutine's, until it returns
		tc.locked = true
	}
	tc.mu.Lock()
	n := tc.started
	tc.started++
	tc.mu.Unlock()
	startCPU, start := threadCPU(), time.Now()
	return func() {
		took := threadCPU() - startCPU
		if startCPU == 0 {
			took = time.Since(start)
		}
		tc.mu.Lock()
		tc.turns = append(tc.turns, turnTook{n, fmt.Sprintf("%T", what), took})
		tc.mu.Unlock()
	}
}

// since returns the longest of the turns started from the i-th on that
// have ended, and how many there were.
func (tc *turnClock) since(i int) (longest turnTook, n int) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for _, t := range tc.turns {
		if t.n < i {
			continue
		}
		n++
		if t.took > longest.took {
			longest = t
		}
	}
	return longest, n
}

// count returns how many turns have started.
func (tc *turnClock) count() int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.started
}

// turnCase is one frame (or admin call) a member can make a room handle;
// run sends it and returns once the room has answered it.
type turnCase struct {
	name string
	run  func(b *testing.B, rm *Room, r *Registry, m *ackMember, seed *workflow.Doc)
}

// BenchmarkLongestTurn loads a room holding a loop of 50,000 blocks (a
// memory store, a real room goroutine) and, per case, makes it handle one
// frame a member can send — a Join (the catch-up; with an empty, a current
// or a one-dot context), an Operation of each costly kind at the 128-item
// cap, an undo and redo, text edits, a Vouch of a large removal, a Delta of
// each adversarial shape at its cap, a Drag at its cap — or an admin API
// call (Snapshot, View, an Apply of 1,000 operations), and
// reports the longest turn of the room loop from the frame to its answer:
// how long one frame holds everyone else in the room. Turns are timed in the
// CPU time of the room goroutine's thread (the garbage collector's
// background work on other threads excluded, its assists included).
//
//	cd rooms && go test -c -o /tmp/rooms.test && nice /tmp/rooms.test -test.run '^$' -test.bench LongestTurn -test.benchtime 1x
//
// Metrics: max-turn-cpu-ms, turns (how many turns handled it, steps
// included), and the kind of event of the longest turn is logged.
func BenchmarkLongestTurn(b *testing.B) {
	const n = 50_000
	seed := loopDoc(b, n)
	wall := time.Now().UnixMilli()
	ids := make([]string, 0, n)
	for i := range n {
		ids = append(ids, fmt.Sprint("c", i))
	}
	op := func(o workflow.Op) func(*testing.B, *Room, *Registry, *ackMember, *workflow.Doc) {
		return func(b *testing.B, rm *Room, _ *Registry, m *ackMember, _ *workflow.Doc) {
			rm.SubmitOperation(m, "op", o)
			if nk, ok := (<-m.acks).(*protocol.Nack); ok {
				b.Fatalf("%s refused: %s", o.Name(), nk.Message)
			}
		}
	}
	var batchAdd workflow.BatchAddBlocks
	replace := workflow.ReplaceState{Blocks: map[string]workflow.BlockInput{}}
	for i := range workflow.MaxOpItems {
		in := workflow.BlockInput{ID: fmt.Sprint("new", i), Type: "agent", Name: fmt.Sprint("New ", i), Position: &workflow.Position{X: float64(i)}}
		batchAdd.Blocks = append(batchAdd.Blocks, in)
		replace.Blocks[in.ID] = in
	}
	// A vouched removal of the container, made by another replica and
	// signed by the room's key.
	vouchDelta, err := seed.Prepare(crdt.NewClock("other").Now(wall), workflow.RemoveBlock{ID: "loop"})
	if err != nil {
		b.Fatal(err)
	}
	vouchRaw := vouchDelta.Encode()
	r := turnKeyring.Sign("wf", vouchRaw)
	vouchReceipt := protocol.Receipt{KeyID: r.KeyID, MAC: r.MAC}
	cases := []turnCase{
		{"join/empty", func(b *testing.B, _ *Room, r *Registry, _ *ackMember, _ *workflow.Doc) {
			j := member("joiner", "rj")
			if _, err := r.Join(context.Background(), "wf", j, JoinOptions{}); err != nil {
				b.Fatal(err)
			}
			waitJoined(j)
		}},
		{"join/current", func(b *testing.B, _ *Room, r *Registry, _ *ackMember, seed *workflow.Doc) {
			if _, err := r.Join(context.Background(), "wf", member("joiner", "rj"), JoinOptions{Have: seed.Context().Clone()}); err != nil {
				b.Fatal(err)
			}
		}},
		{"join/stale", func(b *testing.B, _ *Room, r *Registry, _ *ackMember, _ *workflow.Doc) {
			// A context holding one dot: the catch-up is nearly the
			// whole document, computed by DeltaSince.
			have := crdt.NewContext()
			have.Add(crdt.Dot{Replica: "w", Counter: 1})
			j := member("joiner", "rj")
			if _, err := r.Join(context.Background(), "wf", j, JoinOptions{Have: have}); err != nil {
				b.Fatal(err)
			}
			waitJoined(j)
		}},
		{"op/update-name", op(workflow.UpdateName{ID: "c7", NewName: "Renamed"})},
		{"op/batch-add-128", op(batchAdd)},
		{"op/batch-remove-128", op(workflow.BatchRemoveBlocks{IDs: ids[:workflow.MaxOpItems]})},
		{"op/remove-container", op(workflow.RemoveBlock{ID: "loop"})},
		{"op/duplicate-container", op(workflow.DuplicateBlock{SourceID: "loop", ID: "loop2"})},
		{"op/replace-state-128", op(replace)},
		{"op/undo-redo-batch-remove-128", func(b *testing.B, rm *Room, r *Registry, m *ackMember, seed *workflow.Doc) {
			op(workflow.BatchRemoveBlocks{IDs: ids[:workflow.MaxOpItems]})(b, rm, r, m, seed)
			for i, redo := range []bool{false, true} {
				rm.SubmitUndo(m, fmt.Sprint("undo-", i), redo)
				if nk, ok := (<-m.acks).(*protocol.Nack); ok {
					b.Fatalf("undo (redo=%v) refused: %s", redo, nk.Message)
				}
			}
		}},
		{"op/text-insert-4k", op(workflow.InsertText{TextTarget: workflow.TextTarget{BlockID: "txt", SubBlockID: "prompt"}, Index: textLen / 2, Text: strings.Repeat("b", 4096)})},
		{"op/text-delete-all", op(workflow.DeleteText{TextTarget: workflow.TextTarget{BlockID: "txt", SubBlockID: "prompt"}, Index: 0, Length: textLen})},
		{"vouch/remove-container", func(b *testing.B, rm *Room, _ *Registry, m *ackMember, _ *workflow.Doc) {
			rm.SubmitVouch(m, "vouch", slices.Clone(vouchRaw), vouchDelta, vouchReceipt)
			if nk, ok := (<-m.acks).(*protocol.Nack); ok {
				b.Fatalf("vouch refused: %s", nk.Message)
			}
		}},
		{"admin/apply-1000", func(b *testing.B, _ *Room, r *Registry, _ *ackMember, _ *workflow.Doc) {
			ops := make([]workflow.Op, 1000)
			for i := range ops {
				ops[i] = workflow.UpdateName{ID: ids[i], NewName: fmt.Sprint("Applied ", i)}
			}
			res, err := r.Apply(context.Background(), "wf", Identity{UserID: "admin", Role: protocol.RoleAdmin}, ops)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Results) != len(ops) || res.Results[len(ops)-1].Err != nil {
				b.Fatalf("apply: %d results, the last %+v", len(res.Results), res.Results[len(res.Results)-1])
			}
		}},
		{"drag/max-blocks", func(b *testing.B, rm *Room, r *Registry, m *ackMember, _ *workflow.Doc) {
			pos := make(map[string]protocol.Point, protocol.MaxDragBlocks)
			for _, id := range ids[:protocol.MaxDragBlocks] {
				pos[id] = protocol.Point{X: 1, Y: 2}
			}
			rm.Drag(m, pos)
			if _, ok := r.Roster(context.Background(), "wf"); !ok { // a barrier: the loop handled the drag
				b.Fatal("no roster")
			}
		}},
		{"admin/snapshot", func(b *testing.B, rm *Room, _ *Registry, _ *ackMember, _ *workflow.Doc) {
			if _, err := rm.Snapshot(context.Background()); err != nil {
				b.Fatal(err)
			}
		}},
		{"admin/view", func(b *testing.B, _ *Room, r *Registry, _ *ackMember, _ *workflow.Doc) {
			if _, err := r.View(context.Background(), "wf"); err != nil {
				b.Fatal(err)
			}
		}},
	}
	seeds := map[string]*workflow.Doc{} // the stored document, when not seed
	// The text cases' document: the loop and a block whose prompt is a
	// text of textLen characters.
	textDoc := seed.Clone()
	tc := crdt.NewClock("w2")
	for _, o := range []workflow.Op{
		workflow.AddBlock{Block: workflow.BlockInput{ID: "txt", Type: "agent", Name: "Text", Position: &workflow.Position{},
			SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: strings.Repeat("a", textLen-1)}}}},
		workflow.InsertText{TextTarget: workflow.TextTarget{BlockID: "txt", SubBlockID: "prompt"}, Index: 0, Text: "a"},
	} {
		if _, err := textDoc.Apply(tc.Now(wall), o); err != nil {
			b.Fatal(err)
		}
	}
	seeds["op/text-insert-4k"] = textDoc
	seeds["op/text-delete-all"] = textDoc
	var shapes []workflowtest.Adversarial
	if benchMayRun("delta") {
		// Tens of seconds of CPU to build: only when a delta case may run.
		shapes = workflowtest.AdversarialDeltas(b, loopDoc(b, 1000), ids[:1000], "evil", wall+1_000)
	}
	for _, c := range shapes {
		if c.Delta == nil {
			continue
		}
		// The shapes' documents are the small base, possibly with a
		// context of their own: the room's holds the 50,000 blocks too.
		doc := seed.Clone()
		doc.Merge(c.Doc)
		delta := c.Delta
		foreign := c.Foreign
		cases = append(cases, turnCase{"delta/" + c.Name, func(b *testing.B, rm *Room, _ *Registry, m *ackMember, _ *workflow.Doc) {
			d, err := workflow.DecodeDelta(slices.Clone(delta))
			if err != nil {
				b.Fatal(err)
			}
			rm.SubmitDelta(m, "hostile", slices.Clone(delta), d)
			if nk, ok := (<-m.acks).(*protocol.Nack); ok && !foreign {
				b.Fatalf("refused: %s", nk.Message)
			}
		}})
		seeds["delta/"+c.Name] = doc
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			s := seed
			if d, ok := seeds[c.name]; ok {
				s = d
			}
			var longest turnTook
			turns := 0
			for range b.N {
				l, t := longestTurn(b, s, c)
				if l.took > longest.took {
					longest = l
				}
				turns += t
			}
			b.ReportMetric(float64(longest.took.Microseconds())/1e3, "max-turn-cpu-ms")
			b.ReportMetric(float64(turns)/float64(b.N), "turns")
			b.Logf("longest turn: %s", longest.what)
		})
	}
}

// waitJoined returns once j has its Joined: a catch-up made off the loop
// is handed back to it in a turn of its own (longestTurn's barrier then
// waits for that turn's end).
func waitJoined(j *fakeMember) {
	for {
		j.mu.Lock()
		n := len(j.frames)
		j.mu.Unlock()
		if n > 0 {
			return
		}
		runtime.Gosched()
	}
}

// benchMayRun reports whether -test.bench may select a case of
// BenchmarkLongestTurn named kind/…: whether its second element matches kind.
func benchMayRun(kind string) bool {
	f := flag.Lookup("test.bench")
	if f == nil {
		return true
	}
	parts := strings.Split(f.Value.String(), "/")
	if len(parts) < 2 {
		return true
	}
	ok, err := regexp.MatchString(parts[1], kind)
	return err != nil || ok
}

// textLen is the length of the text the text cases edit.
const textLen = 16 << 10

// turnKeyring signs BenchmarkLongestTurn's receipts.
var turnKeyring = func() *receipt.Keyring {
	k, err := receipt.NewKey("k1")
	if err != nil {
		panic(err)
	}
	ring, err := receipt.NewKeyring(k)
	if err != nil {
		panic(err)
	}
	return ring
}()

// longestTurn runs one case of BenchmarkLongestTurn in a fresh registry
// whose store holds seed, and returns the longest turn from the frame to
// its answer and how many turns that took.
func longestTurn(b *testing.B, seed *workflow.Doc, c turnCase) (turnTook, int) {
	b.StopTimer()
	defer b.StartTimer()
	ctx := context.Background()
	store := memory.New()
	if _, err := store.Snapshot(ctx, "wf", seed); err != nil {
		b.Fatal(err)
	}
	tc := &turnClock{}
	r, err := NewRegistry(Config{MaxClockLag: -1, SnapshotInterval: time.Hour, Receipts: turnKeyring, onTurn: tc.onTurn}, store, nil, NewMetrics(nil))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			b.Error(err)
		}
	}()
	m := &ackMember{fakeMember: *member("attacker", "evil"), acks: make(chan protocol.Frame, 4)}
	m.id.Role = protocol.RoleAdmin
	rm, err := r.Join(ctx, "wf", m, JoinOptions{Have: seed.Context().Clone()})
	if err != nil {
		b.Fatal(err)
	}
	from := tc.count()
	b.StartTimer()
	c.run(b, rm, r, m, seed)
	b.StopTimer()
	// A barrier: the turn that answered the case has ended (an answer is
	// sent before its turn ends) and been recorded.
	if _, ok := r.Roster(ctx, "wf"); !ok {
		b.Fatal("no roster")
	}
	return tc.since(from)
}
