package storagetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/storage"
)

// checkpointTests checks storage.CheckpointStore.
func checkpointTests() []struct {
	name string
	fn   func(t *testing.T, s storage.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"CheckpointRoundTrip", testCheckpointRoundTrip},
		{"CheckpointRetentionCount", testCheckpointRetentionCount},
		{"CheckpointRetentionAge", testCheckpointRetentionAge},
		{"CheckpointInvalidStoresNothing", testCheckpointInvalid},
		{"CheckpointDeleted", testCheckpointDeleted},
	}
}

func checkpoints(t *testing.T, s storage.Store) storage.CheckpointStore {
	t.Helper()
	cs, ok := s.(storage.CheckpointStore)
	if !ok {
		t.Fatalf("%T does not implement storage.CheckpointStore", s)
	}
	return cs
}

func saveOK(t *testing.T, cs storage.CheckpointStore, wf string, cp storage.NewCheckpoint, keep storage.Retention) storage.CheckpointMeta {
	t.Helper()
	m, err := cs.SaveCheckpoint(context.Background(), wf, cp, keep)
	if err != nil {
		t.Fatalf("SaveCheckpoint(%q, %q): %v", wf, cp.Name, err)
	}
	return m
}

func listIDs(t *testing.T, cs storage.CheckpointStore, wf string) []int64 {
	t.Helper()
	metas, err := cs.ListCheckpoints(context.Background(), wf)
	if err != nil {
		t.Fatalf("ListCheckpoints(%q): %v", wf, err)
	}
	ids := make([]int64, len(metas))
	for i, m := range metas {
		ids[i] = m.ID
	}
	return ids
}

// Saved checkpoints list oldest first with growing ids and their metadata,
// load with their document, and stay apart per workflow.
func testCheckpointRoundTrip(t *testing.T, s storage.Store) {
	cs := checkpoints(t, s)
	ctx := context.Background()
	if ids := listIDs(t, cs, "wf"); len(ids) != 0 {
		t.Fatalf("a workflow never checkpointed lists %v", ids)
	}
	if _, _, err := cs.LoadCheckpoint(ctx, "wf", 1); !errors.Is(err, storage.ErrNoCheckpoint) {
		t.Fatalf("LoadCheckpoint of nothing: %v, want ErrNoCheckpoint", err)
	}
	doc, _ := Edits(t, "r1", 8)
	small, _ := Edits(t, "r1", 2)
	sum := storage.CheckpointSummary{Baseline: true, Blocks: storage.ChangeCounts{Added: 4, Changed: 1}, Totals: storage.ChangeTotals{Blocks: 4}}
	a := saveOK(t, cs, "wf", storage.NewCheckpoint{AtMs: 1000, Authors: []string{"ann"}, Doc: small}, storage.Retention{})
	b := saveOK(t, cs, "wf", storage.NewCheckpoint{AtMs: 2000, Name: "deployed v1", Authors: []string{"ann", "bob"}, Summary: sum, Doc: doc}, storage.Retention{})
	saveOK(t, cs, "other", storage.NewCheckpoint{AtMs: 2000, Doc: small}, storage.Retention{})
	if a.ID <= 0 || b.ID <= a.ID {
		t.Fatalf("ids %d then %d: want positive and growing", a.ID, b.ID)
	}
	if b.Bytes <= 0 || b.Name != "deployed v1" || b.AtMs != 2000 || !slices.Equal(b.Authors, []string{"ann", "bob"}) || b.Summary != sum {
		t.Fatalf("SaveCheckpoint returned %+v", b)
	}
	metas, err := cs.ListCheckpoints(ctx, "wf")
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) != 2 || metas[0].ID != a.ID || metas[1].ID != b.ID {
		t.Fatalf("list = %+v, want ids %d, %d", metas, a.ID, b.ID)
	}
	if got := metas[1]; got.Name != b.Name || got.AtMs != b.AtMs || !slices.Equal(got.Authors, b.Authors) || got.Summary != sum || got.Bytes != b.Bytes {
		t.Fatalf("listed %+v, saved %+v", got, b)
	}
	if metas[0].Authors == nil || metas[0].Name != "" {
		t.Fatalf("automatic checkpoint listed as %+v", metas[0])
	}
	m, got, err := cs.LoadCheckpoint(ctx, "wf", b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(doc) || m.ID != b.ID || m.Name != b.Name || m.Summary != sum {
		t.Fatalf("LoadCheckpoint(%d): meta %+v, document equal %v", b.ID, m, got.Equal(doc))
	}
	if _, got, err := cs.LoadCheckpoint(ctx, "wf", a.ID); err != nil || !got.Equal(small) {
		t.Fatalf("LoadCheckpoint(%d): %v", a.ID, err)
	}
	if ids := listIDs(t, cs, "other"); len(ids) != 1 {
		t.Fatalf("other workflow lists %v", ids)
	}
	if _, _, err := cs.LoadCheckpoint(ctx, "other", b.ID); !errors.Is(err, storage.ErrNoCheckpoint) {
		t.Fatalf("a checkpoint of wf loads under other: %v", err)
	}
}

