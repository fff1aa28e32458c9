package protocol

import (
	"bytes"
	"testing"
)

// A 2 KiB delta is a typical burst of edits (a block add with its fields is
// about 300 bytes; a pasted sub-block value a few KiB).
var benchDelta = bytes.Repeat([]byte{0xa5}, 2048)

func BenchmarkEncodeDelta(b *testing.B) {
	f := &Delta{WorkflowID: "wf-5f0c2b1e", OpID: "op-000123", Delta: benchDelta}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDelta)))
	for b.Loop() {
		buf = AppendFrame(buf[:0], f)
	}
}

func BenchmarkDecodeDelta(b *testing.B) {
	in, _ := Encode(&Delta{WorkflowID: "wf-5f0c2b1e", OpID: "op-000123", Delta: benchDelta})
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Decode(in, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// The server encodes one RemoteDelta per broadcast and hands the bytes to
// every member: this is the per-broadcast encode cost.
func BenchmarkEncodeRemoteDelta(b *testing.B) {
	f := &RemoteDelta{WorkflowID: "wf-5f0c2b1e", Delta: benchDelta,
		Origin: Origin{UserID: "user-8d1e", ReplicaID: "replica-a", SessionID: "sess-77"}}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDelta)))
	for b.Loop() {
		buf = AppendFrame(buf[:0], f)
	}
}

func BenchmarkEncodeRemoteDeltaFresh(b *testing.B) {
	f := &RemoteDelta{WorkflowID: "wf-5f0c2b1e", Delta: benchDelta,
		Origin: Origin{UserID: "user-8d1e", ReplicaID: "replica-a", SessionID: "sess-77"}}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDelta)))
	for b.Loop() {
		if _, err := Encode(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRemoteDelta(b *testing.B) {
	in, _ := Encode(&RemoteDelta{WorkflowID: "wf-5f0c2b1e", Delta: benchDelta,
		Origin: Origin{UserID: "user-8d1e", ReplicaID: "replica-a", SessionID: "sess-77"}})
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Decode(in, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// Presence is the most frequent client frame (about 30 per second per
// pointer on the canvas), and the server relays each as a PresenceUpdate.
func BenchmarkDecodePresence(b *testing.B) {
	in, _ := Encode(&Presence{WorkflowID: "wf-5f0c2b1e", Cursor: &Point{X: 120.5, Y: -40},
		Selection: Selection{Type: SelectBlock, ID: "block-3"}})
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := Decode(in, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePresenceUpdate(b *testing.B) {
	f := &PresenceUpdate{WorkflowID: "wf-5f0c2b1e", SessionID: "sess-77", UserID: "user-8d1e", Name: "Ada",
		Cursor: &Point{X: 120.5, Y: -40}, Selection: Selection{Type: SelectBlock, ID: "block-3"}}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendFrame(buf[:0], f)
	}
}
