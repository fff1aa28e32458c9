package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"unsafe"

	m "github.com/flowsync/flowsync/crdt/msgpackx"
)

// Errors returned by Decode (and, for ErrInvalidValue, by Encode). Every
// decode error matches ErrInvalidFrame and exactly one of the others, and
// wraps the msgpackx error underneath when there is one (msgpackx.ErrTrailing,
// ErrTruncated, ErrTooDeep, ErrBadByte for ext types): test with errors.Is.
var (
	ErrInvalidFrame     = errors.New("protocol: invalid frame")
	ErrTooLarge         = errors.New("protocol: frame too large")
	ErrMalformed        = errors.New("protocol: malformed msgpack")
	ErrUnknownFrameType = errors.New("protocol: unknown frame type")
	ErrDuplicateKey     = errors.New("protocol: duplicate key")
	ErrMissingKey       = errors.New("protocol: missing required key")
	ErrWrongType        = errors.New("protocol: wrong type")
	ErrInvalidValue     = errors.New("protocol: invalid value")
)

// decodeError carries the kind of failure, the frame it was found in and a
// short detail. It never quotes the offending bytes: they may be hostile or
// private, and they end up in logs.
type decodeError struct {
	kind   error
	frame  FrameType
	detail string
	cause  error
}

func (e *decodeError) Error() string {
	s := e.kind.Error()
	if e.frame != 0 {
		s += " in " + e.frame.String()
	}
	if e.detail != "" {
		s += ": " + e.detail
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *decodeError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrInvalidFrame, e.kind, e.cause}
	}
	return []error{ErrInvalidFrame, e.kind}
}

// Decode decodes one frame. It checks the whole input first (size, nesting,
// every declared length, no ext types, no trailing bytes, element caps) and
// only then reads fields, so a hostile input costs at most a few times its
// size and never a panic. Unknown body keys are skipped; an unknown frame
// type, a duplicate key, a missing required key, a value of the wrong type
// or one that breaks a field rule (see schema.go) is an error.
//
// Byte fields (Join.Context, Joined.Context, CatchUp.Delta, Delta.Delta,
// RemoteDelta.Delta) alias b, so the largest part of a frame is not copied:
// the caller must not reuse b while the frame is in use. Decoding those
// bytes (workflow.Decode with workflow.DeltaLimits) is the caller's job.
func Decode(b []byte, lim Limits) (Frame, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxFrameBytes {
		return nil, &decodeError{kind: ErrTooLarge, detail: fmt.Sprintf("%d > %d bytes", len(b), lim.MaxFrameBytes)}
	}
	if err := m.Check(b, m.Limits{MaxBytes: lim.MaxFrameBytes, MaxDepth: lim.MaxDepth}); err != nil {
		return nil, &decodeError{kind: ErrMalformed, cause: err}
	}
	if err := checkElements(b); err != nil {
		return nil, err
	}
	d := &decoder{in: b, r: m.NewReader(b), lim: lim}
	if n := d.r.ArrayHeader(); d.r.Err() != nil || n != 2 {
		return nil, &decodeError{kind: ErrWrongType, detail: "envelope is not a 2-element array [type, body]"}
	}
	t := d.uint()
	if d.r.Err() != nil || d.bad != nil || t > math.MaxUint8 {
		return nil, &decodeError{kind: ErrWrongType, detail: "frame type is not a small unsigned integer"}
	}
	ft := FrameType(t)
	s := frameByType[ft]
	if s == nil {
		return nil, &decodeError{kind: ErrUnknownFrameType, detail: fmt.Sprintf("0x%02x", t)}
	}
	f := s.new()
	err := d.record(s.body, f.ptr(), "")
	if err == nil {
		err = validate(f)
	}
	if err != nil {
		var de *decodeError
		if errors.As(err, &de) {
			de.frame = ft
		}
		return nil, err
	}
	return f, nil
}

// checkElements sums the element counts of every array and map in b (which
// Check accepted) in one flat pass: values are laid out in pre-order, so
// visiting every header visits every container.
func checkElements(b []byte) error {
	var arrays, pairs, containers uint64
	for off := 0; off < len(b); {
		c := b[off]
		if c >= 0x80 && c <= 0x9f || c >= 0xdc && c <= 0xdf {
			containers++
		}
		switch {
		case c >= 0x90 && c <= 0x9f:
			arrays += uint64(c & 0x0f)
			off++
		case c >= 0x80 && c <= 0x8f:
			pairs += uint64(c & 0x0f)
			off++
		case c == 0xdc:
			arrays += uint64(binary.BigEndian.Uint16(b[off+1:]))
			off += 3
		case c == 0xdd:
			arrays += uint64(binary.BigEndian.Uint32(b[off+1:]))
			off += 5
		case c == 0xde:
			pairs += uint64(binary.BigEndian.Uint16(b[off+1:]))
			off += 3
		case c == 0xdf:
			pairs += uint64(binary.BigEndian.Uint32(b[off+1:]))
			off += 5
		default:
			end, err := m.Skip(b, off, 1) // a scalar: no children
			if err != nil {
				return &decodeError{kind: ErrMalformed, cause: err}
			}
			off = end
		}
		if arrays > MaxArrayElements || pairs > MaxMapPairs || containers > MaxContainers {
			return &decodeError{kind: ErrTooLarge, detail: fmt.Sprintf("more than %d array elements, %d map pairs or %d arrays and maps",
				MaxArrayElements, MaxMapPairs, MaxContainers)}
		}
	}
	return nil
}

