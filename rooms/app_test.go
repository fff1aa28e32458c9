package rooms

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// gateStore holds every Append until the test lets it through (or answers
// it with fail), and tells the test when one is waiting.
type gateStore struct {
	storage.Store
	waiting chan struct{} // one value per Append that reached the gate
	release chan error    // what each held Append returns (nil: the real Append)
}

func newGateStore() *gateStore {
	return &gateStore{Store: memory.New(), waiting: make(chan struct{}, 16), release: make(chan error, 16)}
}

func (s *gateStore) Append(ctx context.Context, wf string, deltas []storage.Delta) error {
	s.waiting <- struct{}{}
	select {
	case err := <-s.release:
		if err != nil {
			return err
		}
		return s.Store.Append(ctx, wf, deltas)
	case <-ctx.Done():
		return ctx.Err()
	}
}

var (
	appAdmin = Identity{UserID: "backend", Name: "Backend", Role: protocol.RoleAdmin}
	appOps   = []workflow.Op{
		workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "a", Type: "agent", Name: "A"}}},
		workflow.UpdateName{ID: "a", NewName: "Renamed"},
	}
)

func apply(t *testing.T, r *Registry, wf string, as Identity, ops ...workflow.Op) *Applied {
	t.Helper()
	res, err := r.Apply(context.Background(), wf, as, ops)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

// durableNow returns the durable signal of res once the room has settled,
// and fails the test if there is none by then.
func durableNow(t *testing.T, res *Applied) error {
	t.Helper()
	settle()
	select {
	case err := <-res.Durable:
		return err
	default:
		t.Fatal("no durable signal once the room settled")
		return nil
	}
}

// A refusal comes back typed: the error the room would have nacked the
// same Operation frame with, its code, and nothing tried after it.
func TestApplyRefusalIsTyped(t *testing.T) {
	locks := &WorkflowLocks{}
	r := newRegistry(t, Config{Admit: Admissions(LockAdmission(locks.IsLocked))}, nil)

	lockA := workflow.BatchToggleLocked{BlockIDs: []string{"a"}, PreviousStates: map[string]bool{}}
	writer := Identity{UserID: "u1", Name: "Ann", Role: protocol.RoleWrite}
	res := apply(t, r, "wf", writer, appOps[0], lockA, appOps[1])
	if len(res.Results) != 2 || !res.Results[0].Applied() || res.Results[1].Applied() {
		t.Fatalf("results %+v, want applied then refused, the third not tried", res.Results)
	}
	if got := res.Results[1]; got.Code != protocol.CodePermissionDenied || protocol.CodeFor(got.Err) != got.Code {
		t.Fatalf("lock toggle by a writer: %+v", got)
	}

	res = apply(t, r, "wf", writer, workflow.UpdateName{ID: "nope", NewName: "X"})
	if got := res.Results[0]; !errors.Is(got.Err, workflow.ErrUnknownBlock) || got.Code != protocol.CodeUnknownEntity {
		t.Fatalf("unknown block: %+v", got)
	}
	reader := Identity{UserID: "u2", Role: protocol.RoleRead}
	if got := apply(t, r, "wf", reader, appOps[1]).Results[0]; got.Code != protocol.CodePermissionDenied {
		t.Fatalf("read role: %+v", got)
	}
	if _, err := r.Apply(context.Background(), "wf", Identity{Role: protocol.RoleAdmin}, appOps[1:]); err == nil {
		t.Fatal("an identity without a user id was accepted")
	}
	locks.Lock("wf")
	if got := apply(t, r, "wf", appAdmin, appOps[1]).Results[0]; got.Code != protocol.CodeWorkflowLocked {
		t.Fatalf("locked workflow: %+v", got)
	}
	v, err := r.View(context.Background(), "wf")
	if err != nil {
		t.Fatal(err)
	}
	if b := v.Blocks["a"]; len(v.Blocks) != 1 || b.Name != "A" || b.Locked {
		t.Fatalf("refusals changed the document: %+v", v.Blocks)
	}
}

// The durable signal fires only once the store's Append of the request's
// deltas has returned, and then the store holds them.
func TestApplyDurableAfterAppend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newGateStore()
		r := newRegistry(t, Config{}, store)
		res := apply(t, r, "wf", appAdmin, appOps...)
		if len(res.Results) != 2 || !res.Results[1].Applied() {
			t.Fatalf("results %+v", res.Results)
		}
		<-store.waiting
		select {
		case err := <-res.Durable:
			t.Fatalf("durable (%v) while the store write is held", err)
		default:
		}
		store.release <- nil // both deltas, queued by one event, share the write
		if err := durableNow(t, res); err != nil {
			t.Fatalf("durable: %v", err)
		}
		doc, err := store.Store.Load(context.Background(), "wf")
		if err != nil {
			t.Fatal(err)
		}
		if v := doc.View(); len(v.Blocks) != 1 || v.Blocks["a"].Name != "Renamed" {
			t.Fatalf("durable, but the store holds %+v", v.Blocks)
		}
	})
}

