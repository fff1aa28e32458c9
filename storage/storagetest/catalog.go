package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/flowsync/flowsync/storage"
)

// testCatalog checks storage.Catalog: a workflow exists once created or
// written, Create is idempotent and keeps what is stored, and a deleted
// workflow neither exists nor can be created again.
func testCatalog(t *testing.T, s storage.Store) {
	c, ok := s.(storage.Catalog)
	if !ok {
		t.Fatalf("%T does not implement storage.Catalog", s)
	}
	ctx := context.Background()
	exists := func(wf string) bool {
		t.Helper()
		ok, err := c.Exists(ctx, wf)
		if err != nil {
			t.Fatalf("Exists(%q): %v", wf, err)
		}
		return ok
	}
	load(t, s, "never") // a load leaves nothing behind that counts
	if exists("never") {
		t.Fatal("a workflow never created or written exists")
	}
	for range 2 { // idempotent
		if err := c.Create(ctx, "made"); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	if !exists("made") || !load(t, s, "made").IsEmpty() {
		t.Fatal("a created workflow does not exist, or is not empty")
	}
	want, deltas := Edits(t, "r1", 4)
	appendOK(t, s, "written", deltas)
	if !exists("written") {
		t.Fatal("a written workflow does not exist")
	}
	if err := c.Create(ctx, "written"); err != nil {
		t.Fatalf("Create of a written workflow: %v", err)
	}
	if got := load(t, s, "written"); !got.Equal(want) {
		t.Fatal("Create changed a stored document")
	}
	if err := s.Delete(ctx, "written"); err != nil {
		t.Fatal(err)
	}
	if exists("written") {
		t.Fatal("a deleted workflow exists")
	}
	if err := c.Create(ctx, "written"); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("Create of a deleted workflow = %v, want ErrDeleted", err)
	}
	if err := c.Create(ctx, ""); err == nil {
		t.Fatal("Create of an empty id succeeded")
	}
}
