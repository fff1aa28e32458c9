package workflow

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/text"
)

// promptBlock adds a block whose prompt (a long-input) holds s.
func promptBlock(id, s string) Op {
	return BatchAddBlocks{Blocks: []BlockInput{{ID: id, Type: "agent", Name: "Agent " + id, Position: &Position{},
		SubBlocks: map[string]SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: s}}}}}
}

func prompt(id string) TextTarget { return TextTarget{BlockID: id, SubBlockID: "prompt"} }

func textOf(t *testing.T, d *Doc, tt TextTarget) string {
	t.Helper()
	s, ok := d.Text(tt)
	if !ok {
		t.Fatalf("%+v is not a text", tt)
	}
	return s
}

// The scenario: Alice and Bob type into one prompt at once; both
// keep every word, each contiguous, and the replicas converge.
func TestConcurrentTypingKeepsBothWords(t *testing.T) {
	wall := int64(1000)
	a, b := newReplicaDoc(t, "alice", &wall), newReplicaDoc(t, "bob", &wall)
	b.d.Merge(a.apply(promptBlock("p", "")))
	var fromA, fromB []*Doc
	// Each types character by character, as an editor sends keystrokes.
	for i, c := range "alice writes this sentence." {
		_ = c
		fromA = append(fromA, a.apply(InsertText{TextTarget: prompt("p"), Index: i, Text: string([]rune("alice writes this sentence.")[i])}))
	}
	for i := range []rune("BOB TYPES HERE TOO.") {
		fromB = append(fromB, b.apply(InsertText{TextTarget: prompt("p"), Index: i, Text: string([]rune("BOB TYPES HERE TOO.")[i])}))
	}
	for _, d := range fromB {
		a.d.Merge(d)
	}
	for i := len(fromA) - 1; i >= 0; i-- { // any order
		b.d.Merge(fromA[i])
	}
	sa, sb := textOf(t, a.d, prompt("p")), textOf(t, b.d, prompt("p"))
	if sa != sb {
		t.Fatalf("diverged: %q vs %q", sa, sb)
	}
	if !strings.Contains(sa, "alice writes this sentence.") || !strings.Contains(sa, "BOB TYPES HERE TOO.") {
		t.Fatalf("a word was interleaved or lost: %q", sa)
	}
	if !a.d.Equal(b.d) || string(a.d.Encode()) != string(b.d.Encode()) {
		t.Fatal("states differ")
	}
	back, err := Decode(a.d.Encode(), DocLimits)
	if err != nil || !back.Equal(a.d) || textOf(t, back, prompt("p")) != sa {
		t.Fatalf("the document does not round-trip: %v", err)
	}
}

// A thin client's whole-value write is the smallest splice: typing another
// replica did concurrently elsewhere in the text survives.
func TestWholeValueWriteIsASplice(t *testing.T) {
	wall := int64(1000)
	a, b := newReplicaDoc(t, "a", &wall), newReplicaDoc(t, "b", &wall)
	b.d.Merge(a.apply(promptBlock("p", "Write a haiku about rain.")))
	da := a.apply(UpdateSubBlock{BlockID: "p", SubBlockID: "prompt", Value: "Write a short haiku about rain."})
	db := b.apply(InsertText{TextTarget: prompt("p"), Index: 24, Text: " in Paris"})
	if got := len(da.texts); got != 1 || da.store.NumDots() != 0 {
		t.Fatalf("the whole-value write wrote %d values and %d texts, want a splice only", da.store.NumDots(), got)
	}
	a.d.Merge(db)
	b.d.Merge(da)
	want := "Write a short haiku about rain in Paris."
	if sa, sb := textOf(t, a.d, prompt("p")), textOf(t, b.d, prompt("p")); sa != want || sb != want {
		t.Fatalf("got %q and %q, want %q", sa, sb, want)
	}
	// The view shows the string.
	if v := a.d.View().Blocks["p"].SubBlocks["prompt"].Value; string(v) != string(stringValue(want)) {
		t.Fatalf("view shows %x", v)
	}
}

