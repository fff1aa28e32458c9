package history

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
)

// fakeClock is a Clock moved by hand: Advance runs the timers that come
// due, in order, in the caller's goroutine.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var run []*fakeTimer
	for _, t := range c.timers {
		if !t.stopped && !t.at.After(c.now) {
			t.stopped = true
			run = append(run, t)
		}
	}
	c.mu.Unlock()
	sort.Slice(run, func(i, j int) bool { return run[i].at.Before(run[j].at) })
	for _, t := range run {
		t.f()
	}
}

// fixture is one workflow's live document, edited by the test, under a
// manager on a memory store.
type fixture struct {
	t     *testing.T
	clock *fakeClock
	store *memory.Store
	m     *Manager

	mu      sync.Mutex
	doc     *workflow.Doc
	replica *crdt.Clock
	wall    int64
}

func newFixture(t *testing.T, cfg Config) *fixture {
	f := &fixture{t: t, clock: newFakeClock(), store: memory.New(), doc: workflow.New(),
		replica: crdt.NewClock("server"), wall: 1_700_000_000_000}
	cfg.Store, cfg.Clock = f.store, f.clock
	cfg.Document = func(_ context.Context, id string) (*workflow.Doc, error) {
		if id != "wf" {
			return nil, storage.ErrDeleted
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.doc.Clone(), nil
	}
	cfg.Apply = func(_ context.Context, id, user string, ops []workflow.Op) error {
		for _, op := range ops {
			if err := f.apply(op); err != nil && !errors.Is(err, workflow.ErrNoEffect) {
				return err
			}
		}
		return nil
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return f
}

func (f *fixture) apply(op workflow.Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wall += 1000
	_, err := f.doc.Apply(f.replica.Now(f.wall), op)
	return err
}

// edit applies op as user's edit and reports it durable, as a room does.
func (f *fixture) edit(user string, op workflow.Op) {
	f.t.Helper()
	if err := f.apply(op); err != nil {
		f.t.Fatalf("%s: %v", op.Name(), err)
	}
	f.m.Notify("wf", []string{user})
}

func (f *fixture) list() []storage.CheckpointMeta {
	f.t.Helper()
	metas, err := f.m.List(context.Background(), "wf")
	if err != nil {
		f.t.Fatal(err)
	}
	return metas
}

// waitAttempts waits for the worker to have tried n automatic checkpoints.
func (f *fixture) waitAttempts(n int64) {
	f.t.Helper()
	testutil.WaitFor(f.t, fmt.Sprintf("%d automatic checkpoint attempts", n), func() bool { return f.m.attempts.Load() >= n })
}

func addBlock(id string) workflow.Op {
	return workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: "Block " + id, Position: &workflow.Position{X: 1, Y: 2}}}}
}