// Retention by count: the newest MaxAuto automatic and MaxNamed named
// checkpoints stay, each bound counting only its own kind.
func testCheckpointRetentionCount(t *testing.T, s storage.Store) {
	cs := checkpoints(t, s)
	doc, _ := Edits(t, "r1", 2)
	keep := storage.Retention{MaxAuto: 2, MaxNamed: 2}
	var auto, named []int64
	for i := range 5 {
		auto = append(auto, saveOK(t, cs, "wf", storage.NewCheckpoint{AtMs: int64(1000 + 10*i), Doc: doc}, keep).ID)
		if i < 3 {
			named = append(named, saveOK(t, cs, "wf", storage.NewCheckpoint{AtMs: int64(1005 + 10*i), Name: "deployed", Doc: doc}, keep).ID)
		}
	}
	want := append([]int64{named[1], named[2]}, auto[3:]...)
	slices.Sort(want)
	if got := listIDs(t, cs, "wf"); !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v (autos %v, named %v)", got, want, auto, named)
	}
}

// Retention by age drops automatic checkpoints older than MaxAge before
// the new one, never a named one nor the one saved.
func testCheckpointRetentionAge(t *testing.T, s storage.Store) {
	cs := checkpoints(t, s)
	doc, _ := Edits(t, "r1", 2)
	day := 24 * time.Hour
	keep := storage.Retention{MaxAge: 7 * day}
	t0 := int64(1_700_000_000_000)
	old := saveOK(t, cs, "wf", storage.NewCheckpoint{AtMs: t0, Doc: doc}, keep)
	oldNamed := saveOK(t, cs, "wf", storage.NewCheckpoint{AtMs: t0, Name: "deployed", Doc: doc}, keep)
	mid := saveOK(t, cs, "wf", storage.NewCheckpoint{AtMs: t0 + 5*day.Milliseconds(), Doc: doc}, keep)
	if got := listIDs(t, cs, "wf"); len(got) != 3 {
		t.Fatalf("nothing is older than 7 days yet, kept %v", got)
	}
	now := saveOK(t, cs, "wf", storage.NewCheckpoint{AtMs: t0 + 8*day.Milliseconds(), Doc: doc}, keep)
	if got, want := listIDs(t, cs, "wf"), []int64{oldNamed.ID, mid.ID, now.ID}; !slices.Equal(got, want) {
		t.Fatalf("after 8 days kept %v, want %v (the 8-day-old automatic %d dropped)", got, want, old.ID)
	}
	// A clock that went back never drops the checkpoint being saved.
	back := saveOK(t, cs, "wf", storage.NewCheckpoint{AtMs: t0 - 30*day.Milliseconds(), Doc: doc}, storage.Retention{MaxAge: time.Millisecond})
	if got := listIDs(t, cs, "wf"); !slices.Contains(got, back.ID) {
		t.Fatalf("the checkpoint saved was dropped: %v", got)
	}
}

// A checkpoint CheckCheckpoint refuses stores nothing.
func testCheckpointInvalid(t *testing.T, s storage.Store) {
	cs := checkpoints(t, s)
	ctx := context.Background()
	doc, _ := Edits(t, "r1", 2)
	for name, cp := range map[string]storage.NewCheckpoint{
		"no document":   {AtMs: 1},
		"no time":       {Doc: doc},
		"long name":     {AtMs: 1, Doc: doc, Name: strings.Repeat("n", storage.MaxCheckpointNameLen+1)},
		"control chars": {AtMs: 1, Doc: doc, Name: "a\nb"},
		"empty author":  {AtMs: 1, Doc: doc, Authors: []string{""}},
	} {
		if _, err := cs.SaveCheckpoint(ctx, "wf", cp, storage.Retention{}); !errors.Is(err, storage.ErrInvalidCheckpoint) {
			t.Errorf("%s: %v, want ErrInvalidCheckpoint", name, err)
		}
	}
	if _, err := cs.SaveCheckpoint(ctx, "", storage.NewCheckpoint{AtMs: 1, Doc: doc}, storage.Retention{}); !errors.Is(err, storage.ErrInvalidID) {
		t.Errorf("empty workflow id: %v, want ErrInvalidID", err)
	}
	if got := listIDs(t, cs, "wf"); len(got) != 0 {
		t.Fatalf("refused checkpoints were stored: %v", got)
	}
}

// Delete drops the checkpoints, and a deleted workflow takes no more.
func testCheckpointDeleted(t *testing.T, s storage.Store) {
	cs := checkpoints(t, s)
	ctx := context.Background()
	doc, deltas := Edits(t, "r1", 2)
	appendOK(t, s, "wf", deltas)
	m := saveOK(t, cs, "wf", storage.NewCheckpoint{AtMs: 1, Doc: doc}, storage.Retention{})
	if err := s.Delete(ctx, "wf"); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, cs, "wf"); len(got) != 0 {
		t.Fatalf("a deleted workflow lists checkpoints %v", got)
	}
	if _, _, err := cs.LoadCheckpoint(ctx, "wf", m.ID); !errors.Is(err, storage.ErrNoCheckpoint) {
		t.Fatalf("LoadCheckpoint after Delete: %v, want ErrNoCheckpoint", err)
	}
	if _, err := cs.SaveCheckpoint(ctx, "wf", storage.NewCheckpoint{AtMs: 2, Doc: doc}, storage.Retention{}); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("SaveCheckpoint after Delete: %v, want ErrDeleted", err)
	}
}
