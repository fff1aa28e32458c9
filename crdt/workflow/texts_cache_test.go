package workflow

import (
	"errors"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
)

// A text record keeps its encoding until it changes (textRec.enc): a
// decoded record starts with the bytes it was read from. Every way a
// record changes — a merged edit, an edit applied to the document itself,
// on a decoded document and on a clone of one — must make the next
// encoding that of the changed record, or snapshots and catch-ups would
// carry a text as it was at load.
func TestTextEncodingFollowsEdits(t *testing.T) {
	wall := int64(1000)
	a := newReplicaDoc(t, "a", &wall)
	a.apply(promptBlock("p", "hello"))
	a.apply(promptBlock("q", "other"))
	loaded, err := Decode(a.d.Encode(), DocLimits)
	if err != nil {
		t.Fatal(err)
	}
	clone := loaded.Clone()
	_ = loaded.Encode() // encodings and views made before the edit
	_ = clone.Encode()
	_ = loaded.View()
	_ = clone.View()

	edit := a.apply(InsertText{TextTarget: prompt("p"), Index: 5, Text: " world"})
	cut := a.apply(DeleteText{TextTarget: prompt("q"), Index: 0, Length: 2})
	for name, d := range map[string]*Doc{"decoded": loaded, "clone of decoded": clone} {
		d.Merge(edit)
		d.Merge(cut)
		if got, want := d.Encode(), a.d.Encode(); string(got) != string(want) {
			t.Errorf("%s: the encoding after merged edits is not the editor's", name)
		}
		back, err := Decode(d.Encode(), DocLimits)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s := textOf(t, back, prompt("p")); s != "hello world" {
			t.Errorf("%s: re-decoded prompt %q, want %q", name, s, "hello world")
		}
		if s := textOf(t, back, prompt("q")); s != "her" {
			t.Errorf("%s: re-decoded prompt %q, want %q", name, s, "her")
		}
		if got, want := viewPrompt(t, d, "p"), viewPrompt(t, a.d, "p"); got != want {
			t.Errorf("%s: the view shows prompt %q, the editor's %q", name, got, want)
		}
	}

	// An edit applied to the decoded document itself.
	own := &replicaDoc{t: t, d: loaded, clock: crdt.NewClock("b"), wall: &wall}
	own.apply(InsertText{TextTarget: prompt("p"), Index: 0, Text: "Oh, "})
	back, err := Decode(loaded.Encode(), DocLimits)
	if err != nil {
		t.Fatal(err)
	}
	if s := textOf(t, back, prompt("p")); s != "Oh, hello world" {
		t.Errorf("after an applied edit: re-decoded prompt %q, want %q", s, "Oh, hello world")
	}
	if got := viewPrompt(t, loaded, "p"); got != `"Oh, hello world"` {
		t.Errorf("after an applied edit: the view shows prompt %s", got)
	}
	// The clone's record is its own: the edit to loaded did not reach it.
	if s := textOf(t, clone, prompt("p")); s != "hello world" {
		t.Errorf("the clone's prompt is %q, want %q", s, "hello world")
	}
}