// An automatic checkpoint comes after the quiet period following the last
// edit, not before, with the editors as authors and what changed.
func TestAutomaticAfterQuietPeriod(t *testing.T) {
	f := newFixture(t, Config{Quiet: time.Minute, Interval: time.Hour})
	f.edit("ann", addBlock("a"))
	f.clock.Advance(50 * time.Second)
	f.edit("bob", addBlock("b"))
	f.clock.Advance(50 * time.Second) // 100 s after the first edit, 50 s after the last
	f.m.mu.Lock()
	open, queued := f.m.windows["wf"] != nil, len(f.m.due)
	f.m.mu.Unlock()
	if !open || queued != 0 || f.m.attempts.Load() != 0 {
		t.Fatal("the window closed before the quiet period after the last edit")
	}
	f.clock.Advance(10 * time.Second)
	f.waitAttempts(1)
	metas := f.list()
	if len(metas) != 1 {
		t.Fatalf("%d checkpoints after one quiet period, want 1", len(metas))
	}
	m := metas[0]
	if m.Name != "" || !slices.Equal(m.Authors, []string{"ann", "bob"}) || m.Summary.Totals.Blocks != 2 || m.Summary.Baseline {
		t.Fatalf("first checkpoint %+v", m)
	}
	if m.AtMs != f.clock.Now().UnixMilli() {
		t.Fatalf("checkpoint at %d, clock at %d", m.AtMs, f.clock.Now().UnixMilli())
	}
	// The next window's summary counts against this checkpoint. Its
	// quiet period passes first, but it waits for the interval since the
	// previous automatic checkpoint: at most one per interval.
	f.edit("cy", workflow.UpdateName{ID: "a", NewName: "Renamed"})
	f.edit("cy", addBlock("c"))
	f.clock.Advance(10 * time.Minute)
	f.m.mu.Lock()
	open, queued = f.m.windows["wf"] != nil, len(f.m.due)
	f.m.mu.Unlock()
	if !open || queued != 0 || f.m.attempts.Load() != 1 {
		t.Fatal("a second automatic checkpoint came within the interval of the first")
	}
	f.clock.Advance(time.Hour)
	f.waitAttempts(2)
	metas = f.list()
	if len(metas) != 2 {
		t.Fatalf("%d checkpoints after two windows", len(metas))
	}
	s := metas[1].Summary
	if !s.Baseline || s.Blocks != (storage.ChangeCounts{Added: 1, Changed: 1}) || s.Totals.Blocks != 3 || !slices.Equal(metas[1].Authors, []string{"cy"}) {
		t.Fatalf("second checkpoint %+v", metas[1])
	}
}

// Under edits that never pause, one automatic checkpoint per Interval.
func TestAutomaticIntervalUnderConstantEditing(t *testing.T) {
	f := newFixture(t, Config{Quiet: 2 * time.Minute, Interval: 10 * time.Minute})
	for i := range 50 { // 25 minutes, an edit every 30 s
		f.edit("ann", addBlock(fmt.Sprintf("b%d", i)))
		f.clock.Advance(30 * time.Second)
		if (i+1)%20 == 0 { // 10 and 20 minutes: let the worker read the document then
			f.waitAttempts(int64((i + 1) / 20))
		}
	}
	if n := len(f.list()); n != 2 {
		t.Fatalf("%d checkpoints in 25 minutes of constant editing with a 10-minute interval, want 2", n)
	}
}

// A window whose edits changed nothing in the end makes no automatic
// checkpoint.
func TestAutomaticSkipsUnchanged(t *testing.T) {
	f := newFixture(t, Config{Quiet: time.Minute, Interval: time.Minute})
	f.edit("ann", addBlock("a"))
	f.clock.Advance(time.Minute)
	f.waitAttempts(1)
	f.edit("ann", workflow.UpdateName{ID: "a", NewName: "Other"})
	f.edit("ann", workflow.UpdateName{ID: "a", NewName: "Block a"})
	f.clock.Advance(time.Minute)
	f.waitAttempts(2)
	if n := len(f.list()); n != 1 {
		t.Fatalf("%d checkpoints, want 1: the second window changed nothing", n)
	}
}

// Retention by count and age applies to automatic checkpoints as they are
// made; named ones stay.
func TestRetention(t *testing.T) {
	f := newFixture(t, Config{Quiet: time.Minute, Interval: time.Minute, Retention: storage.Retention{MaxAuto: 3, MaxAge: time.Hour}})
	ctx := context.Background()
	if _, err := f.m.Create(ctx, "wf", "deployed", "ops"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		f.edit("ann", addBlock(fmt.Sprintf("b%d", i)))
		f.clock.Advance(time.Minute)
		f.waitAttempts(int64(i + 1))
	}
	metas := f.list()
	if len(metas) != 4 || metas[0].Name != "deployed" {
		t.Fatalf("after 5 automatic checkpoints with MaxAuto 3: %+v", metas)
	}
	f.clock.Advance(2 * time.Hour)
	f.edit("ann", addBlock("late"))
	f.clock.Advance(time.Minute)
	f.waitAttempts(6)
	metas = f.list()
	if len(metas) != 2 || metas[0].Name != "deployed" || metas[1].Summary.Totals.Blocks != 6 {
		t.Fatalf("after 2 hours with MaxAge 1h: %+v", metas)
	}
}

