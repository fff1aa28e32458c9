package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/flowsync/flowsync/storage"
)

// heldTests check Snapshot's held: the rows it names are trimmed without
// being read or decoded, the others are joined as before.
func heldTests(opts Options) []struct {
	name string
	fn   func(t *testing.T, s storage.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"HeldRowsTrimmedUnread", func(t *testing.T, s storage.Store) { testHeldRowsTrimmedUnread(t, s, opts) }},
		{"HeldKeysWithoutRows", testHeldKeysWithoutRows},
	}
}

// undecodable is a row Append takes (stores trust their deltas) but no
// decoder does: a snapshot that read it would fail with ErrCorrupt.
var undecodable = storage.NewDelta([]byte{0xc1, 0xc1, 0xc1, 0xc1})

func testHeldRowsTrimmedUnread(t *testing.T, s storage.Store, opts Options) {
	ctx := context.Background()
	want, deltas := Edits(t, "r1", 8)
	mine, theirs := Batch(t, deltas[:4]), Batch(t, deltas[4:])

	// Without held the undecodable row is read, and the snapshot refused:
	// the check below can fail.
	appendOK(t, s, "other", []storage.Delta{undecodable})
	if _, err := s.Snapshot(ctx, "other", joinAll(t, deltas[:4])); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("snapshot over an undecodable row, not named: %v, want ErrCorrupt", err)
	}

	appendOK(t, s, "wf", []storage.Delta{mine})
	appendOK(t, s, "wf", []storage.Delta{undecodable, theirs})
	// The document holds mine (and, by the caller's word, the
	// undecodable row); theirs is not named, so the store joins it.
	if _, err := s.Snapshot(ctx, "wf", joinAll(t, deltas[:4]), mine.Hash(), undecodable.Hash()); err != nil {
		t.Fatalf("snapshot naming its rows: %v (a named row was read)", err)
	}
	if opts.Count != nil {
		if n, snaps := opts.Count(t, s, "wf"); n != 0 || snaps != 1 {
			t.Errorf("after the snapshot: %d log rows, %d snapshots; want 0, 1", n, snaps)
		}
	}
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("the snapshot lost a row it was not told its document held")
	}
}

func testHeldKeysWithoutRows(t *testing.T, s storage.Store) {
	want, deltas := Edits(t, "r1", 6)
	appendOK(t, s, "wf", deltas[:3])
	// Keys of rows never written (and of rows a snapshot already
	// trimmed) are ignored.
	if _, err := s.Snapshot(context.Background(), "wf", joinAll(t, deltas[:3]), deltas[3].Hash(), storage.RowKey{1}); err != nil {
		t.Fatal(err)
	}
	appendOK(t, s, "wf", deltas[3:])
	if _, err := s.Snapshot(context.Background(), "wf", joinAll(t, deltas[3:]), deltas[0].Hash(), deltas[3].Hash(), deltas[4].Hash(), deltas[5].Hash()); err != nil {
		t.Fatal(err)
	}
	if got := load(t, s, "wf"); !got.Equal(want) {
		t.Fatal("held keys changed the document")
	}
}