func TestDiffText(t *testing.T) {
	for _, c := range []struct {
		a, b, ins string
		pos, del  int
	}{
		{"", "abc", "abc", 0, 0},
		{"abc", "", "", 0, 3},
		{"hello", "help", "p", 3, 2},
		{"aaa", "aaaa", "a", 3, 0},
		{"héllo", "hallo", "a", 1, 1},
		{"日本語", "日本人語", "人", 2, 0},
		{"🙂x", "🙃x", "🙃", 0, 1},
	} {
		pos, del, ins := diffText(c.a, c.b)
		if pos != c.pos || del != c.del || ins != c.ins {
			t.Errorf("diffText(%q, %q) = %d, %d, %q; want %d, %d, %q", c.a, c.b, pos, del, ins, c.pos, c.del, c.ins)
		}
		r := []rune(c.a)
		if got := string(r[:pos]) + ins + string(r[pos+del:]); got != c.b {
			t.Errorf("diffText(%q, %q) splices to %q", c.a, c.b, got)
		}
	}
}

// Duplicate and replace-state copy a text as a new one; removing the block
// drops the text from the document; typing concurrent with the removal is
// dropped on merge in every replica alike.
func TestTextLifecycle(t *testing.T) {
	wall := int64(1000)
	a, b := newReplicaDoc(t, "a", &wall), newReplicaDoc(t, "b", &wall)
	b.d.Merge(a.apply(promptBlock("p", "original")))
	b.d.Merge(a.apply(DuplicateBlock{SourceID: "p", ID: "q"}))
	if s := textOf(t, b.d, prompt("q")); s != "original" {
		t.Fatalf("duplicate holds %q", s)
	}
	// Editing the copy leaves the source alone.
	a.d.Merge(b.apply(InsertText{TextTarget: prompt("q"), Index: 0, Text: "copy of "}))
	if s := textOf(t, a.d, prompt("p")); s != "original" {
		t.Fatalf("the source changed: %q", s)
	}
	typing := b.apply(InsertText{TextTarget: prompt("p"), Index: 8, Text: "!"})
	removal := a.apply(RemoveBlock{ID: "p"})
	if len(a.d.texts) != 1 {
		t.Fatalf("the removed block's text is still held: %d texts", len(a.d.texts))
	}
	a.d.Merge(typing)
	b.d.Merge(removal)
	if !a.d.Equal(b.d) || len(a.d.texts) != 1 {
		t.Fatalf("after a removal concurrent with typing: equal %v, %d texts", a.d.Equal(b.d), len(a.d.texts))
	}
	// Replace-state writes new texts holding the given strings.
	rs := ReplaceState{Blocks: map[string]BlockInput{"r": {ID: "r", Type: "agent", Name: "R", Position: &Position{},
		SubBlocks: map[string]SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "fresh"}}}}}
	b.d.Merge(a.apply(rs))
	if s := textOf(t, b.d, prompt("r")); s != "fresh" || len(b.d.texts) != 1 {
		t.Fatalf("replace-state: %q, %d texts", s, len(b.d.texts))
	}
	// A non-string write ends the text.
	b.d.Merge(a.apply(UpdateSubBlock{BlockID: "r", SubBlockID: "prompt", Value: 42}))
	if _, ok := b.d.Text(prompt("r")); ok || len(b.d.texts) != 0 {
		t.Fatal("a number written over a text left the text")
	}
}

// Text edits are refused as invalid, and change nothing, when the field is
// not a text or the range is out of bounds; the marker cannot be written as
// a value.
func TestTextOpsRefused(t *testing.T) {
	o := otFixture(t)
	o.fails(InsertText{TextTarget: TextTarget{BlockID: "a", SubBlockID: "model"}, Index: 0, Text: "x"}, ErrInvalid)
	o.ok(promptBlock("p", "abc"))
	o.fails(InsertText{TextTarget: prompt("p"), Index: 4, Text: "x"}, ErrInvalid)
	o.fails(InsertText{TextTarget: prompt("p"), Index: 0, Text: ""}, ErrInvalid)
	o.fails(InsertText{TextTarget: prompt("p"), Index: 0, Text: "\xff"}, ErrInvalid)
	o.fails(DeleteText{TextTarget: prompt("p"), Index: 2, Length: 2}, ErrInvalid)
	o.fails(DeleteText{TextTarget: prompt("zz"), Index: 0, Length: 1}, ErrUnknownBlock)
	o.fails(UpdateSubBlock{BlockID: "p", SubBlockID: "prompt", Value: []byte{1}}, ErrInvalid)
	o.ok(DeleteText{TextTarget: prompt("p"), Index: 1, Length: 2})
	if s := textOf(t, o.d, prompt("p")); s != "a" {
		t.Fatalf("got %q", s)
	}
}

