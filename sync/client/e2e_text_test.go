package client_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/client"
)

// Two Go clients type into one prompt at the same time, character by
// character, one of them offline for part of it: both keep every word
// contiguous, the change events replay the text, and an anchor stays on
// its character.
func TestE2ETwoClientsTypeIntoOnePrompt(t *testing.T) {
	s := newServer(t)
	a := startPeer(t, s, "alice", nil)
	b := startPeer(t, s, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	if _, err := a.Apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "p", Type: "agent", Name: "Agent",
		SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "Prompt: "}}}}}); err != nil {
		t.Fatal(err)
	}
	ta, tb := a.Text("p", "prompt"), b.Text("p", "prompt")
	testutil.WaitFor(t, "bob sees the prompt", func() bool { return tb.String() == "Prompt: " })

	// Bob's view of the text, rebuilt from his change events alone.
	var mu sync.Mutex
	replay := []rune(tb.String())
	stop := tb.OnChange(func(ch client.TextChange) {
		mu.Lock()
		defer mu.Unlock()
		replay = append(replay[:ch.Index:ch.Index], append([]rune(ch.Inserted), replay[ch.Index+ch.Deleted:]...)...)
	})
	defer stop()
	// An anchor after "Prompt:" (index 7) on Bob's side.
	anchor, err := tb.Anchor(7)
	if err != nil {
		t.Fatal(err)
	}

	b.dialer.setOffline(true)
	wordA, wordB := "alice writes this sentence.", "BOB TYPES HERE TOO."
	var wg sync.WaitGroup
	wg.Add(2)
	for _, w := range []struct {
		t    *client.Text
		word string
	}{{ta, wordA}, {tb, wordB}} {
		go func() {
			defer wg.Done()
			for i, c := range []rune(w.word) {
				if err := w.t.Insert(8+i, string(c)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.dialer.setOffline(false)
	waitConverged(t, s, a, b)
	got := ta.String()
	if got != tb.String() {
		t.Fatalf("alice %q, bob %q", got, tb.String())
	}
	if !strings.HasPrefix(got, "Prompt: ") || !strings.Contains(got, wordA) || !strings.Contains(got, wordB) || len([]rune(got)) != 8+len([]rune(wordA))+len([]rune(wordB)) {
		t.Fatalf("words lost or interleaved: %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if string(replay) != got {
		t.Fatalf("the change events replay to %q, the text is %q", string(replay), got)
	}
	if i, err := tb.Resolve(anchor); err != nil || i != 7 {
		t.Fatalf("the anchor after %q resolves to %d (%v)", "Prompt:", i, err)
	}
}

// A change listener may edit the text it listens to: the edit's own event
// comes after the one being delivered, nothing deadlocks.
func TestTextListenerMayEdit(t *testing.T) {
	s := newServer(t)
	a := startPeer(t, s, "alice", nil)
	a.waitLive(t)
	if _, err := a.Apply(workflow.AddVariable{ID: "v", VarName: "greeting", Type: "plain", Value: "hi"}); err != nil {
		t.Fatal(err)
	}
	tv := a.VariableText("v")
	var seen []string
	stop := tv.OnChange(func(ch client.TextChange) {
		seen = append(seen, ch.Text)
		if ch.Inserted == "!" {
			if err := tv.Insert(tv.Len(), "?"); err != nil {
				t.Error(err)
			}
		}
	})
	defer stop()
	if err := tv.Insert(2, "!"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"hi!", "hi!?"}; strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Fatalf("events %q, want %q", seen, want)
	}
}

// A remote caret in a text stays on its character while the other types
// before it.
func TestE2ERemoteCaretFollowsItsCharacter(t *testing.T) {
	s := newServer(t)
	a := startPeer(t, s, "alice", nil)
	b := startPeer(t, s, "bob", nil)
	a.waitLive(t)
	b.waitLive(t)
	if _, err := a.Apply(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: "p", Type: "agent", Name: "Agent",
		SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "hello world"}}}}}); err != nil {
		t.Fatal(err)
	}
	ta, tb := a.Text("p", "prompt"), b.Text("p", "prompt")
	testutil.WaitFor(t, "bob sees the prompt", func() bool { return tb.String() == "hello world" })
	if err := ta.SetCaret(6, 11); err != nil { // alice selects "world"
		t.Fatal(err)
	}
	aliceCaret := func() (int, int, bool) {
		for _, e := range b.Roster() {
			if e.UserID == "u-alice" {
				return tb.Caret(e.Caret)
			}
		}
		return 0, 0, false
	}
	testutil.WaitFor(t, "bob sees alice's selection", func() bool { a0, h, ok := aliceCaret(); return ok && a0 == 6 && h == 11 })
	if err := tb.Insert(0, ">> "); err != nil {
		t.Fatal(err)
	}
	if a0, h, ok := aliceCaret(); !ok || a0 != 9 || h != 14 {
		t.Fatalf("alice's selection at %d..%d (%v), want 9..14", a0, h, ok)
	}
}
