package session

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/flowsync/flowsync/sync/protocol"
)

// TestAppendAcksBounds: ids past a frame's bounds go out as several Acks
// frames, each within them, which list every id once in order, the
// applied ones before the durable ones.
func TestAppendAcksBounds(t *testing.T) {
	long := strings.Repeat("x", protocol.MaxIDBytes-8)
	for _, tc := range []struct {
		name             string
		applied, durable int
		idFormat         string
		wantFrames       int
	}{
		{"one", 1, 0, "op-%d", 1},
		{"both", 3, 5, "op-%d", 1},
		{"ids", maxAckIDs + 10, maxAckIDs, "op-%d", 3},
		{"bytes", 300, 0, long + "%04d", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := func(prefix string, n int) []string {
				out := make([]string, n)
				for i := range out {
					out[i] = prefix + fmt.Sprintf(tc.idFormat, i)
				}
				return out
			}
			applied, durable := ids("a", tc.applied), ids("d", tc.durable)
			frames := appendAcks(nil, applied, durable)
			if len(frames) != tc.wantFrames {
				t.Fatalf("%d frames, want %d", len(frames), tc.wantFrames)
			}
			var gotA, gotD []string
			for _, b := range frames {
				f, err := protocol.Decode(b, protocol.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				a := f.(*protocol.Acks)
				if n := len(a.Applied) + len(a.Durable); n == 0 || n > maxAckIDs {
					t.Fatalf("a frame of %d ids", n)
				}
				bytes := 0
				for _, id := range slices.Concat(a.Applied, a.Durable) {
					bytes += len(id)
				}
				if bytes > maxAckBytes {
					t.Fatalf("a frame of %d id bytes", bytes)
				}
				if len(a.Applied) > 0 && len(gotD) > 0 {
					t.Fatal("an applied id after a durable one")
				}
				gotA, gotD = append(gotA, a.Applied...), append(gotD, a.Durable...)
			}
			if !slices.Equal(gotA, applied) || !slices.Equal(gotD, durable) {
				t.Fatalf("ids changed on the way: %d/%d applied, %d/%d durable", len(gotA), len(applied), len(gotD), len(durable))
			}
		})
	}
}