// A store that refuses the batch, and a workflow deleted while the write
// is held, answer the durable signal with that error instead of leaving it
// unanswered.
func TestApplyDurableErrors(t *testing.T) {
	t.Run("store refuses", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			store := newGateStore()
			r := newRegistry(t, Config{}, store)
			res := apply(t, r, "wf", appAdmin, appOps[0])
			<-store.waiting
			store.release <- storage.ErrCorrupt
			if err := durableNow(t, res); !errors.Is(err, storage.ErrCorrupt) {
				t.Fatalf("durable: %v, want ErrCorrupt", err)
			}
		})
	})
	t.Run("deleted meanwhile", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			store := newGateStore()
			r := newRegistry(t, Config{}, store)
			res := apply(t, r, "wf", appAdmin, appOps[0])
			<-store.waiting
			if err := r.DeleteWorkflow(context.Background(), "wf"); err != nil {
				t.Fatal(err)
			}
			if err := durableNow(t, res); !errors.Is(err, storage.ErrDeleted) {
				t.Fatalf("durable: %v, want ErrDeleted", err)
			}
			store.release <- nil // the held write ends; the room is gone
		})
	})
	t.Run("room closes first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			store := newGateStore()
			r := newRegistry(t, Config{}, store)
			res := apply(t, r, "wf", appAdmin, appOps[0])
			<-store.waiting
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			closed := make(chan error, 1)
			go func() { closed <- r.Close(ctx) }()
			advance(50 * time.Millisecond)
			if err := durableNow(t, res); !errors.Is(err, ErrClosed) {
				t.Fatalf("durable: %v, want ErrClosed", err)
			}
			if err := <-closed; err == nil {
				t.Fatal("Close met its deadline with a write held")
			}
		})
	})
}