// decoder reads fields from input that Check accepted. The reader's first
// error sticks; bad holds the first error the decoder itself found (a value
// of a msgpack type the reader does not check, such as bin).
type decoder struct {
	in  []byte // what r reads
	r   *m.Reader
	lim Limits
	bad error
}

func (d *decoder) fail(what string) {
	if d.bad == nil {
		d.bad = &decodeError{kind: ErrWrongType, detail: "want " + what}
	}
}

// fields reads a map whose keys are strings, calling field for each key.
// field returns false for a key it does not know, which is skipped (forward
// compatibility); otherwise it has read the value. Duplicate keys are
// refused, known or not: two values for one key would let two
// implementations disagree about which one counts.
func (d *decoder) fields(field func(key []byte) bool) error {
	n := d.r.MapHeader()
	if err := d.r.Err(); err != nil {
		return &decodeError{kind: ErrWrongType, detail: "want a map", cause: err}
	}
	if n > maxStructKeys {
		return &decodeError{kind: ErrTooLarge, detail: fmt.Sprintf("map of %d keys (at most %d)", n, maxStructKeys)}
	}
	// The keys seen so far, as the offsets in d.in where each ends and its
	// length (Check refused inputs past 4 GiB): a quarter of the stack
	// that slices would take, which matters because this frame sits on
	// every decode's call chain, once per nesting level.
	var seen [maxStructKeys]struct{ end, n uint32 }
	for i := 0; i < n; i++ {
		k := d.r.StringBytes()
		if err := d.r.Err(); err != nil {
			return &decodeError{kind: ErrWrongType, detail: "map key is not a string", cause: err}
		}
		for _, s := range seen[:i] {
			if bytes.Equal(d.in[s.end-s.n:s.end], k) {
				return duplicateKey(k)
			}
		}
		seen[i].end, seen[i].n = uint32(d.r.Offset()), uint32(len(k))
		if !field(k) && !stringKeys(d.r.Raw()) {
			return &decodeError{kind: ErrWrongType, detail: fmt.Sprintf("key %q: a map key is not a string", k)}
		}
		if err := d.r.Err(); err != nil {
			return &decodeError{kind: ErrWrongType, detail: fmt.Sprintf("key %q", k), cause: err}
		}
		if d.bad != nil {
			if de, ok := d.bad.(*decodeError); ok && de.kind == ErrWrongType {
				de.detail = fmt.Sprintf("key %q: %s", k, de.detail)
			}
			return d.bad
		}
	}
	return nil
}

//go:noinline
func duplicateKey(k []byte) error {
	return &decodeError{kind: ErrDuplicateKey, detail: fmt.Sprintf("%q", k)}
}

func missing(key string) error {
	return &decodeError{kind: ErrMissingKey, detail: fmt.Sprintf("%q", key)}
}

// bin reads a bin value, aliasing the input. An empty bin reads as nil, so
// that "absent" and "empty" decode alike.
func (d *decoder) bin() []byte {
	raw := d.r.Raw()
	if d.r.Err() != nil || len(raw) == 0 {
		return nil
	}
	var hdr int
	switch raw[0] {
	case 0xc4:
		hdr = 2
	case 0xc5:
		hdr = 3
	case 0xc6:
		hdr = 5
	default:
		d.fail("bin")
		return nil
	}
	if len(raw) == hdr {
		return nil
	}
	return raw[hdr:len(raw):len(raw)]
}

func (d *decoder) setBad(err error) {
	if d.bad == nil && err != nil {
		d.bad = err
	}
}

// record reads a map into the struct at p, as r describes it. prefix names
// the map in errors: "user." for the map under a Welcome's "user" key (keys
// are named relative to the nearest enclosing key, so that no name is built
// unless an error needs it); empty for a frame body, for a map that may be
// nil (a cursor) and for the elements of arrays and maps (roster entries,
// positions), which are named by their own keys.
func (d *decoder) record(r *record, p unsafe.Pointer, prefix string) error {
	var seen uint64
	err := d.fields(func(k []byte) bool {
		for i := range r.fields {
			if f := &r.fields[i]; f.key == string(k) {
				seen |= 1 << i
				d.value(f, unsafe.Add(p, f.off))
				return true
			}
		}
		return false
	})
	if err != nil {
		return err
	}
	if lack := r.required &^ seen; lack != 0 {
		return missing(prefix + r.fields[bits.TrailingZeros64(lack)].key)
	}
	return nil
}