// Vet admits a client's typing and refuses typing under another replica's
// dots, typing into a record nobody created, and items reusing held dots.
func TestVetTexts(t *testing.T) {
	wall := int64(1000)
	srv, a := newReplicaDoc(t, "srv", &wall), newReplicaDoc(t, "a", &wall)
	a.d.Merge(srv.apply(promptBlock("p", "hi")))
	srv.d.Merge(a.d) // the server holds what it sent
	typed := a.apply(InsertText{TextTarget: prompt("p"), Index: 2, Text: " there"})
	if _, err := srv.d.Vet(typed, "a"); err != nil {
		t.Fatalf("honest typing refused: %v", err)
	}
	if _, err := srv.d.Vet(typed, "mallory"); !errors.Is(err, ErrInvalidText) || !errors.Is(err, text.ErrForeignDot) {
		t.Fatalf("typing under a's dots sent by another replica: %v", err)
	}
	// A record the server does not know.
	forged := typed.Clone()
	for m, r := range forged.texts {
		delete(forged.texts, m)
		forged.texts[crdt.Dot{Replica: "srv", Counter: 999}] = r
	}
	if _, err := srv.d.Vet(forged, "a"); !errors.Is(err, ErrInvalidText) {
		t.Fatalf("typing into an unknown record: %v", err)
	}
	// Deletes of items nobody inserted.
	del := &Doc{texts: map[crdt.Dot]*textRec{}}
	for m := range typed.texts {
		r := newTextRec()
		r.add(&text.Delta{Deleted: []text.Dead{{Replica: "zz", Range: crdt.Range{Lo: 1, Hi: 3}}}})
		del.texts[m] = r
	}
	if _, err := srv.d.Vet(del, "a"); !errors.Is(err, text.ErrUnknownDelete) {
		t.Fatalf("a delete of unknown items: %v", err)
	}
}

// Remint moves unsent typing to the new replica id together with the
// record it types into, so that nothing typed is lost.
func TestRemintMovesTyping(t *testing.T) {
	wall := int64(1000)
	a, b := newReplicaDoc(t, "a", &wall), newReplicaDoc(t, "b", &wall)
	b.d.Merge(a.apply(promptBlock("p", "base")))
	which := crdt.NewContext()
	var unsent []*Doc
	for _, op := range []Op{
		promptBlock("q", "new text"),
		InsertText{TextTarget: prompt("p"), Index: 4, Text: " typed offline"},
		InsertText{TextTarget: prompt("q"), Index: 3, Text: "er"},
		DeleteText{TextTarget: prompt("p"), Index: 0, Length: 1},
	} {
		d, minted := a.applyMinted(op)
		unsent = append(unsent, d)
		which.AddRange("a", minted)
	}
	doc, err := a.d.Remint("a", "fresh", which, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc.View(), a.d.View()) {
		t.Fatal("the reminted document renders differently")
	}
	for _, d := range unsent {
		r, err := d.Remint("a", "fresh", which, 1)
		if err != nil {
			t.Fatal(err)
		}
		b.d.Merge(r)
	}
	for _, tt := range []TextTarget{prompt("p"), prompt("q")} {
		if got, want := textOf(t, b.d, tt), textOf(t, a.d, tt); got != want {
			t.Fatalf("%s: b holds %q after the reminted edits, a %q", tt.BlockID, got, want)
		}
	}
	if !b.d.Equal(doc) {
		t.Fatal("the reminted deltas do not give the reminted document")
	}
}

// WritesSince carries a replica's typing the server lacks (an offline
// prompt), and the deletes.
func TestWritesSinceCarriesTypedText(t *testing.T) {
	wall := int64(1000)
	srv, a := newReplicaDoc(t, "srv", &wall), newReplicaDoc(t, "a", &wall)
	a.d.Merge(srv.apply(promptBlock("p", "hello")))
	a.apply(InsertText{TextTarget: prompt("p"), Index: 5, Text: " world"})
	a.apply(DeleteText{TextTarget: prompt("p"), Index: 0, Length: 1})
	w := a.d.WritesSince("a", srv.d.Context(), nil)
	if _, err := srv.d.Vet(w, "a"); err != nil {
		t.Fatalf("catch-up refused: %v", err)
	}
	srv.d.Merge(w)
	if got := textOf(t, srv.d, prompt("p")); got != "ello world" {
		t.Fatalf("server holds %q", got)
	}
}

