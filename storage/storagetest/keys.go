package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/flowsync/flowsync/storage"
)

// keyTests checks the optional interfaces a store may implement: the
// receipt keys and tombstone lookups. A store that implements neither
// skips them (the server then makes its keys from a key file or per
// process).
func keyTests() []struct {
	name string
	fn   func(t *testing.T, s storage.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"ReceiptKeysAreCreatedOnceAndKept", testReceiptKeys},
		{"IsDeletedAnswersFromTheStore", testIsDeleted},
	}
}

func newSecret() ([]byte, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return b, err
}

func testReceiptKeys(t *testing.T, s storage.Store) {
	ks, ok := s.(storage.KeyStore)
	if !ok {
		t.Skip("store keeps no receipt keys")
	}
	ctx := context.Background()
	const callers = 8
	got := make([][]storage.SecretKey, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { got[i], errs[i] = ks.ReceiptKeys(ctx, newSecret) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if len(got[i]) == 0 || len(got[i][0].Secret) < 32 || got[i][0].ID == "" {
			t.Fatalf("caller %d got %d keys, first %q with %d secret bytes", i, len(got[i]), keyID(got[i]), secretLen(got[i]))
		}
		if got[i][0].ID != got[0][0].ID || !bytes.Equal(got[i][0].Secret, got[0][0].Secret) {
			t.Fatalf("concurrent callers disagree on the current key: %q vs %q", got[i][0].ID, got[0][0].ID)
		}
	}
	again, err := ks.ReceiptKeys(ctx, func() ([]byte, error) { return nil, fmt.Errorf("a key exists: no new one may be made") })
	if err != nil {
		t.Fatal(err)
	}
	if again[0].ID != got[0][0].ID || !bytes.Equal(again[0].Secret, got[0][0].Secret) {
		t.Fatal("the current key changed between calls")
	}
}

func keyID(ks []storage.SecretKey) string {
	if len(ks) == 0 {
		return ""
	}
	return ks[0].ID
}

func secretLen(ks []storage.SecretKey) int {
	if len(ks) == 0 {
		return 0
	}
	return len(ks[0].Secret)
}

func testIsDeleted(t *testing.T, s storage.Store) {
	tr, ok := s.(storage.TombstoneReader)
	if !ok {
		t.Skip("store has no tombstone lookup")
	}
	ctx := context.Background()
	wf, other := "deleted-wf", "kept-wf"
	_, deltas := Edits(t, "r1", 3)
	appendOK(t, s, wf, deltas)
	appendOK(t, s, other, deltas)
	if d, err := tr.IsDeleted(ctx, wf); err != nil || d {
		t.Fatalf("before Delete: %v %v", d, err)
	}
	if err := s.Delete(ctx, wf); err != nil {
		t.Fatal(err)
	}
	if d, err := tr.IsDeleted(ctx, wf); err != nil || !d {
		t.Fatalf("after Delete: %v %v", d, err)
	}
	if d, err := tr.IsDeleted(ctx, other); err != nil || d {
		t.Fatalf("another workflow: %v %v", d, err)
	}
	if d, err := tr.IsDeleted(ctx, "never-written"); err != nil || d {
		t.Fatalf("never written: %v %v", d, err)
	}
}
