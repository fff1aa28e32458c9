package rooms

import (
	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Change is an edit a member asks a room to merge.
type Change struct {
	WorkflowID string
	Member     Identity
	// Conn is the member's connection id (its session id), for logs;
	// empty for a change the application made through Registry.Apply.
	Conn string
	// Delta is the delta to merge: the client's (Delta frame) or the one
	// the server prepared (Operation frame). Admission must not change it.
	Delta *workflow.Doc
	// Op is the thin-client operation Delta was prepared from; nil for a
	// Delta frame and for an undo.
	Op workflow.Op
	// Undo is "undo" or "redo" when Delta is the inverse the server
	// prepared for a thin client's undo or redo Operation (Op is nil: the
	// delta is checked like a raw one, locks included).
	Undo string
}

// Admission decides whether a change may be merged into doc, the room's
// current document, which it must not change. It runs in the room loop, so
// it must be quick and must not block. It returns nil to admit, or an error
// that protocol.CodeFor maps to the Nack code (a *protocol.Error, or a
// workflow sentinel such as workflow.ErrLocked).
type Admission func(doc *workflow.Doc, c *Change) error

// admit runs the built-in checks every change passes, in order:
//  1. the member's role allows writing (read: PERMISSION_DENIED);
//  2. replica binding, for client deltas: the session has a replica id
//     (Hello.rid) that is not the server's own (FORGED_DOT). Which of the
//     delta's dots the room takes is Doc.Vet's decision, after admit: the
//     session's own dots, and dots the room has seen; dots of other
//     replicas the room has not seen are left out, not refused, because an
//     honest client names them whenever it overwrote an edit the room lost.
//  3. no entry's HLC wall time leads the server clock by more than
//     maxSkewMs (CLOCK_SKEW).
//
// It returns the greatest timestamp among the delta's entries, which the
// room's clock observes once the change is merged.
func admit(doc *workflow.Doc, c *Change, server crdt.ReplicaID, nowMs, maxSkewMs int64) (crdt.Timestamp, error) {
	if c.Member.Role != protocol.RoleWrite && c.Member.Role != protocol.RoleAdmin {
		return crdt.Timestamp{}, protocol.NewError(protocol.CodePermissionDenied, "role %q may not edit", c.Member.Role)
	}
	if c.Op == nil && c.Undo == "" {
		switch own := c.Member.ReplicaID; own {
		case server:
			return crdt.Timestamp{}, protocol.NewError(protocol.CodeForgedDot, "replica id is reserved by the server")
		case "":
			return crdt.Timestamp{}, protocol.NewError(protocol.CodeForgedDot, "session has no replica id (Hello.rid); send operations instead")
		}
	}
	var latest crdt.Timestamp
	skewed := false
	c.Delta.Store().Range(func(_ workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		for _, e := range es {
			if e.Value.Wall-nowMs > maxSkewMs {
				skewed = true
				return false
			}
			if ts := e.Value.Stamp(e.Dot); ts.Compare(latest) > 0 {
				latest = ts
			}
		}
		return true
	})
	if skewed {
		return crdt.Timestamp{}, protocol.NewError(protocol.CodeClockSkew, "HLC wall time leads the server clock by more than %d ms", maxSkewMs)
	}
	return latest, nil
}

// checkLag refuses a delta with an entry whose HLC wall time trails the
// server clock by more than maxLagMs (CLOCK_SKEW; maxLagMs < 0: no bound).
// It runs on what Doc.Vet kept, the entries the room has not seen, so an
// old edit re-sent after its ack was lost is acknowledged, not refused.
func checkLag(delta *workflow.Doc, nowMs, maxLagMs int64) error {
	if maxLagMs < 0 {
		return nil
	}
	lagging := false
	delta.Store().Range(func(_ workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		for _, e := range es {
			if nowMs-e.Value.Wall > maxLagMs {
				lagging = true
				return false
			}
		}
		return true
	})
	if lagging {
		return protocol.NewError(protocol.CodeClockSkew, "HLC wall time trails the server clock by more than %d ms", maxLagMs)
	}
	return nil
}