// value reads one field's value into p. Optional keys accept nil as
// "absent": encoders in other languages often write null for an unset
// field. Required keys do not. Errors stick in d (see fields).
func (d *decoder) value(f *field, p unsafe.Pointer) {
	if !f.req && f.kind != kindRecordOrNil && d.r.IsNil() {
		return
	}
	switch f.kind {
	case kindStr:
		*(*string)(p) = d.r.String()
	case kindUint:
		*(*uint64)(p) = d.uint()
	case kindInt:
		*(*int64)(p) = d.r.Int()
	case kindBool:
		*(*bool)(p) = d.r.Bool()
	case kindFloat:
		*(*float64)(p) = d.r.Float()
	case kindBin:
		*(*[]byte)(p) = d.bin()
	case kindCode:
		*(*Code)(p) = d.code()
	case kindRecord:
		if err := d.record(f.rec, p, f.prefix); err != nil {
			d.setBad(err)
		}
	case kindRecordOrNil:
		if d.r.IsNil() {
			return
		}
		q := reflect.New(f.rec.goType).UnsafePointer()
		*(*unsafe.Pointer)(p) = q
		if err := d.record(f.rec, q, ""); err != nil {
			d.setBad(err)
		}
	case kindList:
		n := d.r.ArrayHeader()
		if d.r.Err() != nil {
			return
		}
		first := f.seq.make(p, n)
		for i := 0; i < n && d.r.Err() == nil && d.bad == nil; i++ {
			q := unsafe.Add(first, uintptr(i)*f.seq.size)
			if f.elem.kind == kindRecord {
				d.setBad(d.record(f.elem.rec, q, ""))
			} else {
				d.value(f.elem, q)
			}
		}
	case kindDict:
		n := d.r.MapHeader()
		if d.r.Err() != nil {
			return
		}
		f.dict.make(p, n)
		v := f.dict.scratch()
		for i := 0; i < n && d.r.Err() == nil && d.bad == nil; i++ {
			k := d.r.String()
			if err := d.record(f.rec, v, ""); err != nil {
				d.setBad(err)
				return
			}
			if !f.dict.store(p, k, v) {
				d.setBad(&decodeError{kind: ErrDuplicateKey, detail: fmt.Sprintf("%s: a %s twice", f.key, f.keyDoc)})
				return
			}
		}
	case kindPayload:
		*(*map[string]any)(p) = d.payload()
	}
}

// payload decodes a JSON-shaped map with msgpackx.Decode (string keys only,
// duplicate keys refused) and widens its numbers, so that callers switch on
// int64, uint64 and float64 only.
func (d *decoder) payload() map[string]any {
	raw := d.r.Raw()
	if d.r.Err() != nil {
		return nil
	}
	if len(raw) == 0 || !(raw[0] >= 0x80 && raw[0] <= 0x8f || raw[0] == 0xde || raw[0] == 0xdf) {
		d.fail("a map")
		return nil
	}
	v, err := m.Decode(raw, m.Limits{MaxBytes: len(raw), MaxDepth: d.lim.MaxDepth})
	if err != nil {
		d.setBad(&decodeError{kind: ErrInvalidValue, detail: `"payload" is not JSON-shaped`, cause: err})
		return nil
	}
	mv, _ := v.(map[string]any) // m.Decode already widened the numbers
	return mv
}

// uint reads a non-negative integer written in any integer form: §2 of
// PROTOCOL.md allows any, and an encoder may write a non-negative value in
// a signed form (msgpack libraries that type by the host integer do), which
// the TypeScript decoder accepts as well.
func (d *decoder) uint() uint64 {
	if off := d.r.Offset(); off < len(d.in) && d.in[off] >= 0xd0 && d.in[off] <= 0xd3 {
		v := d.r.Int()
		if v < 0 {
			d.fail("an unsigned integer")
			return 0
		}
		return uint64(v)
	}
	return d.r.Uint()
}

func (d *decoder) code() Code {
	c := d.uint()
	if c > math.MaxUint16 {
		d.fail("a 16-bit code")
		return 0
	}
	return Code(c)
}

// stringKeys reports whether every map inside the msgpack value raw (one
// that Check accepted) has string keys. A key this implementation does not
// know is skipped, but its value is still held to what §2 refuses anywhere
// in a frame, as the TypeScript decoder does: two decoders must not differ
// on a frame one of them would read after an upgrade. Nesting is bounded by
// Check's depth limit.
func stringKeys(raw []byte) bool {
	if len(raw) == 0 {
		return true // the reader failed; its error is reported by the caller
	}
	r := m.NewReader(raw)
	switch c := raw[0]; {
	case c >= 0x90 && c <= 0x9f || c == 0xdc || c == 0xdd:
		for n := r.ArrayHeader(); n > 0; n-- {
			if !stringKeys(r.Raw()) {
				return false
			}
		}
	case c >= 0x80 && c <= 0x8f || c == 0xde || c == 0xdf:
		for n := r.MapHeader(); n > 0; n-- {
			if k := r.Raw(); len(k) == 0 || !(k[0] >= 0xa0 && k[0] <= 0xbf || k[0] >= 0xd9 && k[0] <= 0xdb) {
				return false
			}
			if !stringKeys(r.Raw()) {
				return false
			}
		}
	}
	return true
}
