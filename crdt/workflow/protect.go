package workflow

// Protected reports whether block id is protected in doc: locked, or under
// a locked ancestor container, the rule of the system flowsync replaces.
// Operations skip or
// refuse protected blocks on their own; the server uses this to check raw
// deltas, which carry no operation, against the same rule. An unknown
// block is not protected.
func Protected(doc *Doc, id string) bool { return protected(doc, id) }

// Parent returns block id's effective parent in doc, the container the view
// shows it in ("" at the top level): the stored parentId unless the orphan
// or the move-cycle rule applies (see docs/ARCHITECTURE.md). Walking Parent
// up from any block ends at the top level; there is no depth cap.
func Parent(doc *Doc, id string) string { return effectiveParent(doc, id) }

// Locked reports whether block id's own locked field is set in doc
// (ignoring its ancestors).
func Locked(doc *Doc, id string) bool { return isLocked(doc, id) }

// EdgeOf decodes the value of a KindEdge entry: the edge's endpoints. A
// value of another shape (a raw delta may carry anything) gives the zero
// Edge, as on every replica.
func EdgeOf(v Value) Edge { return v.asEdge() }

// BoolOf decodes a boolean field value; def for an absent value or one of
// another shape, as the view reads it.
func BoolOf(v Value, def bool) bool { return v.asBool(def) }

// StringOf decodes a string field value (parentId, say); "" for an absent
// value or one of another shape.
func StringOf(v Value) string { return v.asString() }
