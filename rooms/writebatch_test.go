package rooms

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// rowStore records the rows of every Append and fails the first failFirst.
type rowStore struct {
	storage.Store
	mu        sync.Mutex
	failFirst int
	calls     [][]storage.Delta
}

func (s *rowStore) Append(ctx context.Context, wf string, deltas []storage.Delta) error {
	s.mu.Lock()
	s.calls = append(s.calls, append([]storage.Delta(nil), deltas...))
	fail := len(s.calls) <= s.failFirst
	s.mu.Unlock()
	if fail {
		return errors.New("disk on fire")
	}
	return s.Store.Append(ctx, wf, deltas)
}

func (s *rowStore) appends() [][]storage.Delta {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]storage.Delta(nil), s.calls...)
}

// durableIDs lists the op ids of every Durable m received.
func durableIDs(t testing.TB, m *fakeMember) map[string]int {
	ids := map[string]int{}
	for _, f := range m.decoded(t) {
		if d, ok := f.(*protocol.Durable); ok {
			for _, id := range d.OpIDs {
				ids[id]++
			}
		}
	}
	return ids
}

// A write is one log row however many operations it covers: the room joins
// the batch, the store gets one delta covering them all, a retry of the
// write makes the very same row, and every operation of the batch, from
// every member, is acknowledged Durable once, after the row committed.
func TestWriteIsOneRowAndAcksEveryOp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &rowStore{Store: memory.New(), failFirst: 1}
		r := newRegistry(t, Config{}, store)
		ms := []*fakeMember{member("a", "ra"), member("b", "rb")}
		eds := []*editor{newEditor(t, r, "wf", ms[0]), newEditor(t, r, "wf", ms[1])}
		const perMember = 15
		for range perMember {
			for _, e := range eds {
				e.add()
				// Typing into the same field over and over: the join keeps
				// one value where the batch wrote fifteen.
				d, err := e.doc.Apply(e.clock.Now(time.Now().UnixMilli()), workflow.UpdateName{ID: fmt.Sprintf("%s-b1", e.m.sid), NewName: fmt.Sprint("name ", e.n)})
				if err != nil {
					t.Fatal(err)
				}
				e.n++
				e.rm.SubmitDelta(e.m, fmt.Sprintf("op-%d", e.n), d.Encode(), d)
			}
		}
		settle()
		advance(DefaultRetryBackoff + DefaultMinWriteInterval)
		advance(DefaultMinWriteInterval)

		var ops int
		calls := store.appends()
		for i, rows := range calls {
			if len(rows) != 1 {
				t.Fatalf("append %d wrote %d rows, want 1 (the join of the write)", i, len(rows))
			}
			if i > 0 && calls[i-1][0].Hash() == rows[0].Hash() {
				continue // the retry of the failed write: the same row
			}
			ops += rows[0].Ops()
		}
		if calls[1][0].Hash() != calls[0][0].Hash() {
			t.Fatal("the retried write made another row than the failed one")
		}
		if want := 2 * 2 * perMember; ops != want {
			t.Fatalf("the rows cover %d operations, want %d", ops, want)
		}
		for _, m := range ms {
			ids := durableIDs(t, m)
			if len(ids) != 2*perMember {
				t.Fatalf("member %s: %d ops acknowledged durable, want %d", m.sid, len(ids), 2*perMember)
			}
			for id, n := range ids {
				if n != 1 {
					t.Fatalf("member %s: op %s acknowledged %d times", m.sid, id, n)
				}
			}
		}
		got, err := store.Load(context.Background(), "wf")
		if err != nil {
			t.Fatal(err)
		}
		want := eds[0].doc.Clone()
		want.Merge(eds[1].doc)
		if !got.Equal(want) {
			t.Fatal("the stored rows do not hold every operation")
		}
	})
}

