package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// sampleFrames returns every frame type with every field set, plus minimal
// variants (only required keys), named for test output. The fuzz corpus is
// seeded from it.
func sampleFrames() []struct {
	name string
	f    Frame
} {
	cur := &Point{X: 120.5, Y: -40}
	entry := RosterEntry{
		SessionID: "s-1", TabSessionID: "tab-9", UserID: "u-1", Name: "Ada", Avatar: "https://a.example/ada.png",
		Role: RoleWrite, JoinedAtMs: 1700000000000, LastActivityMs: 1700000001000, Cursor: cur,
		Selection: Selection{Type: SelectBlock, ID: "b-1"},
	}
	minimalEntry := RosterEntry{SessionID: "s-2", UserID: "u-2", Role: RoleRead, JoinedAtMs: 1, LastActivityMs: 2}
	return []struct {
		name string
		f    Frame
	}{
		{"hello", &Hello{ProtocolVersion: ProtocolVersion, Token: "tok.en.sig", ReplicaID: "replica-a", ClientName: "flowsync-js", ClientVersion: "1.0.0"}},
		{"hello/thin", &Hello{ProtocolVersion: 1}},
		{"hello/caps", &Hello{ProtocolVersion: 1, Token: "t", ReplicaID: "replica-a", Caps: []string{CapabilityAcks, "later"}}},
		{"welcome", &Welcome{ProtocolVersion: 1, SessionID: "s-1", User: User{ID: "u-1", Name: "Ada", Avatar: "https://a.example/ada.png"},
			ServerVersion: "flowsync 0.1.0", Limits: ServerLimits{MaxFrameBytes: 1 << 20, MaxDeltaBytes: 1 << 20, MaxOpsPerSecond: 50, OpsBurst: 200, MaxClockSkewMs: 300000},
			ServerTimeMs: 1700000000000}},
		{"welcome/caps", &Welcome{ProtocolVersion: 1, SessionID: "s", User: User{ID: "u"}, ServerTimeMs: 1, Caps: []string{CapabilityAcks}}},
		{"welcome/minimal", &Welcome{ProtocolVersion: 1, SessionID: "s", User: User{ID: "u"}, ServerTimeMs: -1}},
		{"join", &Join{WorkflowID: "wf-1", Context: []byte{1, 0x93, 0x90, 0x90, 0x90}, TabSessionID: "tab-9"}},
		{"join/empty", &Join{WorkflowID: "wf-1"}},
		{"joined", &Joined{WorkflowID: "wf-1", Role: RoleAdmin, Context: []byte{1, 0x93, 0x90, 0x90, 0x90}, Roster: []RosterEntry{entry, minimalEntry}, CatchUpChunks: 3}},
		{"joined/alone", &Joined{WorkflowID: "wf-1", Role: RoleRead, Context: []byte{1}, Roster: []RosterEntry{}, CatchUpChunks: 0}},
		{"catchup", &CatchUp{WorkflowID: "wf-1", Seq: 2, Last: true, Delta: bytes.Repeat([]byte{7}, 300)}},
		{"catchup/receipt", &CatchUp{WorkflowID: "wf-1", Seq: 0, Delta: []byte{1, 2}, Receipt: Receipt{KeyID: "k1", MAC: bytes.Repeat([]byte{0xab}, 16)}}},
		{"joined/epoch", &Joined{WorkflowID: "wf-1", Role: RoleWrite, Context: []byte{1}, Roster: []RosterEntry{}, Epoch: "3f2a9c", Seq: 41, Stable: 39}},
		{"vouch", &Vouch{WorkflowID: "wf-1", OpID: "v-1", Delta: []byte{1, 2, 3}, Receipt: Receipt{KeyID: "k1", MAC: bytes.Repeat([]byte{1}, 16)}}},
		{"stable", &Stable{WorkflowID: "wf-1", Epoch: "3f2a9c", Seq: 42}},
		{"leave", &Leave{WorkflowID: "wf-1"}},
		{"delta", &Delta{WorkflowID: "wf-1", OpID: "op-1", Delta: []byte{1, 2, 3}}},
		{"operation", &Operation{WorkflowID: "wf-1", OpID: "op-2", Name: "update-name", Target: "block",
			Payload: map[string]any{"id": "b-1", "name": "Agent 2", "n": int64(5), "w": int64(300), "neg": int64(-3), "f": 1.5, "big": uint64(1) << 63,
				"list": []any{nil, true, "x", map[string]any{"k": []byte{1}}}}}},
		{"operation/empty-payload", &Operation{WorkflowID: "w", OpID: "o", Name: "n", Target: "t", Payload: map[string]any{}}},
		{"applied", &Applied{OpID: "op-1"}},
		{"durable", &Durable{OpIDs: []string{"op-1", "op-2", "op-3"}}},
		{"acks", &Acks{Applied: []string{"op-4", "op-5"}, Durable: []string{"op-1", "op-2", "op-3"}}},
		{"acks/applied", &Acks{Applied: []string{"op-1"}}},
		{"acks/durable", &Acks{Durable: []string{"op-1"}}},
		{"nack", &Nack{OpID: "op-1", Code: CodeBlockLocked, Message: "block b-1 is locked", Retryable: false}},
		{"nack/retry", &Nack{OpID: "op-1", Code: CodeOverloaded, Retryable: true}},
		{"remotedelta", &RemoteDelta{WorkflowID: "wf-1", Delta: []byte{1, 2, 3, 4}, Origin: Origin{UserID: "u-2", ReplicaID: "replica-b", SessionID: "s-2"}}},
		{"remotedelta/thin", &RemoteDelta{WorkflowID: "wf-1", Delta: []byte{1}, Origin: Origin{UserID: "u-2", SessionID: "s-2"}}},
		{"presence", &Presence{WorkflowID: "wf-1", Cursor: cur, Selection: Selection{Type: SelectEdge, ID: "e-1"}}},
		{"presence/away", &Presence{WorkflowID: "wf-1"}},
		{"presence/none", &Presence{WorkflowID: "wf-1", Selection: Selection{Type: SelectNone}}},
		{"presenceupdate", &PresenceUpdate{WorkflowID: "wf-1", SessionID: "s-1", UserID: "u-1", Name: "Ada", Avatar: "a.png", Cursor: cur, Selection: Selection{Type: SelectBlock, ID: "b-2"}}},
		{"roster", &Roster{WorkflowID: "wf-1", Entries: []RosterEntry{entry, minimalEntry}}},
		{"drag", &Drag{WorkflowID: "wf-1", Positions: map[string]Point{"b-1": {1, 2}, "b-2": {-3.25, 4e9}}}},
		{"dragupdate", &DragUpdate{WorkflowID: "wf-1", SessionID: "s-1", UserID: "u-1", Positions: map[string]Point{"b-1": {0, 0}}}},
		{"event", &Event{WorkflowID: "wf-1", Kind: EventWorkflowReverted, Message: "Workflow has been reverted to deployed state", TimestampMs: 1700000000000}},
		{"event/deployed", &Event{WorkflowID: "wf-1", Kind: EventWorkflowDeployed, TimestampMs: 1}},
		{"error", &Error{Code: CodeAccessDenied, Message: "no access", Retryable: false, WorkflowID: "wf-1"}},
		{"error/minimal", &Error{Code: CodeInternal, Retryable: true}},
	}
}