// An Apply that reaches a room being deleted is never lost silently: the
// room stops with the request untaken, and the retry meets the tombstone.
// One whose caller gave up before its turn is not run.
func TestApplyRoomClosedMidRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, Config{}, nil)
		if err := durableNow(t, apply(t, r, "wf", appAdmin, appOps[0])); err != nil {
			t.Fatal(err)
		}
		rm := r.Room("wf")
		// The delete, then the Apply behind it in the room's inbox (sent from
		// one goroutine, so in that order).
		if err := r.store.Delete(context.Background(), "wf"); err != nil {
			t.Fatal(err)
		}
		rm.inbox <- deleteEvent{reply: make(chan struct{}, 1)}
		_, err := r.Apply(context.Background(), "wf", appAdmin, appOps[1:])
		if !errors.Is(err, storage.ErrDeleted) || ErrorCode(err) != protocol.CodeWorkflowDeleted {
			t.Fatalf("Apply behind a delete: %v, want ErrDeleted", err)
		}
		<-rm.done

		// A caller that gives up before the room's turn: nothing runs.
		store := newGateStore()
		r2 := newRegistry(t, Config{}, store)
		apply(t, r2, "wf", appAdmin, appOps[0])
		<-store.waiting
		ctx, cancel := context.WithCancel(context.Background())
		applyEv := &applyEvent{ctx: ctx, as: appAdmin, ops: appOps[1:], reply: make(chan *Applied, 1)}
		cancel()
		r2.Room("wf").inbox <- applyEv
		res := <-applyEv.reply
		if len(res.Results) != 0 {
			t.Fatalf("an abandoned request ran: %+v", res.Results)
		}
		if err := durableNow(t, res); err != nil {
			t.Fatalf("nothing applied, durable: %v", err)
		}
		store.release <- nil
		v, err := r2.View(context.Background(), "wf")
		if err != nil || v.Blocks["a"].Name != "A" {
			t.Fatalf("view %+v, %v", v, err)
		}
	})
}

// The application is no member: the members get its changes with its
// origin, and no roster ever names it.
func TestApplyShowsNoRosterEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, Config{}, nil)
		a := member("a", "ra")
		if _, err := r.Join(context.Background(), "wf", a, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		res := apply(t, r, "wf", appAdmin, appOps...)
		if err := durableNow(t, res); err != nil {
			t.Fatal(err)
		}
		entries, ok := r.Roster(context.Background(), "wf")
		if !ok || len(entries) != 1 || entries[0].SessionID != "a" {
			t.Fatalf("roster %+v", entries)
		}
		var relayed int
		for _, f := range a.decoded(t) {
			switch f := f.(type) {
			case *protocol.Roster:
				t.Fatalf("the application's request sent a roster: %+v", f.Entries)
			case *protocol.Joined:
				if len(f.Roster) != 1 {
					t.Fatalf("Joined roster %+v", f.Roster)
				}
			case *protocol.RemoteDelta:
				if f.Origin.UserID != appAdmin.UserID || f.Origin.SessionID != AppSessionID || f.Origin.ReplicaID != "" {
					t.Fatalf("origin %+v", f.Origin)
				}
				relayed++
			case *protocol.Applied, *protocol.Durable, *protocol.Nack:
				t.Fatalf("a member got an ack of the application's request: %T", f)
			}
		}
		if relayed == 0 {
			t.Fatal("the member was not sent the application's changes")
		}
	})
}

// SendEvent reaches the live room's members and loads no room; View loads
// one, as Join does.
func TestSendEventAndView(t *testing.T) {
	r := newRegistry(t, Config{}, nil)
	if n, live := r.SendEvent(context.Background(), "wf", protocol.EventWorkflowDeployed, "v2"); live || n != 0 || r.Len() != 0 {
		t.Fatalf("no room: %d, %v, %d rooms", n, live, r.Len())
	}
	v, err := r.View(context.Background(), "wf")
	if err != nil || len(v.Blocks) != 0 || r.Len() != 1 {
		t.Fatalf("View of a new workflow: %+v, %v, %d rooms", v, err, r.Len())
	}
	a, b := member("a", "ra"), member("b", "rb")
	for _, m := range []*fakeMember{a, b} {
		if _, err := r.Join(context.Background(), "wf", m, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n, live := r.SendEvent(context.Background(), "wf", protocol.EventWorkflowDeployed, "v2"); !live || n != 2 {
		t.Fatalf("live room: %d, %v", n, live)
	}
	for _, m := range []*fakeMember{a, b} {
		if !slices.ContainsFunc(m.decoded(t), func(f protocol.Frame) bool {
			e, ok := f.(*protocol.Event)
			return ok && e.Kind == protocol.EventWorkflowDeployed && e.Message == "v2"
		}) {
			t.Fatalf("%s got no event", m.sid)
		}
	}
}
