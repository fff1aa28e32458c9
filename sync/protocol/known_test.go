package protocol

import "testing"

// Known is true for the defined frame types only, not for every value of
// the two direction ranges.
func TestFrameTypeKnown(t *testing.T) {
	known := 0
	for v := range 256 {
		ft := FrameType(v)
		if ft.Known() {
			known++
			if !ft.FromClient() && !ft.FromServer() {
				t.Errorf("%v is known but in neither direction's range", ft)
			}
		}
	}
	if known != len(frameTypeNames) {
		t.Fatalf("%d known types, %d named", known, len(frameTypeNames))
	}
	for _, ft := range []FrameType{FrameHello, FrameVouch, FrameWelcome, FrameStable, FrameAcks} {
		if !ft.Known() {
			t.Errorf("%v not known", ft)
		}
	}
	for _, ft := range []FrameType{0, 0x09, 0x3f, 0x4e, 0x7f, 0x80} {
		if ft.Known() {
			t.Errorf("%v known", ft)
		}
	}
}
