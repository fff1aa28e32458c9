// Package protocol is flowsync's wire format: the msgpack frames a client and
// the server exchange over a websocket, one frame per binary message. It
// defines every frame as a Go struct, the frame-type values, the protocol
// version, the typed error codes (with their retryable flags) and the
// websocket close codes, and it encodes and decodes frames.
//
// Decoding is the server's first contact with untrusted bytes, so Decode
// proves the whole input well formed and within Limits (msgpackx.Check) before
// it reads a single field: a declared length larger than the bytes left is an
// error, never an allocation, and nesting is capped.
//
// What this package must never do: touch a socket, a clock, a goroutine or a
// logger (the session does I/O; the caller passes time in as plain numbers),
// or interpret the documents, deltas and causal contexts it carries. Those
// travel as opaque bytes in the workflow encoding and are decoded by the
// caller with workflow.Decode and workflow.DeltaLimits; re-encoding them here
// would cost a copy and risk two encodings of one state.
//
// Every frame body and nested map is declared once, as a table in schema.go
// (keys, types, bounds, meanings), which the encoder, the decoder and the
// validator interpret. The same tables generate the tables of
// docs/PROTOCOL.md and the TypeScript SDK's schema module
// (clients/js/src/protocol/schema.ts); TestGeneratedFiles fails when those
// are stale:
//
//	go test ./sync/protocol -run TestGeneratedFiles -update
//
// The format is documented for client authors in docs/PROTOCOL.md; a change
// here is a change there, and a breaking change bumps ProtocolVersion.
package protocol

// ProtocolVersion is the version a client announces in Hello and the server
// echoes in Welcome. A server refuses a version it does not speak with
// CodeUnsupportedProtocolVersion and closes with CloseUnsupportedProtocol.
// Adding a frame type, an optional key or an error code does not bump it:
// peers ignore unknown keys, and unknown codes carry their own retryable flag.
// Removing or retyping a key, or changing a frame's meaning, does.
//
// The Hello frame's envelope and its "v" key never change, so that any
// version can be refused cleanly.
//
// History:
//   - 1: initial protocol (hello/welcome, join/joined/catch-up, delta and
//     operation with applied/durable/nack acks, presence, drag, roster,
//     lifecycle events, errors).
const ProtocolVersion = 1

// Limits bounds what Decode accepts. A zero field means its default.
type Limits struct {
	// MaxFrameBytes caps the encoded size of one frame. The session's
	// websocket read limit should be the same number, so that an oversized
	// message is refused before it is read. Default: 1 MiB.
	MaxFrameBytes int
	// MaxDepth caps the nesting of arrays and maps in a frame, counting the
	// envelope: an Operation payload gets what the frame layout leaves.
	// Default: 32.
	MaxDepth int
}

// Default limits; see Limits.
const (
	DefaultMaxFrameBytes = 1 << 20
	DefaultMaxDepth      = 32
)

// Bounds on string fields. Ids are short by design (they appear in presence
// rosters and logs); free text is bounded so that no single field can take a
// frame's whole budget unnoticed.
const (
	// MaxIDBytes bounds every id: workflow, operation, session, user,
	// replica, tab session, block ids in Drag.
	MaxIDBytes = 256
	// MaxTextBytes bounds names, avatar URLs, messages, client name/version.
	MaxTextBytes = 4096
	// MaxTokenBytes bounds the Hello token (JWTs with many claims get long).
	MaxTokenBytes = 16 << 10
)

// Bounds on a Drag frame, which the server relays to every member of the
// room: a frame over either is refused with TOO_LARGE and not relayed.
// Dragging more blocks at once than MaxDragBlocks is not a canvas gesture.
const (
	// MaxDragBlocks bounds the block ids of one Drag (and of a DragUpdate).
	MaxDragBlocks = 1024
	// MaxDragBytes bounds the encoded Drag frame.
	MaxDragBytes = 128 << 10
)

func (l Limits) withDefaults() Limits {
	if l.MaxFrameBytes <= 0 {
		l.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Element caps, per frame, checked before any field is decoded: they bound
// what a frame can make the decoder allocate (at most about 8x its size),
// since a one-byte msgpack element becomes a 16-byte Go value or more.
const (
	MaxArrayElements = 131072 // summed over every array in the frame
	MaxMapPairs      = 65536  // summed over every map in the frame
	// MaxContainers caps the arrays and maps in a frame: an empty map costs
	// one byte on the wire and about 64 bytes decoded (Operation payloads
	// decode to map[string]any), so this is what keeps a 1 MiB frame under
	// 8 MiB of allocation.
	MaxContainers = 32768
	// maxStructKeys caps the keys of a map that decodes into a struct (the
	// body, user, limits, cursor...): it keeps the duplicate-key check
	// quadratic in a small number.
	maxStructKeys = 64
)
