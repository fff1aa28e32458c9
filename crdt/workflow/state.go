package workflow

import (
	"strings"

	"github.com/flowsync/flowsync/crdt"
)

// reader is what operations and the view read the document through: a *Doc,
// or a *builder that overlays an operation's own writes on its document.
type reader interface {
	get(Key) Value
	has(Key) bool
	winner(Key) (crdt.Dotted[Cell], bool)
}

func blockKey(id string) Key                { return Key{KindBlock, id, ""} }
func fieldKey(id, field string) Key         { return Key{KindBlockField, id, field} }
func subBlockKey(id, sub string) Key        { return Key{KindSubBlock, id, sub} }
func subBlockTypeKey(id, sub string) Key    { return Key{KindSubBlockType, id, sub} }
func edgeKey(id string) Key                 { return Key{KindEdge, id, ""} }
func subflowKey(id, configKey string) Key   { return Key{KindSubflow, id, configKey} }
func variableKey(id string) Key             { return Key{KindVariable, id, ""} }
func variableFieldKey(id, field string) Key { return Key{KindVariableField, id, field} }

// Block types with rules of their own.
const (
	TypeLoop     = "loop"
	TypeParallel = "parallel"
	TypeNote     = "note"
	TypeStarter  = "starter"
)

// IsContainer reports whether blocks of type t hold child blocks.
func IsContainer(t string) bool { return t == TypeLoop || t == TypeParallel }

// isContainerValue is IsContainer of a type field's value, read without
// a copy.
func isContainerValue(v Value) bool {
	t := v.stringBytes()
	return string(t) == TypeLoop || string(t) == TypeParallel
}

func blockExists(r reader, id string) bool { return r.has(blockKey(id)) }
func blockType(r reader, id string) string { return r.get(fieldKey(id, FieldType)).asString() }
func isLocked(r reader, id string) bool    { return r.get(fieldKey(id, FieldLocked)).asBool(false) }

// protected reports whether a block is locked or sits under a locked
// effective ancestor (see tree.go): the containers the view shows it in.
func protected(r reader, id string) bool { return treeOf(r).protected(r, id) }

// NormalizeName is the form block names are compared in: lower-cased, with
// whitespace and dots removed.
func NormalizeName(name string) string {
	clean := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 0x80 || c == '.' || c == ' ' || (c >= '\t' && c <= '\r') || (c >= 'A' && c <= 'Z') {
			clean = false
			break
		}
	}
	if clean {
		return name // the common case costs no allocation
	}
	if ascii := asciiNormal(name); ascii != "" || name == "" {
		return ascii
	}
	var sb strings.Builder
	for _, r := range strings.ToLower(name) {
		if r == '.' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v' || r == '\u00a0' {
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// appendNormalName appends NormalizeName(name) to buf: without an
// allocation when name is ASCII, so that a pass over every block's name
// (the view's check for shared names) allocates nothing per block.
func appendNormalName(buf []byte, name string) []byte {
	start := len(buf)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 0x80:
			return append(buf[:start], NormalizeName(name)...)
		case c == '.' || c == ' ' || (c >= '\t' && c <= '\r'):
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// asciiNormal is NormalizeName for an ASCII name, in one allocation; it
// returns "" for a name with other bytes, or one that normalizes to "".
func asciiNormal(name string) string {
	var sb strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 0x80:
			return ""
		case c == '.' || c == ' ' || (c >= '\t' && c <= '\r'):
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		if sb.Len() == 0 {
			sb.Grow(len(name) - i)
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// reservedNames may not be used as block names (normalized).
var reservedNames = map[string]bool{"loop": true, "parallel": true, "variable": true}

// IsReservedName reports whether a normalized name is reserved.
func IsReservedName(normalized string) bool { return reservedNames[normalized] }

// CanonicalHandle maps the legacy side-anchored handle ids to their modern
// form and empty handles to "".
func CanonicalHandle(h string) string {
	switch h {
	case "source-top", "source-right", "source-bottom", "source-left":
		return "source"
	case "target-top", "target-right", "target-bottom", "target-left":
		return "target"
	}
	return h
}