// settle skips the merge of all waiting runs at once when an origin is
// neither known nor waiting (originsAvailable): it must never skip one
// that would succeed, and the runs must end placed or waiting exactly as
// without the shortcut.
func TestOriginsAvailable(t *testing.T) {
	a, b := crdt.ReplicaID("a"), crdt.ReplicaID("b")
	dot := func(r crdt.ReplicaID, c uint64) crdt.Dot { return crdt.Dot{Replica: r, Counter: c} }
	base := text.Run{ID: dot(a, 1), Len: 3, Text: "abc"}
	cases := []struct {
		name  string
		runs  []text.Run
		avail bool
	}{
		{"no origins", []text.Run{base}, true},
		{"origin inside a waiting run", []text.Run{base, {ID: dot(b, 1), Len: 1, Text: "x", Left: dot(a, 2)}}, true},
		{"origin at a waiting run's end", []text.Run{base, {ID: dot(b, 1), Len: 1, Text: "x", Left: dot(a, 3)}}, true},
		{"origin past a waiting run", []text.Run{base, {ID: dot(b, 1), Len: 1, Text: "x", Left: dot(a, 4)}}, false},
		{"right origin of another replica", []text.Run{base, {ID: dot(b, 1), Len: 1, Text: "x", Right: dot("c", 1)}}, false},
		{"origin before every waiting run", []text.Run{{ID: dot(b, 1), Len: 1, Text: "x", Left: dot(a, 1)}}, false},
	}
	for _, c := range cases {
		r := newTextRec()
		r.wait = c.runs
		if got := r.originsAvailable(); got != c.avail {
			t.Errorf("%s: originsAvailable = %v, want %v", c.name, got, c.avail)
		}
		merged := r.t.Clone().Merge(r.delta(r.wait)) == nil
		if !r.originsAvailable() && merged {
			t.Errorf("%s: the shortcut skips a merge that succeeds", c.name)
		}
		// Through add, the runs end placed or waiting as without it.
		viaAdd := newTextRec()
		viaAdd.add(&text.Delta{Runs: c.runs})
		if merged && len(viaAdd.wait) != 0 {
			t.Errorf("%s: %d runs wait though they place", c.name, len(viaAdd.wait))
		}
		if !merged && c.avail == false && len(viaAdd.wait) == 0 {
			t.Errorf("%s: runs with a missing origin were placed", c.name)
		}
	}
}

// A record's runs must come in the order they place in (then the waiting
// ones by dot): Decode takes a record that holds its decoded runs as they
// are without encoding it (encodesAs), and must still refuse the same runs
// in another order, which the text codec alone accepts.
func TestDecodeRefusesRecordOutOfPlaceOrder(t *testing.T) {
	wall := int64(1000)
	a, b := newReplicaDoc(t, "alice", &wall), newReplicaDoc(t, "bob", &wall)
	b.d.Merge(a.apply(promptBlock("p", "a")))
	a.d.Merge(b.apply(InsertText{TextTarget: prompt("p"), Index: 1, Text: "b"}))
	m, r, ok := a.d.liveRecord(prompt("p"))
	if !ok {
		t.Fatal("the prompt is not a text")
	}
	placed := r.since(nil)
	if len(placed.Runs) != 2 {
		t.Fatalf("record of %d runs, want 2", len(placed.Runs))
	}
	reversed := text.Delta{Runs: []text.Run{placed.Runs[1], placed.Runs[0]}, Deleted: placed.Deleted}
	bad := text.Encode(&reversed)
	if _, err := text.DecodeDelta(bad, text.DeltaLimits); err != nil {
		t.Fatalf("the text codec refuses the reversed runs (%v): this test needs a record only the document refuses", err)
	}
	good := a.d.Encode()
	if _, err := Decode(good, DocLimits); err != nil {
		t.Fatalf("the true document does not decode: %v", err)
	}
	r.enc.Store(&bad) // the encoding now writes the reversed record
	defer r.enc.Store(nil)
	_, err := Decode(a.d.Encode(), DocLimits)
	if !errors.Is(err, ErrNotCanonical) {
		t.Fatalf("record %v in reversed order: Decode gives %v, want ErrNotCanonical", m, err)
	}
}

// viewPrompt returns the prompt of block id as the view shows it (JSON).
func viewPrompt(t *testing.T, d *Doc, id string) string {
	t.Helper()
	for _, b := range d.View().Blocks {
		if b.ID == id {
			sb := b.SubBlocks["prompt"]
			if sb == nil {
				t.Fatalf("block %q has no prompt in the view", id)
			}
			j, err := sb.Value.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			return string(j)
		}
	}
	t.Fatalf("block %q is not in the view", id)
	return ""
}
