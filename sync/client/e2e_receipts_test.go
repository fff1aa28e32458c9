package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/client"
	"github.com/flowsync/flowsync/sync/receipt"
	"github.com/flowsync/flowsync/sync/session"
)

// End-to-end receipts: the real server relays an edit before it is stored,
// crashes, and comes back from its store; the clients that hold the edit
// hand it back.

// crashable runs incarnations of the real server (rooms and sessions) over
// one store, all holding the deployment's receipt key. cutStore makes the
// running incarnation's writes fail (edits are relayed, never stored);
// crash abandons it and serves a new incarnation, which loads what was
// stored.
type crashable struct {
	url  string
	mem  storage.Store
	ring *receipt.Keyring

	mu  sync.Mutex
	cur *incarnation
}

type incarnation struct {
	store *gatedStore
	reg   *rooms.Registry
	h     *session.Handler
}

// gatedStore fails every write while down, like a store behind a cut link.
type gatedStore struct {
	storage.Store
	down atomic.Bool
}

var errStoreCut = errors.New("store link cut")

func (g *gatedStore) Append(ctx context.Context, wf string, deltas []storage.Delta) error {
	if g.down.Load() {
		return errStoreCut
	}
	return g.Store.Append(ctx, wf, deltas)
}

func (g *gatedStore) Snapshot(ctx context.Context, wf string, doc *workflow.Doc, held ...storage.RowKey) (int64, error) {
	if g.down.Load() {
		return 0, errStoreCut
	}
	return g.Store.Snapshot(ctx, wf, doc, held...)
}

func (g *gatedStore) Delete(ctx context.Context, wf string) error {
	if g.down.Load() {
		return errStoreCut
	}
	return g.Store.Delete(ctx, wf)
}

// Close leaves the shared store to the next incarnation.
func (g *gatedStore) Close() error { return nil }

func newCrashable(t *testing.T) *crashable {
	t.Helper()
	k, err := receipt.NewKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	ring, err := receipt.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	cs := &crashable{mem: memory.New(), ring: ring}
	cs.cur = cs.start(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs.mu.Lock()
		h := cs.cur.h
		cs.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		cs.mu.Lock()
		cur := cs.cur
		cs.mu.Unlock()
		cur.stop(t)
		srv.Close()
	})
	cs.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/sync"
	return cs
}

func (cs *crashable) start(t *testing.T) *incarnation {
	t.Helper()
	inc := &incarnation{store: &gatedStore{Store: cs.mem}}
	reg, err := rooms.NewRegistry(rooms.Config{Receipts: cs.ring}, inc.store, nil, rooms.NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	h, err := session.NewHandler(session.Config{CloseGrace: 200 * time.Millisecond}, reg, session.DevAuthenticator{}, nil, session.NewMetrics(nil))
	if err != nil {
		t.Fatal(err)
	}
	inc.reg, inc.h = reg, h
	return inc
}

// stop ends an incarnation; one whose store is cut cannot flush, so its
// close gives up after a moment, as a killed process would.
func (inc *incarnation) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = inc.reg.Close(ctx)
	_ = inc.h.Close(ctx)
}

func (cs *crashable) cutStore() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.cur.store.down.Store(true)
}

// crash replaces the running incarnation, which loses what it never
// stored, by a new one; the clients' connections to the old one end.
func (cs *crashable) crash(t *testing.T) {
	t.Helper()
	next := cs.start(t)
	cs.mu.Lock()
	old := cs.cur
	old.store.down.Store(true)
	cs.cur = next
	cs.mu.Unlock()
	old.stop(t)
}

// snapshot returns the running incarnation's document.
func (cs *crashable) snapshot(t *testing.T) *workflow.Doc {
	t.Helper()
	cs.mu.Lock()
	reg := cs.cur.reg
	cs.mu.Unlock()
	rm := reg.Room(e2eWorkflow)
	if rm == nil {
		return nil
	}
	d, err := rm.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func startCrashPeer(t *testing.T, cs *crashable, name string, edit func(*client.Config)) *peer {
	t.Helper()
	return startPeer(t, &server{url: cs.url}, name, edit)
}

// The observed divergence: alice adds x, bob moves it and adds y while the
// server cannot store; the server crashes and alice never comes back. Bob
// hands alice's edit back before resending his own, so the new incarnation
// takes both, and a fresh reader sees what bob sees. With restart, bob
// also restarts from Config.Dir during the outage, and the stored receipts
// do the same.
func TestE2EVouchHandsBackWhatACrashLost(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "live"
		if restart {
			name = "restarted"
		}
		t.Run(name, func(t *testing.T) {
			cs := newCrashable(t)
			dir := t.TempDir()
			withDir := func(c *client.Config) { c.Dir = dir }
			a := startCrashPeer(t, cs, "alice", nil)
			b := startCrashPeer(t, cs, "bob", withDir)
			a.waitLive(t)
			b.waitLive(t)
			mustApply(t, a, addBlock("base", "Base"))
			testutil.WaitFor(t, "base durable", func() bool {
				return a.Status().Saved() && b.View().Blocks["base"] != nil
			})

			cs.cutStore()
			mustApply(t, a, addBlock("x", "X"))
			testutil.WaitFor(t, "bob has x", func() bool { return b.View().Blocks["x"] != nil })
			mustApply(t, b, workflow.UpdatePosition{ID: "x", Position: workflow.Position{X: 40, Y: 50}})
			mustApply(t, b, addBlock("y", "Y"))
			testutil.WaitFor(t, "the server has y", func() bool {
				d := cs.snapshot(t)
				return d != nil && d.View().Blocks["y"] != nil
			})
			if b.Receipts().Kept == 0 {
				t.Fatal("bob keeps no receipt for alice's edit")
			}
			a.Close()
			want := b.Doc()
			if restart {
				b.Close()
			}
			cs.crash(t)
			if restart {
				b = startCrashPeer(t, cs, "bob", withDir)
			}

			testutil.WaitReason(t, testutil.DefaultWait, "bob handed x back", func() string {
				if st := b.Status(); !st.Saved() || st.State != client.StateLive {
					return "bob is " + st.String()
				}
				if d := cs.snapshot(t); d == nil || !d.Equal(b.Doc()) {
					return "the server differs from bob"
				}
				return ""
			})
			if !b.Doc().Equal(want) {
				t.Fatal("bob's document changed across the crash")
			}
			if st := b.Receipts(); st.Vouched == 0 || st.Refused != 0 {
				t.Fatalf("bob's receipts: %+v", st)
			}
			carol := startCrashPeer(t, cs, "carol", nil)
			waitConvergedWith(t, cs, carol, b)
			x := carol.View().Blocks["x"]
			if x == nil || x.Position != (workflow.Position{X: 40, Y: 50}) || carol.View().Blocks["y"] == nil {
				t.Fatalf("carol's x = %+v", x)
			}
		})
	}
}

// waitConvergedWith is waitConverged against a crashable server.
func waitConvergedWith(t *testing.T, cs *crashable, peers ...*peer) {
	t.Helper()
	testutil.WaitReason(t, testutil.DefaultWait, "convergence", func() string {
		for _, p := range peers {
			if st := p.Status(); st.State != client.StateLive || st.Pending != 0 {
				return p.name + " is " + st.String()
			}
		}
		d := cs.snapshot(t)
		for _, p := range peers {
			if d == nil || !d.Equal(p.Doc()) {
				return "the server and " + p.name + " differ"
			}
		}
		return ""
	})
}
