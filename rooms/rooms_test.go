package rooms

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeMember records frames; limit > 0 makes Enqueue fail past it. A
// Join's reply is recorded whole, its CatchUp frames outside the limit (as
// a session keeps them outside its queue's bounds).
type fakeMember struct {
	sid   string
	id    Identity
	limit int

	mu     sync.Mutex
	frames [][]byte
	closed protocol.CloseCode
}

func (f *fakeMember) SessionID() string  { return f.sid }
func (f *fakeMember) Identity() Identity { return f.id }
func (f *fakeMember) Enqueue(b []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limit > 0 && len(f.frames) >= f.limit {
		return false
	}
	f.frames = append(f.frames, b)
	return true
}
func (f *fakeMember) EnqueueReply(reply [][]byte) bool {
	if !f.Enqueue(reply[0]) {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frames = append(f.frames, reply[1:]...)
	return true
}
func (f *fakeMember) Close(code protocol.CloseCode, _ string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed == 0 {
		f.closed = code
	}
}

func (f *fakeMember) decoded(t testing.TB) []protocol.Frame {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []protocol.Frame
	for _, b := range f.frames {
		fr, err := protocol.Decode(b, protocol.Limits{MaxFrameBytes: 64 << 20})
		if err != nil {
			t.Fatalf("room sent an undecodable frame: %v", err)
		}
		out = append(out, fr)
	}
	return out
}

func member(sid, rid string) *fakeMember {
	return &fakeMember{sid: sid, id: Identity{UserID: "u-" + sid, Name: sid, ReplicaID: crdt.ReplicaID(rid), Role: protocol.RoleWrite}}
}

func newRegistry(t testing.TB, cfg Config, store storage.Store) *Registry {
	t.Helper()
	if store == nil {
		store = memory.New()
	}
	r, err := NewRegistry(cfg, store, nil, NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return r
}

// The tests that wait on the room run in a synctest bubble: the room's
// timers and its clock readings are the time package's, which the bubble
// fakes, so a test moves time on explicitly (advance) and waits for the
// room by waiting until every goroutine of the bubble is blocked (settle).
// No test sleeps on the wall clock, and "nothing happened" is checked once
// the room has nothing left to do, not after a guessed pause.

// settle returns once every goroutine of the bubble is durably blocked: the
// room has handled what it was given, and its store calls have returned.
func settle() { synctest.Wait() }

// advance moves the bubble's fake time on by d (the timers due meanwhile
// fire in order) and settles.
func advance(d time.Duration) {
	time.Sleep(d) // fake time: returns as soon as every other goroutine is blocked
	synctest.Wait()
}

// settled fails the test unless cond holds once the room has settled.
func settled(t testing.TB, what string, cond func() bool) {
	t.Helper()
	settle()
	if !cond() {
		t.Fatalf("settled without %s", what)
	}
}

// buildDoc returns a document of n blocks written by replica "w", with
// every third block removed afterwards.
func buildDoc(t testing.TB, n int) *workflow.Doc {
	doc, _ := buildDocDeltas(t, n)
	return doc
}

// buildDocDeltas is buildDoc, and the deltas that built it in order.
func buildDocDeltas(t testing.TB, n int) (*workflow.Doc, []*workflow.Doc) {
	var deltas []*workflow.Doc
	doc := workflow.New()
	clock := crdt.NewClock("w")
	wall := int64(1_700_000_000_000)
	var removed []string
	for i := range n {
		wall++
		id := fmt.Sprintf("block-%04d", i)
		d, err := doc.Apply(clock.Now(wall), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{
			ID: id, Type: "agent", Name: "Agent " + id, Position: &workflow.Position{X: float64(i), Y: 1},
			SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "write a poem about " + id}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		deltas = append(deltas, d)
		if i%3 == 0 {
			removed = append(removed, id)
		}
	}
	wall++
	d, err := doc.Apply(clock.Now(wall), workflow.BatchRemoveBlocks{IDs: removed})
	if err != nil {
		t.Fatal(err)
	}
	return doc, append(deltas, d)
}

func TestSplitCatchUp(t *testing.T) {
	doc, deltas := buildDocDeltas(t, 300)
	// A client that has the first half of the writes (a replica that
	// merged them: its prompts' texts included).
	first := workflow.New()
	for _, d := range deltas[:len(deltas)/2] {
		first.Merge(d)
	}
	half := first.Context().Clone()
	for _, tc := range []struct {
		name string
		have *crdt.Context
		max  int
	}{
		{"from nothing, one chunk", crdt.NewContext(), 1 << 20},
		{"from nothing, 8 KiB chunks", crdt.NewContext(), 8 << 10},
		{"from half, 4 KiB chunks", half, 4 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			delta := doc.DeltaSince(tc.have)
			chunks := delta.EncodeChunks(tc.max)
			if tc.max < 1<<20 && len(chunks) < 2 {
				t.Fatalf("%d chunks", len(chunks))
			}
			decoded := make([]*workflow.Doc, len(chunks))
			for i, c := range chunks {
				if len(c) > tc.max {
					t.Errorf("chunk %d is %d bytes > %d", i, len(c), tc.max)
				}
				d, err := workflow.Decode(c, workflow.DeltaLimits)
				if err != nil {
					t.Fatalf("chunk %d: %v", i, err)
				}
				decoded[i] = d
			}
			orders := [][]int{identity(len(chunks)), reversed(len(chunks))}
			for _, order := range orders {
				got := workflow.New()
				got.Merge(prefixState(doc, tc.have, first))
				for _, i := range order {
					got.Merge(decoded[i])
				}
				want := workflow.New()
				want.Merge(prefixState(doc, tc.have, first))
				want.Merge(delta)
				if !got.Equal(want) || !got.Equal(doc) {
					t.Fatalf("order %v: joining the chunks is not the document", order)
				}
			}
		})
	}
}

// prefixState is what a replica whose context is have holds of doc: the
// entries doc holds under dots in have, and have as context.
// prefixState returns what a replica that has seen have holds of doc: the
// replica first when have is its context, else (have empty) nothing.
func prefixState(doc *workflow.Doc, have *crdt.Context, first *workflow.Doc) *workflow.Doc {
	if have.IsEmpty() {
		return workflow.New()
	}
	return first.Clone()
}

func identity(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

func reversed(n int) []int {
	o := identity(n)
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		o[i], o[j] = o[j], o[i]
	}
	return o
}

// flakyStore fails the first n appends.
type flakyStore struct {
	storage.Store
	fail    atomic.Int64
	appends atomic.Int64
}

func (s *flakyStore) Append(ctx context.Context, wf string, deltas []storage.Delta) error {
	s.appends.Add(1)
	if s.fail.Add(-1) >= 0 {
		return errors.New("disk on fire")
	}
	return s.Store.Append(ctx, wf, deltas)
}

// Durable follows the store: two failed appends are retried after the
// default backoff (100 ms, then 200 ms) and only the third success acks.
func TestDurableWaitsForStoreAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &flakyStore{Store: memory.New()}
		store.fail.Store(2)
		r := newRegistry(t, Config{}, store)
		a := member("a", "ra")
		rm, err := r.Join(context.Background(), "wf", a, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		doc := workflow.New()
		d, _ := doc.Apply(crdt.NewClock("ra").Now(time.Now().UnixMilli()), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b", Type: "agent", Name: "B"}}})
		rm.SubmitDelta(a, "op-1", d.Encode(), d)
		for _, step := range []struct {
			after   time.Duration
			appends int64
			durable int
		}{{0, 1, 0}, {DefaultRetryBackoff - 1, 1, 0}, {1, 2, 0}, {2*DefaultRetryBackoff - 1, 2, 0}, {1, 3, 1}} {
			advance(step.after)
			if n, ops := store.appends.Load(), durableOps(t, a); n != step.appends || ops != step.durable {
				t.Fatalf("after +%v: %d appends and %d Durable ops, want %d and %d", step.after, n, ops, step.appends, step.durable)
			}
		}
		types := []protocol.FrameType{}
		for _, f := range a.decoded(t) {
			types = append(types, f.Type())
		}
		want := []protocol.FrameType{protocol.FrameJoined, protocol.FrameApplied, protocol.FrameDurable}
		if fmt.Sprint(types) != fmt.Sprint(want) {
			t.Fatalf("frames %v, want %v", types, want)
		}
	})
}

func TestSlowMemberClosedOthersContinue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, Config{}, nil)
		a, fast, slow := member("a", "ra"), member("f", "rf"), member("s", "rs")
		slow.limit = 3
		var rm *Room
		for _, m := range []*fakeMember{a, fast, slow} {
			var err error
			if rm, err = r.Join(context.Background(), "wf", m, JoinOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		doc := workflow.New()
		clock := crdt.NewClock("ra")
		for i := range 10 {
			d, err := doc.Apply(clock.Now(time.Now().UnixMilli()), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: fmt.Sprint("b", i), Type: "agent", Name: fmt.Sprint("B ", i)}}})
			if err != nil {
				t.Fatal(err)
			}
			rm.SubmitDelta(a, fmt.Sprint("op-", i), d.Encode(), d)
			// One delta at a time, so that each is relayed in a frame of
			// its own (a burst would be coalesced into fewer frames).
			settled(t, "Applied", func() bool { n, _ := count[*protocol.Applied](t, a); return n == i+1 })
		}
		if n := relayedBlocks(t, fast); n != 10 {
			t.Fatalf("fast member got %d deltas, want 10", n)
		}
		slow.mu.Lock()
		code := slow.closed
		slow.mu.Unlock()
		if code != protocol.CloseSlowConsumer {
			t.Fatalf("slow member closed with %d", code)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{IdleTimeout: -1}, false},
		{Config{MaxCatchUpChunk: 10}, false},
		{Config{RetryBackoff: time.Second, MaxRetryBackoff: time.Millisecond}, false},
		{Config{MaxDocumentBytes: -1}, true},
		{Config{MaxDocumentBytes: -2}, false},
		{Config{MaxDocumentBytes: 64<<20 + 1}, false},
	} {
		if err := tc.cfg.validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: validate() = %v", tc.cfg, err)
		}
	}
}

func TestLoadFailureAndDeleted(t *testing.T) {
	store := memory.New()
	if err := store.Delete(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, Config{}, store)
	_, err := r.Join(context.Background(), "gone", member("a", "ra"), JoinOptions{})
	if !errors.Is(err, storage.ErrDeleted) || ErrorCode(err) != protocol.CodeWorkflowDeleted {
		t.Fatalf("join of a deleted workflow: %v", err)
	}
	if r.Len() != 0 {
		t.Fatal("a failed load left a room behind")
	}
}