// A restore makes the document hold the checkpoint's content (graph and
// variables), saves what it replaced, and restoring that undoes it.
func TestRestoreAndUndo(t *testing.T) {
	f := newFixture(t, Config{Interval: -1})
	ctx := context.Background()
	for _, op := range []workflow.Op{
		addBlock("a"), addBlock("b"),
		workflow.AddEdge{Edge: workflow.EdgeInput{ID: "e1", Source: "a", Target: "b"}},
		workflow.AddVariable{ID: "v1", VarName: "apiBase", Type: "string", Value: "https://a.example"},
		workflow.AddVariable{ID: "v2", VarName: "n", Type: "number", Value: int64(3)},
	} {
		f.edit("ann", op)
	}
	deployed, err := f.m.Create(ctx, "wf", "deployed", "ops")
	if err != nil {
		t.Fatal(err)
	}
	want := f.doc.View()
	for _, op := range []workflow.Op{
		workflow.RemoveBlock{ID: "a"}, addBlock("c"), workflow.UpdateName{ID: "b", NewName: "Changed"},
		workflow.UpdateVariable{ID: "v1", Field: "value", Value: "https://b.example"},
		workflow.RemoveVariable{ID: "v2"},
		workflow.AddVariable{ID: "v3", VarName: "extra", Type: "string", Value: "x"},
	} {
		f.edit("bob", op)
	}
	changed := f.doc.View()
	d, err := f.m.DiffOf(ctx, "wf", deployed.ID, Live)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Blocks.Added, []string{"c"}) || !slices.Equal(d.Blocks.Removed, []string{"a"}) || !slices.Equal(d.Blocks.Changed, []string{"b"}) ||
		!slices.Equal(d.Edges.Removed, []string{"e1"}) || !slices.Equal(d.Variables.Added, []string{"v3"}) ||
		!slices.Equal(d.Variables.Removed, []string{"v2"}) || !slices.Equal(d.Variables.Changed, []string{"v1"}) {
		t.Fatalf("diff deployed → live: %+v", d)
	}
	res, err := f.m.Restore(ctx, "wf", deployed.ID, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if got := FingerprintOf(f.doc.View()); !Compare(FingerprintOf(want), got).Empty() {
		t.Fatalf("after the restore the document differs from the checkpoint: %+v", Compare(FingerprintOf(want), got))
	}
	if res.Before.Name != fmt.Sprintf("before restore of %d", deployed.ID) || !slices.Contains(res.Before.Authors, "bob") {
		t.Fatalf("before-restore checkpoint %+v", res.Before)
	}
	if _, err := f.m.Restore(ctx, "wf", res.Before.ID, "ops"); err != nil {
		t.Fatal(err)
	}
	if d := Compare(FingerprintOf(changed), FingerprintOf(f.doc.View())); !d.Empty() {
		t.Fatalf("restoring the before-restore checkpoint did not undo the restore: %+v", d)
	}
	if _, err := f.m.Restore(ctx, "wf", 999, "ops"); !errors.Is(err, storage.ErrNoCheckpoint) {
		t.Fatalf("restore of an unknown checkpoint: %v", err)
	}
}

// Close checkpoints the windows still open.
func TestCloseCheckpointsOpenWindows(t *testing.T) {
	f := newFixture(t, Config{Quiet: time.Hour})
	f.edit("ann", addBlock("a"))
	if err := f.m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if metas := f.list(); len(metas) != 1 || !slices.Equal(metas[0].Authors, []string{"ann"}) {
		t.Fatalf("after Close: %+v", metas)
	}
	if _, err := f.m.Create(context.Background(), "wf", "x", ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("Create after Close: %v", err)
	}
}
