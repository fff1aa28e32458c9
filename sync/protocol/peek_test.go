package protocol

import (
	"fmt"
	"testing"
)

func TestDragWorkflow(t *testing.T) {
	pos := make(map[string]Point, 3000)
	for i := range 3000 {
		pos[fmt.Sprintf("block-%d", i)] = Point{X: float64(i), Y: 2}
	}
	big, err := Encode(&Drag{WorkflowID: "wf-1", Positions: pos})
	if err != nil {
		t.Fatal(err)
	}
	if wf, ok := DragWorkflow(big); !ok || wf != "wf-1" {
		t.Fatalf("DragWorkflow = %q, %v; want wf-1", wf, ok)
	}
	presence, err := Encode(&Presence{WorkflowID: "wf-1"})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"not a Drag":       presence,
		"truncated":        big[:len(big)/2],
		"empty":            nil,
		"no wf":            {0x92, 0x07, 0x81, 0xa3, 'p', 'o', 's', 0x80},
		"wf not a string":  {0x92, 0x07, 0x81, 0xa2, 'w', 'f', 0x01},
		"wf empty":         {0x92, 0x07, 0x81, 0xa2, 'w', 'f', 0xa0},
		"body not a map":   {0x92, 0x07, 0x90},
		"envelope of one":  {0x91, 0x07},
		"type not a uint":  {0x92, 0xa1, 'x', 0x80},
		"key not a string": {0x92, 0x07, 0x81, 0x01, 0xa1, 'x'},
	} {
		if wf, ok := DragWorkflow(b); ok {
			t.Errorf("%s: DragWorkflow = %q, true; want false", name, wf)
		}
	}
}

func TestPeekType(t *testing.T) {
	for _, f := range []Frame{&Applied{OpID: "op-1"}, &Nack{OpID: "op-2", Code: CodeTooLarge}, &Durable{OpIDs: []string{"a"}}} {
		if got, ok := PeekType(AppendFrame(nil, f)); !ok || got != f.Type() {
			t.Errorf("PeekType(%s) = %v, %v", f.Type(), got, ok)
		}
	}
	for name, b := range map[string][]byte{
		"empty":           nil,
		"envelope of one": {0x91, 0x43},
		"type not a uint": {0x92, 0xa1, 'x', 0x80},
		"type too large":  {0x92, 0xcd, 0x01, 0x00, 0x80},
		"not an array":    {0x80},
	} {
		if got, ok := PeekType(b); ok {
			t.Errorf("%s: PeekType = %v, true; want false", name, got)
		}
	}
}