func TestRoundTripEveryFrame(t *testing.T) {
	covered := map[FrameType]bool{}
	for _, tc := range sampleFrames() {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.f)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(b, Limits{})
			if err != nil {
				t.Fatalf("Decode: %v\n% x", err, b)
			}
			if !reflect.DeepEqual(got, tc.f) {
				t.Fatalf("round trip:\n got %#v\nwant %#v", got, tc.f)
			}
			again, err := Encode(got)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("re-encode differs (%v):\n% x\n% x", err, again, b)
			}
			if ab := AppendFrame([]byte{0xff}, tc.f); !bytes.Equal(ab[1:], b) || ab[0] != 0xff {
				t.Fatal("AppendFrame does not append the same bytes as Encode")
			}
		})
		covered[tc.f.Type()] = true
		if tc.f.Type().FromClient() == tc.f.Type().FromServer() {
			t.Errorf("%v: direction ranges overlap", tc.f.Type())
		}
	}
	for ft := range frameTypeNames {
		if !covered[ft] {
			t.Errorf("frame type %v has no round-trip sample", ft)
		}
		if newFrame(ft) == nil || newFrame(ft).Type() != ft {
			t.Errorf("newFrame(%v) is wrong", ft)
		}
	}
}

func TestEncodeRefusesInvalidFrames(t *testing.T) {
	long := string(bytes.Repeat([]byte{'a'}, MaxIDBytes+1))
	nan := Point{X: 1, Y: nanValue()}
	for name, f := range map[string]Frame{
		"empty workflow id":    &Join{},
		"id too long":          &Leave{WorkflowID: long},
		"invalid utf8 id":      &Applied{OpID: "\xff"},
		"empty delta":          &Delta{WorkflowID: "w", OpID: "o"},
		"zero version":         &Hello{Token: "t"},
		"unknown role":         &Joined{WorkflowID: "w", Role: "owner", Context: []byte{1}},
		"nan cursor":           &Presence{WorkflowID: "w", Cursor: &nan},
		"nan drag":             &Drag{WorkflowID: "w", Positions: map[string]Point{"b": nan}},
		"selection no id":      &Presence{WorkflowID: "w", Selection: Selection{Type: SelectBlock}},
		"selection bad type":   &Presence{WorkflowID: "w", Selection: Selection{Type: "lasso", ID: "x"}},
		"zero code":            &Nack{OpID: "o"},
		"empty durable":        &Durable{},
		"nil payload":          &Operation{WorkflowID: "w", OpID: "o", Name: "n", Target: "t"},
		"roster entry no user": &Roster{WorkflowID: "w", Entries: []RosterEntry{{SessionID: "s", Role: RoleRead}}},
	} {
		if _, err := Encode(f); !errors.Is(err, ErrInvalidValue) || !errors.Is(err, ErrInvalidFrame) {
			t.Errorf("%s: Encode error = %v, want ErrInvalidValue", name, err)
		}
	}
	if _, err := Encode(&Operation{WorkflowID: "w", OpID: "o", Name: "n", Target: "t", Payload: map[string]any{"c": make(chan int)}}); err == nil {
		t.Error("Encode accepted a payload that is not JSON-shaped")
	}
}
