package rooms

import (
	"context"
	"testing"

	"github.com/flowsync/flowsync/storage/memory"
)

// A deletion made by another node, or before this process started, is in
// the store only: a node that does not host the workflow must still answer
// "deleted" (it is how a cut-off region's digest gets the tombstone back).
func TestDeletedAnswersFromTheStore(t *testing.T) {
	store := memory.New()
	if err := store.Delete(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, Config{}, store)
	if !r.Deleted("gone") {
		t.Fatal("a workflow deleted in the store is not reported deleted")
	}
	if r.Deleted("alive") {
		t.Fatal("a workflow never deleted is reported deleted")
	}
	// Once known, the answer no longer needs the store.
	store.Close()
	if !r.Deleted("gone") {
		t.Fatal("a known deletion was forgotten")
	}
}
