package protocol

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// validate checks f against the bounds of its schema: the rules that Encode
// and Decode share, so that whatever one accepts the other does.
func validate(f Frame) error {
	return frameByType[f.Type()].body.check(f.ptr(), "")
}

// fieldErr reports an invalid value: the key is named, the value is not (it
// may be hostile or private).
func fieldErr(key, why string) error {
	return &decodeError{kind: ErrInvalidValue, detail: fmt.Sprintf("%q %s", key, why)}
}

// check validates the record at p. prefix names its keys in errors, as in
// decoder.record; names are built only for an error, so that validating a
// valid frame allocates nothing.
func (r *record) check(p unsafe.Pointer, prefix string) error {
	for i := range r.fields {
		f := &r.fields[i]
		if err := f.check(unsafe.Add(p, f.off), prefix); err != nil {
			return err
		}
	}
	return nil
}

// check validates the value of the field at p, named prefix+f.key.
func (f *field) check(p unsafe.Pointer, prefix string) error {
	switch f.kind {
	case kindStr:
		s := *(*string)(p)
		if why := f.strFault(s); why != "" {
			if f.overCode != 0 && len(s) > f.max {
				return &decodeError{kind: ErrInvalidValue, detail: fmt.Sprintf("%q %s", prefix+f.key, why),
					cause: NewError(f.overCode, "%q is over %d bytes", prefix+f.key, f.max)}
			}
			return fieldErr(prefix+f.key, why)
		}
	case kindUint:
		if f.rule == ruleNonZero && *(*uint64)(p) == 0 {
			return fieldErr(prefix+f.key, "is zero")
		}
	case kindCode:
		if f.rule == ruleNonZero && *(*Code)(p) == 0 {
			return fieldErr(prefix+f.key, "is zero")
		}
	case kindBin:
		if f.rule == ruleNonEmpty && len(*(*[]byte)(p)) == 0 {
			return fieldErr(prefix+f.key, "is empty")
		}
	case kindRecord:
		if !f.req && f.rec.isZero(p) {
			return nil // absent
		}
		if err := f.rec.checkRule(p, prefix, f.key); err != nil {
			return err
		}
		return f.rec.check(p, f.prefix)
	case kindRecordOrNil:
		if q := *(*unsafe.Pointer)(p); q != nil {
			return f.rec.checkElem(q, prefix, f.key)
		}
	case kindList:
		first, n := f.seq.view(p)
		if f.rule == ruleNonEmpty && n == 0 {
			return fieldErr(prefix+f.key, "is empty")
		}
		for i := range n {
			q := unsafe.Add(first, uintptr(i)*f.seq.size)
			var err error
			if f.elem.kind == kindRecord {
				err = f.elem.rec.checkElem(q, prefix, f.key)
			} else if why := f.elem.strFault(*(*string)(q)); why != "" {
				err = fieldErr(prefix+f.key, why)
			}
			if err != nil {
				return err
			}
		}
	case kindDict:
		return f.dict.each(p, func(k string, v unsafe.Pointer) error {
			if why := idFault(k, true); why != "" {
				return fieldErr(prefix+f.key, why)
			}
			return f.rec.checkElem(v, prefix, f.key)
		})
	case kindPayload:
		if f.req && *(*map[string]any)(p) == nil {
			return fieldErr(prefix+f.key, "is nil")
		}
	}
	return nil
}

// checkElem validates a record that may be nil or is an element of an
// array or map held under prefix+key: the record's rule is named after that
// key, and its fields by their own keys alone, as decoder.record names them.
func (r *record) checkElem(p unsafe.Pointer, prefix, key string) error {
	if err := r.checkRule(p, prefix, key); err != nil {
		return err
	}
	return r.check(p, "")
}

// checkRule applies the record's own rule, if any, naming it after the key
// that holds the record.
func (r *record) checkRule(p unsafe.Pointer, prefix, key string) error {
	switch r.rule {
	case ruleFinite:
		pt := (*Point)(p)
		if math.IsNaN(pt.X) || math.IsInf(pt.X, 0) || math.IsNaN(pt.Y) || math.IsInf(pt.Y, 0) {
			return fieldErr(prefix+key, "is not finite")
		}
	case ruleSelection:
		s := (*Selection)(p)
		switch s.Type {
		case "", SelectNone:
			if s.ID != "" {
				return fieldErr(prefix+key, "has an id but selects nothing")
			}
		case SelectBlock, SelectEdge:
			if why := idFault(s.ID, true); why != "" {
				return fieldErr(prefix+key+".id", why)
			}
		}
	}
	return nil
}

// strFault returns what is wrong with s under the field's rule, or "".
func (f *field) strFault(s string) string {
	switch f.rule {
	case ruleID:
		return idFault(s, f.req)
	case ruleText:
		return textFault(s, f.max)
	case ruleEnum:
		if !slices.Contains(f.values, s) {
			return "is not " + orList(f.values)
		}
	}
	return ""
}

// orList joins values as "a, b or c".
func orList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// idFault checks an id: not empty when required, at most MaxIDBytes of
// UTF-8.
func idFault(s string, required bool) string {
	switch {
	case s == "" && required:
		return "is empty"
	case len(s) > MaxIDBytes:
		return fmt.Sprintf("is longer than %d bytes", MaxIDBytes)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	return ""
}

// textFault checks free text: at most max bytes of UTF-8.
func textFault(s string, max int) string {
	switch {
	case len(s) > max:
		return fmt.Sprintf("is longer than %d bytes", max)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	return ""
}
