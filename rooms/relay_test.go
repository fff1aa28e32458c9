package rooms

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// A burst from one author is coalesced for the others and never sent back
// to that author; a burst from two authors reaches both (each merges its
// own writes idempotently) and every member ends with the same state.
func TestRelayBurstSkipsItsOnlyAuthor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRegistry(t, Config{}, newTestStore())
		a, b, c := member("a", "ra"), member("b", "rb"), member("c", "rc")
		ea := newEditor(t, r, "wf", a)
		eb := newEditor(t, r, "wf", b)
		if _, err := r.Join(context.Background(), "wf", c, JoinOptions{}); err != nil {
			t.Fatal(err)
		}
		ida, idb := ea.add(), eb.add()
		settled(t, "blocks relayed", func() bool { return relayedBlocks(t, c) == 2 })
		echoes := func(m *fakeMember, replica string) int {
			n := 0
			for _, f := range m.decoded(t) {
				if rd, ok := f.(*protocol.RemoteDelta); ok && rd.Origin.ReplicaID == replica {
					n++
				}
			}
			return n
		}
		if n := echoes(a, "ra"); n != 0 {
			t.Fatalf("a got %d of its own deltas back before any burst", n)
		}

		const burst = 200
		submit := func(e *editor, m *fakeMember, id, tag string, i int) {
			d, err := e.doc.Apply(e.clock.Now(time.Now().UnixMilli()),
				workflow.UpdateSubBlock{BlockID: id, SubBlockID: "prompt", Value: fmt.Sprintf("%s %d", tag, i)})
			if err != nil {
				t.Fatal(err)
			}
			e.rm.SubmitDelta(m, fmt.Sprintf("%s-%d", tag, i), d.Encode(), d)
		}
		for i := range burst {
			submit(ea, a, ida, "a", i)
		}
		settled(t, "a's burst applied", func() bool { n, _ := count[*protocol.Applied](t, a); return n == burst+1 })
		// Origin names a joined frame's last author: a frame of a's alone
		// carries ra.
		if n := echoes(a, "ra"); n != 0 {
			t.Fatalf("a got %d frames holding only its own writes", n)
		}

		// Two authors interleaved: frames joined across them go to both.
		for i := range burst {
			submit(ea, a, ida, "a2", i)
			submit(eb, b, idb, "b2", i)
		}
		settled(t, "both bursts applied", func() bool {
			na, _ := count[*protocol.Applied](t, a)
			nb, _ := count[*protocol.Applied](t, b)
			return na == 2*burst+1 && nb == burst+1
		})
		want := ea.doc.Clone()
		want.Merge(eb.doc)
		for _, m := range []*fakeMember{a, b, c} {
			got := workflow.New()
			for _, f := range m.decoded(t) {
				if rd, ok := f.(*protocol.RemoteDelta); ok {
					d, err := workflow.Decode(rd.Delta, workflow.DeltaLimits)
					if err != nil {
						t.Fatal(err)
					}
					got.Merge(d)
				}
			}
			switch m {
			case a:
				got.Merge(ea.doc)
			case b:
				got.Merge(eb.doc)
			}
			if !got.Equal(want) {
				t.Fatalf("member %s's state differs after the relays", m.sid)
			}
		}
	})
}
