package protocol

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

var update = flag.Bool("update", false, "rewrite testdata/hexdumps.golden and the files generated from the schema (TestGeneratedFiles)")

// TestProtocolDocHexDumps builds a Join and a Delta for a real document op,
// a Hello asking for acks and an Acks, and compares their hex dumps with the golden file that docs/PROTOCOL.md
// quotes. If the wire format changes, this fails; rerun with -update and
// paste the new dumps into the doc.
func TestProtocolDocHexDumps(t *testing.T) {
	doc := workflow.New()
	clock := crdt.NewClock("replica-a")
	if _, err := doc.Apply(clock.Now(1700000000000), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{
		ID: "b1", Type: "agent", Name: "Agent 1", Position: &workflow.Position{X: 100, Y: 200},
	}}}); err != nil {
		t.Fatal(err)
	}
	// The client rejoins with what it has: its context, as an encoded Doc
	// with an empty store.
	ctx := &workflow.Doc{}
	ctx.Context().Merge(doc.Context())
	join := &Join{WorkflowID: "wf-1", Context: ctx.Encode(), TabSessionID: "tab-1"}

	// Then it renames the block and sends the delta.
	delta, err := doc.Apply(clock.Now(1700000001000), workflow.UpdateName{ID: "b1", NewName: "Writer"})
	if err != nil {
		t.Fatal(err)
	}
	deltaFrame := &Delta{WorkflowID: "wf-1", OpID: "op-1", Delta: delta.Encode()}
	// A client that asked for acks (Hello.caps) hears of it, and of two
	// later edits, in one frame.
	hello := &Hello{ProtocolVersion: ProtocolVersion, Token: "t", ReplicaID: "replica-a", Caps: []string{CapabilityAcks}}
	acks := &Acks{Applied: []string{"op-2", "op-3"}, Durable: []string{"op-1", "op-2"}}

	var out bytes.Buffer
	for _, x := range []struct {
		name string
		f    Frame
	}{{"Join", join}, {"Delta", deltaFrame}, {"Hello", hello}, {"Acks", acks}} {
		b, err := Encode(x.f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(b, Limits{}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s frame (%d bytes):\n%s\n", x.name, len(b), hex.Dump(b))
	}
	// Check the carried bytes decode with the workflow codec.
	if _, err := workflow.Decode(join.Context, workflow.DeltaLimits); err != nil {
		t.Fatal(err)
	}
	if got, err := workflow.Decode(deltaFrame.Delta, workflow.DeltaLimits); err != nil || !got.Equal(delta) {
		t.Fatalf("delta does not round-trip: %v", err)
	}

	golden := filepath.Join("testdata", "hexdumps.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("hex dumps changed; rerun with -update and update docs/PROTOCOL.md:\n%s", out.Bytes())
	}
}