// Chunks of a document holding texts join to the document, texts included.
func TestChunksCarryTexts(t *testing.T) {
	wall := int64(1000)
	a := newReplicaDoc(t, "a", &wall)
	for i := range 40 {
		id := string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		a.apply(promptBlock(id, strings.Repeat("prompt text ", 200)))
		a.apply(InsertText{TextTarget: prompt(id), Index: 5, Text: "inserted"})
	}
	chunks := a.d.EncodeChunks(16 << 10)
	if len(chunks) < 2 {
		t.Fatalf("%d chunks", len(chunks))
	}
	got := New()
	for _, c := range chunks {
		d, err := DecodeCapped(c, DeltaLimits, DeltaCaps)
		if err != nil {
			t.Fatal(err)
		}
		got.Merge(d)
	}
	if !got.Equal(a.d) {
		t.Fatal("the chunks do not join to the document")
	}
}

// A whole-value write that names the string it edited keeps another user's
// concurrent typing elsewhere in the text; one that overlaps it fails its
// precondition and changes nothing.
func TestWholeValueWriteRebasesOnItsExpectedValue(t *testing.T) {
	o := otFixture(t)
	o.ok(promptBlock("p", "Hello world"))
	o.ok(InsertText{TextTarget: prompt("p"), Index: 11, Text: "!"}) // another user, unseen by the writer
	o.ok(SubBlockBatchUpdate{Updates: []SubBlockUpdate{{BlockID: "p", SubBlockID: "prompt",
		Value: "Howdy world", ExpectedValue: "Hello world", HasExpected: true}}})
	if s := textOf(t, o.d, prompt("p")); s != "Howdy world!" {
		t.Fatalf("got %q", s)
	}
	o.ok(InsertText{TextTarget: prompt("p"), Index: 0, Text: ">> "})
	o.ok(SubBlockBatchUpdate{Updates: []SubBlockUpdate{{BlockID: "p", SubBlockID: "prompt",
		Value: "Howdy world?!", ExpectedValue: "Howdy world!", HasExpected: true}}})
	if s := textOf(t, o.d, prompt("p")); s != ">> Howdy world?!" {
		t.Fatalf("got %q", s)
	}
	o.ok(InsertText{TextTarget: prompt("p"), Index: 8, Text: "X"}) // inside what the writer replaces
	o.fails(SubBlockBatchUpdate{Updates: []SubBlockUpdate{{BlockID: "p", SubBlockID: "prompt",
		Value: ">> Hi", ExpectedValue: ">> Howdy world?!", HasExpected: true}}}, ErrPrecondition)
}

// TestVetTextsReSendOfWaitingItems: a document can hold typed items it
// cannot place yet (a peer or the store handed it the second of two typing
// deltas first). Their dots are in its context, so a re-send of the same
// items by their author (it never saw them acknowledged) must be taken as
// known, not as other content under held dots; other content under those
// dots is still refused.
func TestVetTextsReSendOfWaitingItems(t *testing.T) {
	wall := int64(1000)
	srv, a := newReplicaDoc(t, "srv", &wall), newReplicaDoc(t, "a", &wall)
	a.d.Merge(srv.apply(promptBlock("p", "hi")))
	srv.d.Merge(a.d)
	// The same typing, and other text under the same dots (a twin of a
	// from the same state).
	twin := &replicaDoc{t: t, d: a.d.Clone(), clock: crdt.NewClock("a"), wall: &wall}
	first := a.apply(InsertText{TextTarget: prompt("p"), Index: 2, Text: " there"})
	second := a.apply(InsertText{TextTarget: prompt("p"), Index: 8, Text: " you"})
	forged := twin.apply(InsertText{TextTarget: prompt("p"), Index: 2, Text: " THERE"})
	forged.Merge(twin.apply(InsertText{TextTarget: prompt("p"), Index: 8, Text: " YOU"}))

	srv.d.Merge(second) // its origin is in first: it waits
	if got := textOf(t, srv.d, prompt("p")); got != "hi" {
		t.Fatalf("before its origin arrived the text is %q", got)
	}
	if _, err := srv.d.Vet(forged, "a"); !errors.Is(err, ErrForgedContent) {
		t.Fatalf("other text under waiting dots: %v, want ErrForgedContent", err)
	}
	both := first.Clone()
	both.Merge(second)
	if _, err := srv.d.Vet(both, "a"); err != nil {
		t.Fatalf("the author's re-send of its waiting typing refused: %v", err)
	}
	srv.d.Merge(both)
	if got := textOf(t, srv.d, prompt("p")); got != "hi there you" {
		t.Fatalf("after the re-send the text is %q", got)
	}
}
