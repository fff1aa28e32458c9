package rooms

import (
	"context"
	"errors"
	"testing"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
)

// catalogGate is a gateStore that keeps the memory store's catalog.
type catalogGate struct {
	*gateStore
	storage.Catalog
}

// A workflow exists once created or written, including edits its live
// room merged but the store has not stored yet; a room loaded for an
// unknown id does not make it exist; a deleted one says ErrDeleted.
func TestRegistryExists(t *testing.T) {
	ctx := context.Background()
	g := newGateStore()
	mem := g.Store.(*memory.Store)
	r := newRegistry(t, Config{}, catalogGate{gateStore: g, Catalog: mem})
	exists := func(wf string) bool {
		t.Helper()
		ok, err := r.Exists(ctx, wf)
		if err != nil {
			t.Fatalf("Exists(%q): %v", wf, err)
		}
		return ok
	}
	if exists("nobody") {
		t.Fatal("a workflow never created nor written exists")
	}
	if _, err := r.View(ctx, "viewed"); err != nil { // loads an empty room
		t.Fatal(err)
	}
	if exists("viewed") {
		t.Fatal("loading a room for an unknown id made it exist")
	}
	if err := r.CreateWorkflow(ctx, "created"); err != nil {
		t.Fatal(err)
	}
	if !exists("created") {
		t.Fatal("a created workflow does not exist")
	}
	apply(t, r, "pending", appAdmin, appOps...)
	<-g.waiting // the store holds the append: only the room knows the edit
	if !exists("pending") {
		t.Fatal("a workflow with edits not yet stored does not exist")
	}
	g.release <- nil
	if err := r.DeleteWorkflow(ctx, "created"); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.Exists(ctx, "created"); ok || !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("deleted workflow: %v, %v", ok, err)
	}
}
