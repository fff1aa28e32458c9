package msgpackx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrType is returned when a value has another type than the one expected.
var ErrType = errors.New("msgpackx: unexpected type")

// Reader reads msgpack values from a byte slice without reflection or
// allocation (strings excepted). Use it only on input that Check accepted:
// lengths are trusted to fit, although every read still checks bounds so that
// a misuse is an error, not a panic. The first error sticks; check Err once at
// the end.
type Reader struct {
	b         []byte
	off       int
	err       error
	canonical bool
}

// NewReader returns a reader over b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// NewCanonicalReader returns a reader over b that also refuses, with
// ErrNotCanonical, integers, string and array lengths in a longer form than
// needed and non-negative integers in a signed form: what the Append
// functions never write. Raw values are returned as they are; check them
// with CheckCanonical.
func NewCanonicalReader(b []byte) *Reader { return &Reader{b: b, canonical: true} }

// longer fails the read when a canonical reader met a value of n written
// in a form meant for values above limit.
func (r *Reader) longer(n, limit uint64, what string) {
	if r.canonical && n <= limit && r.err == nil {
		r.err = fmt.Errorf("%w: %s at offset %d", ErrNotCanonical, what, r.off)
	}
}

// Err returns the first error met.
func (r *Reader) Err() error { return r.err }

// Offset returns how many bytes have been consumed.
func (r *Reader) Offset() int { return r.off }

// Remaining returns how many bytes are left.
func (r *Reader) Remaining() int { return len(r.b) - r.off }

// Done reports whether every byte was consumed.
func (r *Reader) Done() bool { return r.off == len(r.b) }

func (r *Reader) fail(want string) {
	if r.err == nil {
		if r.off < len(r.b) {
			r.err = fmt.Errorf("%w: want %s, found 0x%02x at offset %d", ErrType, want, r.b[r.off], r.off)
		} else {
			r.err = fmt.Errorf("%w: want %s at offset %d", ErrTruncated, want, r.off)
		}
	}
}

func (r *Reader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if len(r.b)-r.off < n {
		r.err = fmt.Errorf("%w at offset %d", ErrTruncated, r.off)
		return false
	}
	return true
}

func (r *Reader) peek() (byte, bool) {
	if !r.need(1) {
		return 0, false
	}
	return r.b[r.off], true
}

// IsNil consumes a nil if one is next and reports whether it did.
func (r *Reader) IsNil() bool {
	if c, ok := r.peek(); ok && c == 0xc0 {
		r.off++
		return true
	}
	return false
}

// ArrayHeader reads an array header and returns its length.
func (r *Reader) ArrayHeader() int {
	c, ok := r.peek()
	if !ok {
		return 0
	}
	switch {
	case c >= 0x90 && c <= 0x9f:
		r.off++
		return int(c & 0x0f)
	case c == 0xdc && r.need(3):
		n := int(binary.BigEndian.Uint16(r.b[r.off+1:]))
		r.longer(uint64(n), 15, "array16 that fits a fixarray")
		r.off += 3
		return r.fit(n)
	case c == 0xdd && r.need(5):
		n := uint64(binary.BigEndian.Uint32(r.b[r.off+1:]))
		r.longer(n, math.MaxUint16, "array32 that fits an array16")
		r.off += 5
		return r.fit64(n)
	}
	r.fail("array")
	return 0
}

// MapHeader reads a map header and returns its number of entries.
func (r *Reader) MapHeader() int {
	c, ok := r.peek()
	if !ok {
		return 0
	}
	switch {
	case c >= 0x80 && c <= 0x8f:
		r.off++
		return int(c & 0x0f)
	case c == 0xde && r.need(3):
		n := int(binary.BigEndian.Uint16(r.b[r.off+1:]))
		r.longer(uint64(n), 15, "map16 that fits a fixmap")
		r.off += 3
		return r.fit(2*n) / 2
	case c == 0xdf && r.need(5):
		n := uint64(binary.BigEndian.Uint32(r.b[r.off+1:]))
		r.longer(n, math.MaxUint16, "map32 that fits a map16")
		r.off += 5
		return r.fit64(2*n) / 2
	}
	r.fail("map")
	return 0
}

// fit refuses element counts larger than the bytes left (each element takes
// at least one byte), so callers may allocate from them.
func (r *Reader) fit(n int) int { return r.fit64(uint64(n)) }

func (r *Reader) fit64(n uint64) int {
	if n > uint64(len(r.b)-r.off) {
		if r.err == nil {
			r.err = fmt.Errorf("%w: %d elements declared, %d bytes left", ErrTruncated, n, len(r.b)-r.off)
		}
		return 0
	}
	return int(n)
}

// Uint reads a non-negative integer.
func (r *Reader) Uint() uint64 {
	c, ok := r.peek()
	if !ok {
		return 0
	}
	switch {
	case c <= 0x7f:
		r.off++
		return uint64(c)
	case c == 0xcc && r.need(2):
		v := uint64(r.b[r.off+1])
		r.longer(v, 0x7f, "uint8 below 128")
		r.off += 2
		return v
	case c == 0xcd && r.need(3):
		v := uint64(binary.BigEndian.Uint16(r.b[r.off+1:]))
		r.longer(v, math.MaxUint8, "uint16 that fits a uint8")
		r.off += 3
		return v
	case c == 0xce && r.need(5):
		v := uint64(binary.BigEndian.Uint32(r.b[r.off+1:]))
		r.longer(v, math.MaxUint16, "uint32 that fits a uint16")
		r.off += 5
		return v
	case c == 0xcf && r.need(9):
		v := binary.BigEndian.Uint64(r.b[r.off+1:])
		r.longer(v, math.MaxUint32, "uint64 that fits a uint32")
		r.off += 9
		return v
	}
	r.fail("unsigned integer")
	return 0
}

