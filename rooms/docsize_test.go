package rooms

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/sync/protocol"
)

// sizeClient edits a document as replica "ra" and submits the deltas.
type sizeClient struct {
	t     *testing.T
	rm    *Room
	m     *fakeMember
	doc   *workflow.Doc
	clock *crdt.Clock
	wall  int64
}

func (c *sizeClient) submit(opID string, op workflow.Op) {
	c.t.Helper()
	c.wall += 1000
	d, err := c.doc.Apply(c.clock.Now(c.wall), op)
	if err != nil {
		c.t.Fatal(err)
	}
	c.rm.SubmitDelta(c.m, opID, d.Encode(), d)
}

// answer returns how the room answered opID: 0 for Applied, else the Nack's
// code.
func (c *sizeClient) answer(opID string) protocol.Code {
	c.t.Helper()
	settle()
	for _, f := range c.m.decoded(c.t) {
		switch f := f.(type) {
		case *protocol.Applied:
			if f.OpID == opID {
				return 0
			}
		case *protocol.Nack:
			if f.OpID == opID {
				return f.Code
			}
		}
	}
	c.t.Fatalf("no answer to %s", opID)
	return 0
}

func promptBlock(id string, value string) workflow.Op {
	return workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: "Agent " + id,
		SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: value}}}}}
}

// TestDocumentSizeBound: an edit that would take the document past
// MaxDocumentBytes is refused with TOO_LARGE and changes nothing; one that
// fits is applied.
func TestDocumentSizeBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New()
		base := buildDoc(t, 20)
		if _, err := store.Snapshot(context.Background(), "wf", base); err != nil {
			t.Fatal(err)
		}
		size := len(base.Encode())
		r := newRegistry(t, Config{MaxDocumentBytes: size + 4096}, store)
		a := member("a", "ra")
		rm, err := r.Join(context.Background(), "wf", a, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := &sizeClient{t: t, rm: rm, m: a, doc: base.Clone(), clock: crdt.NewClock("ra"), wall: time.Now().UnixMilli()}

		c.submit("big", promptBlock("big", strings.Repeat("x", 8192)))
		if code := c.answer("big"); code != protocol.CodeTooLarge {
			t.Fatalf("an edit past the bound: answer %v, want TOO_LARGE", code)
		}
		c.doc = base.Clone() // the client drops the refused edit
		rm.SubmitOperation(a, "big-op", promptBlock("big-op", strings.Repeat("y", 8192)))
		if code := c.answer("big-op"); code != protocol.CodeTooLarge {
			t.Fatalf("an operation past the bound: answer %v, want TOO_LARGE", code)
		}
		advance(time.Minute) // any write or snapshot would have happened
		stored, err := store.Load(context.Background(), "wf")
		if err != nil {
			t.Fatal(err)
		}
		if !stored.Equal(base) {
			t.Fatal("a refused edit changed the stored document")
		}

		c.submit("small", promptBlock("small", strings.Repeat("z", 1024)))
		if code := c.answer("small"); code != 0 {
			t.Fatalf("an edit within the bound: answer %v, want Applied", code)
		}
	})
}

// TestDocumentSizeEstimateRemeasured: overwrites make the estimate run
// ahead of the real size; near the bound the room measures again instead
// of refusing an edit that fits.
func TestDocumentSizeEstimateRemeasured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := memory.New()
		base := buildDoc(t, 5)
		if _, err := base.Apply(crdt.NewClock("w").Now(time.Now().Add(-time.Hour).UnixMilli()), promptBlock("p", "start")); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Snapshot(context.Background(), "wf", base); err != nil {
			t.Fatal(err)
		}
		size := len(base.Encode())
		r := newRegistry(t, Config{MaxDocumentBytes: size + 4096}, store)
		a := member("a", "ra")
		rm, err := r.Join(context.Background(), "wf", a, JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c := &sizeClient{t: t, rm: rm, m: a, doc: base.Clone(), clock: crdt.NewClock("ra"), wall: time.Now().UnixMilli()}
		// Five overwrites of 1,500 bytes: the estimate grows by 7,500, the
		// document by about 1,500.
		for i := range 5 {
			op := "set-" + string(rune('a'+i))
			advance(docSizeRemeasure)
			c.submit(op, workflow.UpdateSubBlock{BlockID: "p", SubBlockID: "prompt", Value: strings.Repeat(string(rune('a'+i)), 1500)})
			if code := c.answer(op); code != 0 {
				t.Fatalf("overwrite %d: answer %v, want Applied (the document is %d bytes, the bound %d)", i, code, len(c.doc.Encode()), size+4096)
			}
		}
	})
}

// TestDocSizeMeasuredAtLoad: a loaded room knows the exact encoded size of
// its document from the load on, from the encoding of the base it keeps
// for reads of the whole document off the loop (capture.go), so neither a
// join nor an edit pays for the measure while the members wait.
func TestDocSizeMeasuredAtLoad(t *testing.T) {
	store := memory.New()
	want := buildDoc(t, 30)
	if _, err := store.Snapshot(context.Background(), "wf", want); err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, Config{MaxCatchUpChunk: 4096}, store)
	rm := newRoom(r, "wf")
	if !rm.load() {
		t.Fatal(rm.loadErr)
	}
	if size := len(rm.doc.Encode()); !rm.docSize.known || rm.docSize.measured != size || rm.docSize.since != 0 {
		t.Fatalf("size %+v after the load, want %d measured", rm.docSize, size)
	}
	got, err := decodeChunks(rm.base.chunks)
	if err != nil {
		t.Fatal(err)
	}
	if len(rm.base.chunks) < 2 || !got.Equal(want) {
		t.Fatalf("the base (%d chunks) is not the loaded document", len(rm.base.chunks))
	}
}
