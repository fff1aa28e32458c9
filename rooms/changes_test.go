package rooms

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// durableLog records Config.OnDurable calls.
type durableLog struct {
	mu    sync.Mutex
	calls [][]string // workflow id, then the users
}

func (l *durableLog) note(wf string, users []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, append([]string{wf}, users...))
}

func (l *durableLog) get() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// OnDurable hears of a member's and an Apply's edits once their batch is
// written, naming both users once, and not while the write is held.
func TestOnDurableAfterTheWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newGateStore()
		var log durableLog
		r := newRegistry(t, Config{OnDurable: log.note}, store)
		m := member("s1", "")
		rm, err := r.Join(context.Background(), "wf", m, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		settle()
		rm.SubmitOperation(m, "op1", workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "b", Type: "agent", Name: "B"}}})
		<-store.waiting
		res := apply(t, r, "wf", appAdmin, appOps...)
		rm.SubmitOperation(m, "op2", workflow.UpdateName{ID: "b", NewName: "B2"})
		settle()
		if c := log.get(); len(c) != 0 {
			t.Fatalf("OnDurable %v while the write is held", c)
		}
		store.release <- nil // the member's first edit
		<-store.waiting
		store.release <- nil // the Apply and the member's second edit, one batch
		if err := durableNow(t, res); err != nil {
			t.Fatal(err)
		}
		want := [][]string{{"wf", "u-s1"}, {"wf", "backend", "u-s1"}}
		if c := log.get(); !slices.EqualFunc(c, want, slices.Equal) {
			t.Fatalf("OnDurable calls %v, want %v", c, want)
		}
	})
}
