package faults

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// forgery is one crafted delta: an entry under a dot the server already
// holds, with content the server does not hold under that dot.
type forgery struct {
	name string
	dot  crdt.Dot
	key  workflow.Key // where the forged entry goes
	held workflow.Key // where the server holds the dot
}

// dotOf returns the dot under which doc holds key (the winning value).
func dotOf(t *testing.T, doc *workflow.Doc, key workflow.Key) crdt.Dot {
	t.Helper()
	es := doc.Store().Get(key)
	if len(es) == 0 {
		t.Fatalf("no value for %v", key)
	}
	return es[crdt.Winner(es)].Dot
}

// carries reports whether delta holds dot under a key other than held, or
// under held with a value other than want.
func carries(delta *workflow.Doc, f forgery, want workflow.Value) (string, bool) {
	found := ""
	delta.Store().Range(func(k workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		for _, e := range es {
			if e.Dot != f.dot {
				continue
			}
			if k != f.held {
				found = fmt.Sprintf("%s under %v", f.dot, k)
			} else if !bytes.Equal(e.Value.Value, want) {
				found = fmt.Sprintf("%s under %v with value %q", f.dot, k, e.Value.Value)
			}
		}
		return found == ""
	})
	return found, found != ""
}

// Case 4: forged content accepted. A write-role session (mallory) sends
// deltas whose context covers dots the server holds and whose entries carry
// those dots with other content: alice's dot of (b2, name) with another
// name; that dot on another key; a server-authored dot (from a thin-client
// operation) with another value. Expected: no member and no joiner ever
// receives the forged content, and every replica ends equal to the server.
func TestCase4ForgedContent(t *testing.T) {
	d := SingleBolt(t)
	n := d.Nodes[0]
	const wf = "wf-case4"
	var mu sync.Mutex
	var relayed []string // forged content seen on carl's wire
	seen := map[string]bool{}
	var forgeries []forgery
	originals := map[crdt.Dot]workflow.Value{}
	inspect := func(_ uint64, dir Direction, f protocol.Frame) {
		var raw []byte
		switch f := f.(type) {
		case *protocol.RemoteDelta:
			raw = f.Delta
		case *protocol.CatchUp:
			raw = f.Delta
		default:
			return
		}
		delta, err := workflow.Decode(raw, workflow.DocLimits)
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, fg := range forgeries {
			if what, ok := carries(delta, fg, originals[fg.dot]); ok && !seen[what] {
				seen[what] = true
				relayed = append(relayed, fmt.Sprintf("the server sent carl %s, holding %v=%q under that dot", what, fg.held, originals[fg.dot]))
			}
		}
	}
	alice := NewEditor(t, EditorConfig{Name: "alice", Workflow: wf, Target: n.Addr})
	carl := NewEditor(t, EditorConfig{Name: "carl", Workflow: wf, Target: n.Addr, OnFrame: inspect})
	mustLive(t, 10*time.Second, alice, carl)
	alice.MustApply(t, addBlock("b2", 10, 10))
	mustLive(t, 10*time.Second, alice)

	mallory, err := DialRaw(n.URL(), "mallory", "mallory", wf)
	if err != nil {
		t.Fatal(err)
	}
	defer mallory.Close()
	// A thin-client operation: its dots are the server's own.
	if err := mallory.Send(&protocol.Operation{WorkflowID: wf, OpID: "op-srv", Name: "batch-add-blocks", Target: "blocks",
		Payload: map[string]any{"blocks": []any{map[string]any{"id": "srv", "type": "agent", "name": "srv", "position": map[string]any{"x": 1, "y": 1}}}}}); err != nil {
		t.Fatal(err)
	}
	if f, err := mallory.Answer("op-srv", 5*time.Second); err != nil {
		t.Fatal(err)
	} else if nk, ok := f.(*protocol.Nack); ok {
		t.Fatalf("the thin-client operation was refused: %v %s", nk.Code, nk.Message)
	}
	if err := alice.WaitSeen(5*time.Second, "srv"); err != nil {
		t.Fatal(err)
	}
	waitEqual(t, 5*time.Second, alice, carl)

	doc := alice.C.Doc()
	nameB2 := workflow.Key{Kind: workflow.KindBlockField, ID: "b2", Sub: "name"}
	nameSrv := workflow.Key{Kind: workflow.KindBlockField, ID: "srv", Sub: "name"}
	aliceDot, srvDot := dotOf(t, doc, nameB2), dotOf(t, doc, nameSrv)
	if !strings.HasPrefix(string(srvDot.Replica), "server-") {
		t.Fatalf("the operation's dot %s is not the server's", srvDot)
	}
	mu.Lock()
	forgeries = []forgery{
		{name: "alice's dot, other name", dot: aliceDot, key: nameB2, held: nameB2},
		{name: "alice's dot on another key", dot: aliceDot, key: workflow.Key{Kind: workflow.KindBlock, ID: "ghost"}, held: nameB2},
		{name: "server dot, other name", dot: srvDot, key: nameSrv, held: nameSrv},
	}
	originals[aliceDot] = doc.Store().Get(nameB2)[0].Value.Value
	originals[srvDot] = doc.Store().Get(nameSrv)[0].Value.Value
	mu.Unlock()

	// Joiners racing the forgeries, as users opening the workflow then.
	var joined []*workflow.Doc
	var jwg sync.WaitGroup
	var jmu sync.Mutex
	for range 5 {
		jwg.Add(1)
		go func() {
			defer jwg.Done()
			if d, err := ReadDoc(n.URL(), wf, 10*time.Second); err == nil {
				jmu.Lock()
				joined = append(joined, d)
				jmu.Unlock()
			}
		}()
	}
	answers := make([]string, len(forgeries))
	for i, fg := range forgeries {
		delta := &workflow.Doc{}
		delta.Context().Add(fg.dot)
		var v workflow.Value
		if fg.key.Kind != workflow.KindBlock {
			v = msgpackx.AppendString(nil, "forged-"+fg.key.ID)
		}
		delta.Store().Put(fg.key, fg.dot, workflow.Cell{Wall: time.Now().UnixMilli(), Value: v})
		op := fmt.Sprintf("forge-%d", i)
		if err := mallory.Send(&protocol.Delta{WorkflowID: wf, OpID: op, Delta: delta.Encode()}); err != nil {
			t.Fatal(err)
		}
		f, err := mallory.Answer(op, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		answers[i] = fmt.Sprintf("%s: %s", fg.name, f.Type())
		if nk, ok := f.(*protocol.Nack); ok {
			answers[i] += " " + nk.Code.String()
		}
	}
	jwg.Wait()
	t.Logf("the server answered: %s", strings.Join(answers, "; "))

	// A barrier, not a pause: the room handles mallory's frames in order and
	// relays to carl in order, so once carl has mallory's next (honest)
	// operation, any relay of the forgeries has reached him before it.
	if err := mallory.Send(&protocol.Operation{WorkflowID: wf, OpID: "op-barrier", Name: "batch-add-blocks", Target: "blocks",
		Payload: map[string]any{"blocks": []any{map[string]any{"id": "barrier", "type": "agent", "name": "barrier", "position": map[string]any{"x": 2, "y": 2}}}}}); err != nil {
		t.Fatal(err)
	}
	if err := carl.WaitSeen(5*time.Second, "barrier"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, r := range relayed {
		t.Errorf("forged content relayed: %s", r)
	}
	mu.Unlock()
	for i, j := range joined {
		for _, fg := range forgeries {
			if what, ok := carries(j, fg, originals[fg.dot]); ok {
				t.Errorf("joiner %d (of %d) kept forged content: %s", i+1, len(joined), what)
			}
		}
	}
	w := d.World([]*Editor{alice, carl})
	c := w.Verify(time.Now(), 10*time.Second)
	c.Scenario = "case4"
	c.Report(t)
}
