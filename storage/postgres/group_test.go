package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/storage/storagetest"
)

// TestGroupWritesManyWorkflowsInOneTransaction hands the committer one group
// of requests for several workflows, one of them deleted and one repeated,
// and checks that it costs one transaction and answers each request on its
// own.
func TestGroupWritesManyWorkflowsInOneTransaction(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{URL: pgtest.Schema(t), MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Delete(ctx, "wf-gone"); err != nil {
		t.Fatal(err)
	}

	request := func(wf string, deltas []storage.Delta) *appendReq { return newAppendReq(ctx, wf, deltas) }
	var group []*appendReq
	var wantDocs []string
	for i := range 5 {
		_, deltas := storagetest.Edits(t, fmt.Sprintf("r%d", i), 4)
		wf := fmt.Sprintf("wf-%d", i)
		group = append(group, request(wf, deltas))
		wantDocs = append(wantDocs, wf)
		if i == 0 {
			group = append(group, request(wf, deltas)) // a re-send in the same group
		}
	}
	_, gone := storagetest.Edits(t, "rx", 2)
	group = append(group, request("wf-gone", gone))

	before := s.Stats()
	s.group.write(group)
	after := s.Stats()

	for _, r := range group {
		err := <-r.done
		if r.workflowID == "wf-gone" {
			if !errors.Is(err, storage.ErrDeleted) {
				t.Errorf("deleted workflow: err = %v, want ErrDeleted", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: err = %v", r.workflowID, err)
		}
	}
	if got := after.Transactions - before.Transactions; got != 1 {
		t.Errorf("transactions = %d, want 1 for the whole group", got)
	}
	if got := after.DeltasStored - before.DeltasStored; got != 5*4 {
		t.Errorf("rows stored = %d, want 20 (the re-send and the deleted workflow's rows are not stored)", got)
	}
	for _, wf := range wantDocs {
		d, err := s.Load(ctx, wf)
		if err != nil || d.IsEmpty() {
			t.Errorf("Load %s: empty=%v err=%v", wf, d == nil || d.IsEmpty(), err)
		}
	}
}
