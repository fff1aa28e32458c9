package protocol

import (
	"math/bits"
	"unsafe"

	m "github.com/flowsync/flowsync/crdt/msgpackx"
)

// Encode validates f and returns its encoding: the envelope [type, body].
// It returns an error wrapping ErrInvalidValue when f breaks a rule that
// Decode would refuse, and an error from msgpackx.Canonical when an
// Operation payload holds a value that is not JSON-shaped.
func Encode(f Frame) ([]byte, error) {
	if err := validate(f); err != nil {
		return nil, err
	}
	if op, ok := f.(*Operation); ok {
		// AppendFrame cannot report an unencodable payload; find out here.
		if _, err := m.Canonical(op.Payload); err != nil {
			return nil, err
		}
	}
	s := frameByType[f.Type()]
	return AppendFrame(make([]byte, 0, 3+s.body.size(f.ptr())), f), nil
}

// AppendFrame appends the encoding of f to b without validating it: it is
// the hot path for frames the server builds itself (a RemoteDelta encoded
// once per broadcast). A frame that Encode would refuse produces bytes the
// peer's Decode refuses; an Operation whose payload cannot be encoded gets a
// nil payload.
func AppendFrame(b []byte, f Frame) []byte {
	t := f.Type()
	b = m.AppendArrayHeader(b, 2)
	b = m.AppendUint(b, uint64(t))
	return frameByType[t].body.append(b, f.ptr())
}

func appendKey(b []byte, k string) []byte { return m.AppendString(b, k) }

// append writes the record at p as a map: every required field, and every
// optional one that holds a value other than its zero value (a record or
// nil is always written: nil says "none" explicitly).
func (r *record) append(b []byte, p unsafe.Pointer) []byte {
	// One pass decides which fields are written (bit i: fields[i]), the
	// next writes them: the map header comes first.
	write, n := r.always, r.written
	for _, i := range r.optional {
		f := &r.fields[i]
		fp := unsafe.Add(p, f.off)
		if f.kind == kindStr && len(*(*string)(fp)) != 0 || f.kind != kindStr && f.present(fp) {
			write |= 1 << i
			n++
		}
	}
	b = m.AppendMapHeader(b, n)
	for ; write != 0; write &= write - 1 {
		f := &r.fields[bits.TrailingZeros64(write)]
		b = append(b, f.keyEnc...)
		fp := unsafe.Add(p, f.off)
		// The common kinds are written here rather than through a call:
		// frames are small, and these loops are most of their cost.
		switch f.kind {
		case kindStr:
			b = m.AppendString(b, *(*string)(fp))
		case kindBin:
			b = m.AppendBytes(b, *(*[]byte)(fp))
		case kindFloat:
			b = m.AppendFloat(b, *(*float64)(fp))
		case kindRecord:
			b = f.rec.append(b, fp)
		case kindRecordOrNil:
			if q := *(*unsafe.Pointer)(fp); q != nil {
				b = f.rec.append(b, q)
			} else {
				b = m.AppendNil(b)
			}
		default:
			b = f.append(b, fp)
		}
	}
	return b
}

// append writes the value of the field at p.
func (f *field) append(b []byte, p unsafe.Pointer) []byte {
	switch f.kind {
	case kindStr:
		return m.AppendString(b, *(*string)(p))
	case kindUint:
		return m.AppendUint(b, *(*uint64)(p))
	case kindInt:
		return m.AppendInt(b, *(*int64)(p))
	case kindBool:
		return m.AppendBool(b, *(*bool)(p))
	case kindFloat:
		return m.AppendFloat(b, *(*float64)(p))
	case kindBin:
		return m.AppendBytes(b, *(*[]byte)(p))
	case kindCode:
		return m.AppendUint(b, uint64(*(*Code)(p)))
	case kindRecord:
		return f.rec.append(b, p)
	case kindRecordOrNil:
		if q := *(*unsafe.Pointer)(p); q != nil {
			return f.rec.append(b, q)
		}
		return m.AppendNil(b)
	case kindList:
		first, n := f.seq.view(p)
		b = m.AppendArrayHeader(b, n)
		for i := range n {
			b = f.elem.append(b, unsafe.Add(first, uintptr(i)*f.seq.size))
		}
		return b
	case kindDict:
		keys := f.dict.keys(p)
		b = m.AppendMapHeader(b, len(keys))
		v := f.dict.scratch()
		for _, k := range keys {
			f.dict.load(p, k, v)
			b = f.rec.append(m.AppendString(b, k), v)
		}
		return b
	case kindPayload:
		// The payload is JSON-shaped and rare (thin clients only), so it
		// goes through the canonical encoder.
		pl := *(*map[string]any)(p)
		c, err := m.Canonical(pl)
		if err != nil || pl == nil {
			return m.AppendNil(b)
		}
		return append(b, c...)
	}
	panic("protocol: unknown field kind")
}

// size bounds the encoded size of the record at p from above (give or take
// an Operation payload), so that Encode allocates once.
func (r *record) size(p unsafe.Pointer) int {
	n := 5
	for i := range r.fields {
		f := &r.fields[i]
		n += len(f.keyEnc) + f.size(unsafe.Add(p, f.off))
	}
	return n
}

func (f *field) size(p unsafe.Pointer) int {
	switch f.kind {
	case kindStr:
		return 5 + len(*(*string)(p))
	case kindBin:
		return 5 + len(*(*[]byte)(p))
	case kindRecord:
		return f.rec.size(p)
	case kindRecordOrNil:
		if q := *(*unsafe.Pointer)(p); q != nil {
			return f.rec.size(q)
		}
		return 1
	case kindList:
		first, n := f.seq.view(p)
		size := 5
		for i := range n {
			size += f.elem.size(unsafe.Add(first, uintptr(i)*f.seq.size))
		}
		return size
	case kindDict:
		size := 5
		f.dict.each(p, func(k string, v unsafe.Pointer) error {
			size += 5 + len(k) + f.rec.size(v)
			return nil
		})
		return size
	case kindPayload:
		return 256 // grown by append if larger; payloads are rare
	}
	return 9 // a number or a bool
}
