package protocol

import m "github.com/flowsync/flowsync/crdt/msgpackx"

// DragWorkflow returns the workflow id of an encoded Drag frame without
// decoding its positions. A Drag larger than MaxDragBytes is refused
// whatever it holds, and decoding up to a whole frame of positions only to
// refuse them would cost the server more than the frame cost its sender;
// a scan that allocates nothing but the id is enough to address the
// refusal. ok is false for anything that is not a Drag envelope whose body
// holds a string "wf": the full decoder then answers it.
func DragWorkflow(b []byte) (wf string, ok bool) {
	r := m.NewReader(b)
	if r.ArrayHeader() != 2 || r.Uint() != uint64(FrameDrag) || r.Err() != nil {
		return "", false
	}
	n := r.MapHeader()
	for i := 0; i < n && r.Err() == nil; i++ {
		if string(r.StringBytes()) == "wf" {
			wf, ok = r.String(), true
			continue
		}
		r.Skip()
	}
	if r.Err() != nil || !ok || len(wf) == 0 || len(wf) > MaxIDBytes {
		return "", false
	}
	return wf, true
}

// PeekType returns the frame type of an encoded frame from its envelope
// alone, without decoding the body: for code that routes or counts frames
// it did not build. ok is false for bytes that do not start a frame
// envelope.
func PeekType(b []byte) (t FrameType, ok bool) {
	r := m.NewReader(b)
	if r.ArrayHeader() != 2 {
		return 0, false
	}
	v := r.Uint()
	if r.Err() != nil || v > 0xff {
		return 0, false
	}
	return FrameType(v), true
}