// A batch is cut where its parts would pass the row input bound, every row
// joins consecutive deltas, and together they hold the batch.
func TestBatchRowsCutAtTheRowBound(t *testing.T) {
	doc, clock := workflow.New(), crdt.NewClock("w")
	var deltas []*workflow.Doc
	var raws [][]byte
	size := 0
	for i := range 40 {
		d, err := doc.Apply(clock.Now(int64(1_700_000_000_000+i)), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: fmt.Sprint("b", i), Type: "agent", Name: fmt.Sprint("Block ", i)}}})
		if err != nil {
			t.Fatal(err)
		}
		deltas, raws = append(deltas, d), append(raws, d.Encode())
		size += len(raws[i])
	}
	defer func(old int) { maxRowInput = old }(maxRowInput)
	maxRowInput = size / 4
	rows := batchRows(deltas, raws)
	if len(rows) < 4 || len(rows) > 6 {
		t.Fatalf("%d rows for a batch of 4× the bound, want 4 to 6", len(rows))
	}
	got, ops := workflow.New(), 0
	for _, r := range rows {
		d, err := workflow.Decode(r.Bytes(), workflow.DeltaLimits)
		if err != nil {
			t.Fatal(err)
		}
		got.Merge(d)
		ops += r.Ops()
	}
	if ops != len(deltas) || !got.Equal(doc) {
		t.Fatalf("rows cover %d of %d operations, equal = %v", ops, len(deltas), got.Equal(doc))
	}

	// A delta whose decoded form the room dropped (a backlog) is decoded
	// by the writer and joined like the others.
	maxRowInput = size
	deltas[3] = nil
	rows = batchRows(deltas, raws)
	if len(rows) != 1 || rows[0].Ops() != len(raws) {
		t.Fatalf("%d rows for a batch missing a decoded delta, want 1 covering %d ops", len(rows), len(raws))
	}
	if d, err := workflow.Decode(rows[0].Bytes(), workflow.DeltaLimits); err != nil || !d.Equal(doc) {
		t.Fatalf("the join with a re-decoded delta lost something (err %v)", err)
	}
}

// A backlog past keepDecodedBytes (the store down) keeps only bytes for
// its newer deltas; once the store is back, the writer decodes those and
// joins the backlog into as few rows as the row bound allows, holding
// every operation it acknowledges.
func TestBacklogRowsJoinWhatTheRoomDidNotKeepDecoded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &rowStore{Store: memory.New(), failFirst: 1 << 30}
		r := newRegistry(t, Config{MaxBatchDeltas: 100_000}, store)
		a := member("a", "ra")
		e := newEditor(t, r, "wf", a)
		e.add()
		long := string(make([]byte, 8<<10))
		ops := 1
		for written := 0; written < 2*keepDecodedBytes; ops++ {
			d, err := e.doc.Apply(e.clock.Now(time.Now().UnixMilli()), workflow.UpdateName{ID: "a-b1", NewName: fmt.Sprint(ops, long)})
			if err != nil {
				t.Fatal(err)
			}
			raw := d.Encode()
			written += len(raw)
			e.rm.SubmitDelta(a, fmt.Sprintf("op-x%d", ops), raw, d)
			settle()
		}
		settle()
		store.mu.Lock()
		store.failFirst = 0
		store.mu.Unlock()
		advance(DefaultMaxRetryBackoff)
		advance(DefaultMaxRetryBackoff)
		if n := len(durableIDs(t, a)); n != ops {
			t.Fatalf("%d ops acknowledged durable after the backlog, want %d", n, ops)
		}
		calls := store.appends()
		last := calls[len(calls)-1]
		covered := 0
		for _, row := range last {
			covered += row.Ops()
		}
		// Cut only at the row input bound (half a row's byte limit).
		if most := 2*keepDecodedBytes/maxRowInput + 2; len(last) > most || covered < ops-1 {
			t.Fatalf("the backlog was written as %d rows covering %d ops; want at most %d rows covering %d", len(last), covered, most, ops-1)
		}
		got, err := store.Load(context.Background(), "wf")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(e.doc) {
			t.Fatal("the stored backlog lacks operations")
		}
	})
}
