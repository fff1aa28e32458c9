package workflow

import (
	"math"

	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// Block field names (the Sub of a KindBlockField key). Each is its own
// last-writer-wins register, so concurrent edits to different fields of one
// block never conflict.
const (
	FieldType              = "type"
	FieldName              = "name"
	FieldPosition          = "position" // [x, y] as two float64
	FieldEnabled           = "enabled"
	FieldHorizontalHandles = "horizontalHandles"
	FieldIsWide            = "isWide"
	FieldAdvancedMode      = "advancedMode"
	FieldTriggerMode       = "triggerMode"
	FieldErrorEnabled      = "errorEnabled"
	FieldLocked            = "locked"
	FieldHeight            = "height"
	FieldParentID          = "parentId" // string; nil or absent = top level
	FieldExtent            = "extent"   // "parent" or nil
	FieldOutputs           = "outputs"
	FieldRetry             = "retry"
	// FieldDataPrefix prefixes one key of the block's free-form data map
	// ("data.width"); parentId, extent and canonicalModes have fields of their
	// own.
	FieldDataPrefix = "data."
	// FieldCanonicalPrefix prefixes one canonical-mode entry
	// ("canonicalMode.<canonicalId>" → "basic" | "advanced").
	FieldCanonicalPrefix = "canonicalMode."
)

// Variable field names (the Sub of a KindVariableField key).
const (
	VarFieldName  = "name"
	VarFieldType  = "type"
	VarFieldValue = "value"
)

// Edge is the value of a KindEdge entry: an edge's endpoints, fixed at add.
type Edge struct {
	ID           string `json:"id" msgpack:"-"`
	Source       string `json:"source" msgpack:"s"`
	SourceHandle string `json:"sourceHandle,omitempty" msgpack:"sh,omitempty"`
	Target       string `json:"target" msgpack:"t"`
	TargetHandle string `json:"targetHandle,omitempty" msgpack:"th,omitempty"`
	Type         string `json:"type,omitempty" msgpack:"ty,omitempty"`
}

// Position is a block's canvas position.
type Position struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

func boolValue(v bool) Value     { return msgpackx.AppendBool(nil, v) }
func stringValue(s string) Value { return msgpackx.AppendString(nil, s) }

// floatValue writes f canonically. A NaN or infinity is written as a plain
// float64 for Prepare to refuse (every delta's values are checked there).
func floatValue(f float64) Value {
	b, err := msgpackx.Canonical(f)
	if err != nil {
		return Value(msgpackx.AppendFloat(nil, f))
	}
	return Value(b)
}
func anyValue(v any) (Value, error) {
	if v == nil {
		return nil, nil
	}
	b, err := msgpackx.Canonical(v)
	return Value(b), err
}

func positionValue(p Position) Value {
	b := msgpackx.AppendArrayHeader(nil, 2)
	b = msgpackx.AppendFloat(b, p.X)
	return msgpackx.AppendFloat(b, p.Y)
}

func edgeValue(e Edge) Value {
	n := 2
	for _, s := range []string{e.SourceHandle, e.TargetHandle, e.Type} {
		if s != "" {
			n++
		}
	}
	b := msgpackx.AppendMapHeader(nil, n)
	b = msgpackx.AppendString(b, "s")
	b = msgpackx.AppendString(b, e.Source)
	if e.SourceHandle != "" {
		b = msgpackx.AppendString(b, "sh")
		b = msgpackx.AppendString(b, e.SourceHandle)
	}
	b = msgpackx.AppendString(b, "t")
	b = msgpackx.AppendString(b, e.Target)
	if e.TargetHandle != "" {
		b = msgpackx.AppendString(b, "th")
		b = msgpackx.AppendString(b, e.TargetHandle)
	}
	if e.Type != "" {
		b = msgpackx.AppendString(b, "ty")
		b = msgpackx.AppendString(b, e.Type)
	}
	return b
}

// The readers below decode the value shapes the operations write. A value of
// another shape (a raw delta may carry anything) reads as the zero value, the
// same way on every replica.

func (v Value) asBool(def bool) bool {
	if len(v) == 1 {
		switch v[0] {
		case 0xc2:
			return false
		case 0xc3:
			return true
		}
	}
	return def
}

func (v Value) asString() string {
	if len(v) == 0 {
		return ""
	}
	r := msgpackx.NewReader(v)
	s := r.StringBytes()
	if r.Err() != nil || !r.Done() {
		return ""
	}
	return string(s)
}

// stringOK returns v as a string and true when v is a msgpack string.
func (v Value) stringOK() (string, bool) {
	if len(v) == 0 {
		return "", false
	}
	r := msgpackx.NewReader(v)
	s := r.StringBytes()
	if r.Err() != nil || !r.Done() {
		return "", false
	}
	return string(s), true
}

func (v Value) asFloat() (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	r := msgpackx.NewReader(v)
	f := r.Float()
	if r.Err() != nil || !r.Done() || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func (v Value) asPosition() Position {
	r := msgpackx.NewReader(v)
	if r.ArrayHeader() != 2 {
		return Position{}
	}
	p := Position{X: r.Float(), Y: r.Float()}
	if r.Err() != nil || !r.Done() || math.IsNaN(p.X) || math.IsNaN(p.Y) {
		return Position{}
	}
	return p
}

func (v Value) asEdge() Edge {
	var e Edge
	r := msgpackx.NewReader(v)
	n := r.MapHeader()
	for i := 0; i < n && r.Err() == nil; i++ {
		k := string(r.StringBytes())
		switch k {
		case "s":
			e.Source = r.String()
		case "sh":
			e.SourceHandle = r.String()
		case "t":
			e.Target = r.String()
		case "th":
			e.TargetHandle = r.String()
		case "ty":
			e.Type = r.String()
		default:
			r.Skip()
		}
	}
	if r.Err() != nil || !r.Done() {
		return Edge{}
	}
	return e
}

// edgeBytes is asEdge without copies: the strings' bytes alias v, and ok
// is false where asEdge returns the empty edge.
func (v Value) edgeBytes() (s, sh, t, th, ty []byte, ok bool) {
	r := msgpackx.NewReader(v)
	n := r.MapHeader()
	for i := 0; i < n && r.Err() == nil; i++ {
		switch string(r.StringBytes()) {
		case "s":
			s = r.StringBytes()
		case "sh":
			sh = r.StringBytes()
		case "t":
			t = r.StringBytes()
		case "th":
			th = r.StringBytes()
		case "ty":
			ty = r.StringBytes()
		default:
			r.Skip()
		}
	}
	if r.Err() != nil || !r.Done() {
		return nil, nil, nil, nil, nil, false
	}
	return s, sh, t, th, ty, true
}

// Decode returns the value as JSON-shaped Go data (nil for an absent value).
func (v Value) Decode() (any, error) {
	if len(v) == 0 {
		return nil, nil
	}
	return msgpackx.Decode(v, msgpackx.ValueLimits)
}

// MarshalJSON renders the value as JSON, so views can hold raw values and pay
// for decoding only when rendered. An undecodable value renders as null.
func (v Value) MarshalJSON() ([]byte, error) {
	x, err := v.Decode()
	if err != nil {
		x = nil
	}
	return jsonMarshal(x)
}
