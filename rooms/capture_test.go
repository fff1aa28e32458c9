package rooms

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// TestWholeDocumentReadsLeaveTheLoop: joiners with an empty context or one
// that lacks more than RemovalStep dots, and a
// View of a document over the inline bound are made off the loop. While
// the goroutines making them are held, the loop has sent the joiners
// nothing (no Joined from the Join's turn), has not answered the View, and
// still serves the room: a member's edit is admitted and relayed. Once
// released, both joiners get Joined, the catch-up (the same frames: one
// encoding serves both) and then the relay held for them, whose sequence
// follows Joined.Seq; joining it all gives the room's document, and so
// does the View.
func TestWholeDocumentReadsLeaveTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := memory.New()
		seed := buildDoc(t, 200)
		// block-0002's prompt is a text: the edit below types into a
		// record only the base holds.
		prompt := workflow.TextTarget{BlockID: "block-0002", SubBlockID: "prompt"}
		if _, err := seed.Apply(crdt.NewClock("w").Now(1_700_000_050_000), workflow.InsertText{TextTarget: prompt, Index: 0, Text: "Please "}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Snapshot(ctx, "wf", seed); err != nil {
			t.Fatal(err)
		}
		// The fake clock starts in 2000; the seed was written in 2023.
		time.Sleep(time.Until(time.UnixMilli(1_700_000_100_000)))
		release := make(chan struct{})
		r := newRegistry(t, Config{MaxCatchUpChunk: 4 << 10, MaxClockLag: -1, inlineCatchUp: -1, RemovalStep: 64,
			onCapture: func() { <-release }}, store)
		a := member("a", "ra")
		rm, err := r.Join(ctx, "wf", a, JoinOptions{Have: seed.Context().Clone()})
		if err != nil {
			t.Fatal(err)
		}
		// j3 holds one dot: it lacks more than RemovalStep, and is sent
		// the whole document too.
		j1, j2, j3 := member("j1", "rj1"), member("j2", "rj2"), member("j3", "rj3")
		stale := crdt.NewContext()
		stale.Add(crdt.Dot{Replica: "w", Counter: 1})
		for _, j := range []*fakeMember{j1, j2, j3} {
			opts := JoinOptions{}
			if j == j3 {
				opts.Have = stale
			}
			if _, err := r.Join(ctx, "wf", j, opts); err != nil {
				t.Fatal(err)
			}
		}
		view := make(chan *workflow.View, 1)
		go func() {
			v, err := r.View(ctx, "wf")
			if err != nil {
				t.Error(err)
			}
			view <- v
		}()
		clock := crdt.NewClock("ra")
		edit, err := seed.Clone().Apply(clock.Now(time.Now().UnixMilli()), workflow.UpdateName{ID: "block-0001", NewName: "Renamed"})
		if err != nil {
			t.Fatal(err)
		}
		rm.SubmitDelta(a, "op-1", edit.Encode(), edit)
		after := seed.Clone()
		after.Merge(edit)
		typed, err := after.Apply(clock.Now(time.Now().UnixMilli()), workflow.InsertText{TextTarget: prompt, Index: 0, Text: ">> "})
		if err != nil {
			t.Fatal(err)
		}
		rm.SubmitDelta(a, "op-2", typed.Encode(), typed)
		settled(t, "the edits' Applied", func() bool { n, _ := count[*protocol.Applied](t, a); return n == 2 })
		for _, j := range []*fakeMember{j1, j2, j3} {
			if fs := j.decoded(t); len(fs) != 0 {
				t.Fatalf("%s was sent %d frames (first %T) while its catch-up was held: the loop made it", j.sid, len(fs), fs[0])
			}
		}
		select {
		case <-view:
			t.Fatal("the View was answered while its capture was held: the loop made it")
		default:
		}

		close(release)
		settle()
		want := seed.Clone()
		want.Merge(edit)
		want.Merge(typed)
		for _, j := range []*fakeMember{j1, j2, j3} {
			fs := j.decoded(t)
			joined, ok := fs[0].(*protocol.Joined)
			if !ok {
				t.Fatalf("%s: first frame %T, want Joined", j.sid, fs[0])
			}
			n := int(joined.CatchUpChunks)
			if n < 2 || len(fs) < 1+n+1 {
				t.Fatalf("%s: Joined announces %d chunks; %d frames in all, want them and the held relay", j.sid, n, len(fs))
			}
			got := workflow.New()
			for i, f := range fs[1 : 1+n] {
				c, ok := f.(*protocol.CatchUp)
				if !ok || c.Seq != uint64(i) || c.Last != (i == n-1) {
					t.Fatalf("%s: reply frame %d: %+v", j.sid, i+1, f)
				}
				d, err := workflow.Decode(c.Delta, workflow.DeltaLimits)
				if err != nil {
					t.Fatal(err)
				}
				got.Merge(d)
			}
			relays := 0
			for _, f := range fs[1+n:] {
				switch f := f.(type) {
				case *protocol.CatchUp, *protocol.Joined:
					t.Fatalf("%s: %T after the catch-up", j.sid, f)
				case *protocol.RemoteDelta:
					if f.Seq <= joined.Seq {
						t.Fatalf("%s: a relay of seq %d after Joined.Seq %d", j.sid, f.Seq, joined.Seq)
					}
					d, err := workflow.Decode(f.Delta, workflow.DeltaLimits)
					if err != nil {
						t.Fatal(err)
					}
					got.Merge(d)
					relays++
				}
			}
			if relays < 1 {
				t.Fatalf("%s: no relay held, want the edits'", j.sid)
			}
			if !got.Equal(want) {
				t.Fatalf("%s: Joined, catch-up and relay do not give the room's document", j.sid)
			}
		}
		j1.mu.Lock()
		j2.mu.Lock()
		shared := &j1.frames[1][0] == &j2.frames[1][0]
		j2.mu.Unlock()
		j1.mu.Unlock()
		if !shared {
			t.Fatal("the two joiners' catch-ups were encoded apart")
		}
		if v := <-view; v == nil || v.Blocks["block-0001"].Name != "Renamed" || len(v.Blocks) != len(want.View().Blocks) {
			t.Fatal("the View is not the room's document")
		}
	})
}
