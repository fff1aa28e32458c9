package text

import (
	"errors"
	"testing"

	"github.com/flowsync/flowsync/crdt"
)

func TestAdmit(t *testing.T) {
	server, alice := New(), New()
	d, _ := alice.Insert("alice", 0, "hello")
	if err := server.Admit(&d, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := server.Admit(&d, "mallory"); !errors.Is(err, ErrForeignDot) {
		t.Fatalf("foreign dots: %v", err)
	}
	// An edit whose origin the server has not seen, alone and then with the
	// run that holds it.
	d2, _ := alice.Insert("alice", 5, " world")
	if err := server.Admit(&d2, "alice"); !errors.Is(err, ErrMissingOrigin) {
		t.Fatalf("missing origin: %v", err)
	}
	if err := server.Merge(d2); !errors.Is(err, ErrMissingOrigin) {
		t.Fatalf("merge with a missing origin: %v", err)
	}
	both := Delta{Runs: append(append([]Run(nil), d.Runs...), d2.Runs...)}
	if err := server.Admit(&both, "alice"); err != nil {
		t.Fatalf("origin in the same delta: %v", err)
	}
	del := Delta{Deleted: []Dead{{"bob", crdt.Range{Lo: 1, Hi: 2}}}}
	if err := server.Admit(&del, "alice"); !errors.Is(err, ErrUnknownDelete) {
		t.Fatalf("unknown delete: %v", err)
	}
	if err := server.Merge(both); err != nil {
		t.Fatal(err)
	}
	del = Delta{Deleted: []Dead{{"alice", crdt.Range{Lo: 2, Hi: 11}}}}
	if err := server.Admit(&del, "bob"); err != nil {
		t.Fatalf("delete of known items: %v", err)
	}
	del.Deleted[0].Hi = 12
	if err := server.Admit(&del, "bob"); !errors.Is(err, ErrUnknownDelete) {
		t.Fatalf("delete past the known items: %v", err)
	}
	// Origins the wrong way round: "w" (alice:7) as left, "h" (alice:1) as right.
	swapped := Delta{Runs: []Run{{ID: crdt.Dot{Replica: "bob", Counter: 1}, Len: 1, Text: "x",
		Left: crdt.Dot{Replica: "alice", Counter: 7}, Right: crdt.Dot{Replica: "alice", Counter: 1}}}}
	if err := server.Admit(&swapped, "bob"); !errors.Is(err, ErrOriginOrder) {
		t.Fatalf("swapped origins: %v", err)
	}
	if server.String() != "hello world" {
		t.Fatalf("admission changed the text: %q", server.String())
	}
}

// TestMergeRefusesUnchanged: a refused delta leaves the replica as it was.
func TestMergeRefusesUnchanged(t *testing.T) {
	r := New()
	r.Insert("a", 0, "abc")
	before := Encode(ptr(r.DeltaSince(nil)))
	bad := []Delta{
		{Runs: []Run{{ID: crdt.Dot{Replica: "b", Counter: 1}, Len: 2, Text: "x"}}},
		{Runs: []Run{{ID: crdt.Dot{Replica: "b", Counter: 1}, Len: 1, Text: "x", Left: crdt.Dot{Replica: "c", Counter: 1}}}},
		{Runs: []Run{{ID: crdt.Dot{Replica: "b", Counter: 1}, Len: 1, Text: "x"}, {ID: crdt.Dot{Replica: "b", Counter: 1}, Len: 1, Text: "y"}}},
		{Runs: []Run{{ID: crdt.Dot{Replica: "b", Counter: 1}, Len: 1}}},
		{Runs: []Run{{ID: crdt.Dot{Replica: "b", Counter: 1}, Len: 1, Text: "x", Left: crdt.Dot{Replica: "b", Counter: 2}},
			{ID: crdt.Dot{Replica: "b", Counter: 2}, Len: 1, Text: "y", Left: crdt.Dot{Replica: "b", Counter: 1}}}},
		{Runs: []Run{{ID: crdt.Dot{Replica: "b", Counter: 1}, Len: 1, Text: "x"}}, Deleted: []Dead{{"b", crdt.Range{Lo: 0, Hi: 1}}}},
	}
	for i, d := range bad {
		if err := r.Merge(d); err == nil {
			t.Fatalf("delta %d merged", i)
		}
		if !bytesEqual(Encode(ptr(r.DeltaSince(nil))), before) {
			t.Fatalf("refused delta %d changed the replica", i)
		}
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func TestAnchors(t *testing.T) {
	a, b := New(), New()
	d, _ := a.Insert("a", 0, "hello world")
	b.Merge(d)
	caret, err := b.Anchor(6) // before "world"
	if err != nil {
		t.Fatal(err)
	}
	start, _ := b.Anchor(0)
	for _, e := range []func() (Delta, error){
		func() (Delta, error) { return a.Insert("a", 0, ">> ") },
		func() (Delta, error) { return a.Delete(3, 2) }, // "he"
		func() (Delta, error) { return a.Insert("a", a.Len(), "!") },
	} {
		d, err := e()
		if err != nil {
			t.Fatal(err)
		}
		b.Merge(d)
	}
	if got, _ := b.Resolve(caret); b.String()[got:] != "world!" {
		t.Fatalf("caret at %d in %q", got, b.String())
	}
	if got, _ := b.Resolve(start); got != 0 {
		t.Fatalf("start anchor at %d", got)
	}
	// The character the caret follows is deleted: the caret stays where it was.
	d, _ = a.Delete(a.Len()-7, 1) // the space
	b.Merge(d)
	if got, _ := b.Resolve(caret); b.String()[got:] != "world!" {
		t.Fatalf("caret after a deleted character at %d in %q", got, b.String())
	}
	if _, err := b.Resolve(Anchor{After: crdt.Dot{Replica: "zz", Counter: 1}}); !errors.Is(err, ErrUnknownAnchor) {
		t.Fatal(err)
	}
	if _, err := b.Anchor(b.Len() + 1); !errors.Is(err, ErrRange) {
		t.Fatal(err)
	}
}

func TestLocalEditErrors(t *testing.T) {
	r := New()
	if _, err := r.Insert("", 0, "x"); !errors.Is(err, ErrReplica) {
		t.Fatal(err)
	}
	if _, err := r.Insert("a", 1, "x"); !errors.Is(err, ErrRange) {
		t.Fatal(err)
	}
	if _, err := r.Insert("a", 0, "\xff"); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatal(err)
	}
	r.Insert("a", 0, "日本語")
	if _, err := r.Delete(2, 2); !errors.Is(err, ErrRange) {
		t.Fatal(err)
	}
	if _, err := r.Delete(-1, 1); !errors.Is(err, ErrRange) {
		t.Fatal(err)
	}
	if r.String() != "日本語" || r.Len() != 3 {
		t.Fatalf("%q %d", r.String(), r.Len())
	}
	d, err := r.Delete(1, 1)
	if err != nil || r.String() != "日語" || len(d.Deleted) != 1 || d.Deleted[0].Lo != 2 {
		t.Fatalf("%q %+v %v", r.String(), d, err)
	}
}

// TestAdmitRefusesHostile: deltas no typing produces are refused with a
// typed error before they change anything, whether their origins are
// held by the receiver or inserted by the delta itself.
func TestAdmitRefusesHostile(t *testing.T) {
	server, alice := New(), New()
	hello, _ := alice.Insert("alice", 0, "hello") // alice:1..5, each the child of the one before
	server.Merge(hello)
	before := Encode(ptr(server.DeltaSince(nil)))
	a := func(c uint64) crdt.Dot { return crdt.Dot{Replica: "alice", Counter: c} }
	m := func(c uint64) crdt.Dot { return crdt.Dot{Replica: "m", Counter: c} }
	run := func(id crdt.Dot, text string, left, right crdt.Dot) Run {
		return Run{ID: id, Len: len([]rune(text)), Text: text, Left: left, Right: right}
	}
	cases := []struct {
		name   string
		sender crdt.ReplicaID
		d      Delta
		want   error
	}{
		{"origins in a cycle", "m", Delta{Runs: []Run{run(m(1), "x", m(2), crdt.Dot{}), run(m(2), "y", m(1), crdt.Dot{})}}, ErrOriginCycle},
		{"origin a later item of its own run", "m", Delta{Runs: []Run{run(m(1), "xyz", m(3), crdt.Dot{})}}, ErrOriginCycle},
		{"runs overlap", "m", Delta{Runs: []Run{run(m(1), "xy", a(5), crdt.Dot{}), run(m(2), "z", a(5), crdt.Dot{})}}, ErrOverlap},
		{"right origin inside a subtree", "m", Delta{Runs: []Run{run(m(1), "x", crdt.Dot{}, a(3))}}, ErrOriginOrder},
		{"right origin before the left", "m", Delta{Runs: []Run{run(m(1), "x", a(4), a(2))}}, ErrOriginOrder},
		{"new left origin after a held right origin", "m", Delta{Runs: []Run{
			run(m(1), "x", a(5), crdt.Dot{}), run(m(2), "y", m(1), a(1))}}, ErrOriginOrder},
		{"right origin before the left in one new run", "m", Delta{Runs: []Run{
			run(m(1), "xyz", a(5), crdt.Dot{}), run(m(4), "w", m(3), m(1))}}, ErrOriginOrder},
		{"new right origin whose parent is new, held left", "m", Delta{Runs: []Run{
			run(m(1), "xy", a(5), crdt.Dot{}), run(m(3), "w", a(1), m(2))}}, ErrOriginOrder},
		{"held items with other text", "alice", Delta{Runs: []Run{run(a(1), "HELLO", crdt.Dot{}, crdt.Dot{})}}, ErrChangedItem},
		{"held items with other origins", "alice", Delta{Runs: []Run{run(a(2), "ello!", crdt.Dot{}, crdt.Dot{})}}, ErrChangedItem},
		{"held items with another right origin", "alice", Delta{Runs: []Run{run(a(5), "o!", a(4), a(1))}}, ErrChangedItem},
	}
	for _, c := range cases {
		err := server.Admit(&c.d, c.sender)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if !bytesEqual(Encode(ptr(server.DeltaSince(nil))), before) {
			t.Fatalf("%s: Admit changed the server", c.name)
		}
	}
	// What typing produces passes: the same items again, with one more, and
	// a run between two held items whose right origin the delta inserts.
	ok := []Delta{
		{Runs: []Run{run(a(1), "hello!", crdt.Dot{}, crdt.Dot{})}},
		{Runs: []Run{run(m(1), "x", a(2), a(3)), run(m(2), "y", a(2), m(1))}},
		{Runs: []Run{run(m(1), "xy", a(2), a(3)), run(m(3), "z", m(1), m(2))}},
	}
	for i, d := range ok {
		sender := d.Runs[len(d.Runs)-1].ID.Replica
		if err := server.Admit(&d, sender); err != nil {
			t.Errorf("typed delta %d refused: %v", i, err)
		}
	}
}