// Int reads a signed integer (any integer form).
func (r *Reader) Int() int64 {
	c, ok := r.peek()
	if !ok {
		return 0
	}
	switch {
	case c <= 0x7f || c == 0xcc || c == 0xcd || c == 0xce:
		return int64(r.Uint())
	case c == 0xcf:
		v := r.Uint()
		if v > math.MaxInt64 {
			r.fail("int64")
			return 0
		}
		return int64(v)
	case c >= 0xe0:
		r.off++
		return int64(int8(c))
	case c == 0xd0 && r.need(2):
		v := int64(int8(r.b[r.off+1]))
		r.signedLonger(v, -32, "int8")
		r.off += 2
		return v
	case c == 0xd1 && r.need(3):
		v := int64(int16(binary.BigEndian.Uint16(r.b[r.off+1:])))
		r.signedLonger(v, math.MinInt8, "int16")
		r.off += 3
		return v
	case c == 0xd2 && r.need(5):
		v := int64(int32(binary.BigEndian.Uint32(r.b[r.off+1:])))
		r.signedLonger(v, math.MinInt16, "int32")
		r.off += 5
		return v
	case c == 0xd3 && r.need(9):
		v := int64(binary.BigEndian.Uint64(r.b[r.off+1:]))
		r.signedLonger(v, math.MinInt32, "int64")
		r.off += 9
		return v
	}
	r.fail("integer")
	return 0
}

// signedLonger fails the read when a canonical reader met, in a signed form,
// a value at or above floor: one a shorter form (or an unsigned one) holds.
func (r *Reader) signedLonger(v, floor int64, form string) {
	if r.canonical && v >= floor && r.err == nil {
		r.err = fmt.Errorf("%w: %s holding %d at offset %d", ErrNotCanonical, form, v, r.off)
	}
}

// Float reads a number of any numeric form as a float64.
func (r *Reader) Float() float64 {
	c, ok := r.peek()
	if !ok {
		return 0
	}
	switch {
	case c == 0xcb && r.need(9):
		r.off += 9
		return math.Float64frombits(binary.BigEndian.Uint64(r.b[r.off-8:]))
	case c == 0xca && r.need(5):
		r.off += 5
		return float64(math.Float32frombits(binary.BigEndian.Uint32(r.b[r.off-4:])))
	case c == 0xcf:
		return float64(r.Uint())
	}
	return float64(r.Int())
}

// Bool reads a boolean.
func (r *Reader) Bool() bool {
	c, ok := r.peek()
	if !ok {
		return false
	}
	switch c {
	case 0xc2:
		r.off++
		return false
	case 0xc3:
		r.off++
		return true
	}
	r.fail("bool")
	return false
}

// StringBytes reads a string and returns its bytes, aliasing the input.
func (r *Reader) StringBytes() []byte {
	c, ok := r.peek()
	if !ok {
		return nil
	}
	var n, hdr int
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n, hdr = int(c&0x1f), 1
	case c == 0xd9 && r.need(2):
		n, hdr = int(r.b[r.off+1]), 2
		r.longer(uint64(n), 31, "str8 that fits a fixstr")
	case c == 0xda && r.need(3):
		n, hdr = int(binary.BigEndian.Uint16(r.b[r.off+1:])), 3
		r.longer(uint64(n), math.MaxUint8, "str16 that fits a str8")
	case c == 0xdb && r.need(5):
		n, hdr = int(binary.BigEndian.Uint32(r.b[r.off+1:])), 5
		r.longer(uint64(n), math.MaxUint16, "str32 that fits a str16")
	default:
		r.fail("string")
		return nil
	}
	if !r.need(hdr + n) {
		return nil
	}
	s := r.b[r.off+hdr : r.off+hdr+n]
	r.off += hdr + n
	return s
}

// String reads a string.
func (r *Reader) String() string { return string(r.StringBytes()) }

// Raw returns the next value's encoding, aliasing the input, and skips it.
func (r *Reader) Raw() []byte {
	if r.err != nil {
		return nil
	}
	// Most values are scalars: measured from their header, without the
	// walker and its stack.
	if n := scalarSize(r.b, r.off); n > 0 && n <= len(r.b)-r.off {
		v := r.b[r.off : r.off+n]
		r.off += n
		return v
	}
	end, err := Skip(r.b, r.off, defaultMaxDepth)
	if err != nil {
		r.err = err
		return nil
	}
	v := r.b[r.off:end]
	r.off = end
	return v
}

// Skip skips the next value.
func (r *Reader) Skip() { r.Raw() }

// scalarSize returns the encoded size of the scalar at off when its header
// alone gives it (every scalar form but str16/32 and bin16/32), and 0 for
// anything else, a container or off past the end included. The size may
// run past the end of b: the caller checks.
func scalarSize(b []byte, off int) int {
	if off >= len(b) {
		return 0
	}
	switch c := b[off]; {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return 1
	case c >= 0xa0 && c <= 0xbf:
		return 1 + int(c&0x1f)
	case c == 0xcc, c == 0xd0:
		return 2
	case c == 0xcd, c == 0xd1:
		return 3
	case c == 0xca, c == 0xce, c == 0xd2:
		return 5
	case c == 0xcb, c == 0xcf, c == 0xd3:
		return 9
	case (c == 0xd9 || c == 0xc4) && off+1 < len(b):
		return 2 + int(b[off+1])
	}
	return 0
}
