package cluster

import (
	"encoding/base32"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// BusVersion is the version of the bus messages, sent in every message's
// HeaderVersion. A node drops (and counts) messages of another version.
//
// History:
//   - 1: initial (kinds d, c, q, t, p; headers below). Kinds l and e were
//     added later without a version change: a node that does not know them
//     counts them as decode errors and goes on, and a presence entry sent
//     to an inbox (the answer to a request) is ignored by such a node.
const BusVersion = "1"

// Kind is what a bus message carries. Values are wire constants: the last
// subject token of a workflow's messages and the HeaderKind value.
type Kind string

const (
	// KindDelta ("d"): payload = one encoded workflow delta (workflow.Encode),
	// at most the connection's max payload. Published by Publish on the
	// workflow subject (live), or sent to a node's inbox as an
	// anti-entropy answer (repair).
	KindDelta Kind = "d"
	// KindDigest ("c"): payload = the sender's causal context, encoded as a
	// workflow document with an empty store. Published every anti-entropy
	// round for every hosted workflow.
	KindDigest Kind = "c"
	// KindRequest ("q"): payload as KindDigest; asks every receiver for
	// DeltaSince(payload), sent to the sender's inbox. Published on Host,
	// or sent to a peer's inbox whose digest showed dots this node lacks.
	KindRequest Kind = "q"
	// KindTombstone ("t"): empty payload; the workflow is deleted.
	KindTombstone Kind = "t"
	// KindPresence ("p"): payload = the sender's opaque presence entry for
	// the workflow (empty: the sender has none any more).
	KindPresence Kind = "p"
	// KindLock ("l"): payload = 1 byte locked (0 or 1) then the change's
	// time, Unix ms, 8 bytes big-endian. Published by PublishLock on the
	// workflow subject (every hosting node and one node per store group
	// hear it), or sent to a node's inbox as the answer to its request.
	KindLock Kind = "l"
	// KindEphemeral ("e"): payload = one or more encoded PresenceUpdate and
	// DragUpdate frames of the workflow, concatenated. Published by
	// PublishEphemeral at most EphemeralRate times per second per workflow
	// (latest wins per session); never stored, never answered.
	KindEphemeral Kind = "e"
)

// Message headers. Every message carries all four.
const (
	HeaderVersion  = "Flowsync-Bus"      // BusVersion
	HeaderKind     = "Flowsync-Kind"     // a Kind
	HeaderOrigin   = "Flowsync-Origin"   // token of the sending node's id
	HeaderWorkflow = "Flowsync-Workflow" // token of the workflow id
	// HeaderSent is the sender's clock at publish, in Unix microseconds:
	// cross-node lag for live deltas, ordering for presence.
	HeaderSent = "Flowsync-Sent"
)

// MaxIDLength bounds workflow and node ids, in bytes.
const MaxIDLength = 256

// tokenEncoding is base32hex in lowercase without padding: its alphabet is
// safe in a subject token and a header value.
var tokenEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// validateID checks a workflow or node id.
func validateID(id string) error {
	if id == "" || len(id) > MaxIDLength || !utf8.ValidString(id) {
		return fmt.Errorf("%w: %q", ErrInvalidID, truncate(id))
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %q has a control character", ErrInvalidID, truncate(id))
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// plainToken reports whether id can be a subject token as is.
func plainToken(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return id != ""
}

// Token returns the subject token of a valid id: the id itself when it is
// made of [A-Za-z0-9_-], else "~" followed by its lowercase base32hex. The
// two forms cannot collide ("~" is not in the first alphabet).
func Token(id string) (string, error) {
	if err := validateID(id); err != nil {
		return "", err
	}
	if plainToken(id) {
		return id, nil
	}
	return "~" + tokenEncoding.EncodeToString([]byte(id)), nil
}

// parseToken is the inverse of Token.
func parseToken(tok string) (string, error) {
	if rest, ok := strings.CutPrefix(tok, "~"); ok {
		b, err := tokenEncoding.DecodeString(rest)
		if err != nil {
			return "", fmt.Errorf("%w: bad token %q", ErrInvalidID, truncate(tok))
		}
		id := string(b)
		if err := validateID(id); err != nil {
			return "", err
		}
		if plainToken(id) {
			return "", fmt.Errorf("%w: non-canonical token %q", ErrInvalidID, truncate(tok))
		}
		return id, nil
	}
	if !plainToken(tok) || len(tok) > MaxIDLength {
		return "", fmt.Errorf("%w: bad token %q", ErrInvalidID, truncate(tok))
	}
	return tok, nil
}

// subjects builds the subjects of one node's prefix.
type subjects struct{ prefix string }

func (s subjects) workflow(tok string, k Kind) string {
	return s.prefix + ".wf." + tok + "." + string(k)
}
func (s subjects) workflowAll(tok string) string { return s.prefix + ".wf." + tok + ".*" }
func (s subjects) anyWorkflow(k Kind) string     { return s.prefix + ".wf.*." + string(k) }
func (s subjects) inbox(nodeTok string) string   { return s.prefix + ".node." + nodeTok }

// validPrefix reports whether p is one or more dot-separated tokens of
// [A-Za-z0-9_-].
func validPrefix(p string) bool {
	for _, t := range strings.Split(p, ".") {
		if !plainToken(t) {
			return false
		}
	}
	return true
}
