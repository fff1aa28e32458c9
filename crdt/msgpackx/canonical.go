package msgpackx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Errors of the canonical checks, wrapped with the offset where they were
// found.
var (
	// ErrNotCanonical: the bytes are valid msgpack but not in the form the
	// canonical encoders write (a longer integer or length form than needed,
	// a non-negative integer in a signed form, map keys unsorted, repeated or
	// not strings, a float32).
	ErrNotCanonical = errors.New("msgpackx: not in canonical form")
	// ErrNonFinite: a float is NaN or infinite. No stored value may hold one:
	// JSON cannot carry it, and NaN is not equal to itself.
	ErrNonFinite = errors.New("msgpackx: NaN or infinite number")
)

// CheckCanonical verifies what Check does, and that b is a value in the form
// that Canonical and the Append functions write, so that a decoder that
// keeps the bytes as they are re-encodes them unchanged:
//   - integers in their shortest form, the unsigned forms for non-negative
//     values and the signed forms for negative ones;
//   - strings, byte strings, arrays and maps with the shortest length header;
//   - map keys are strings, sorted ascending bytewise, none repeated;
//   - floats are float64 (0xcb) and finite.
//
// A float64 that holds an integer is accepted: Canonical writes such numbers
// as integers, but a position is written as two float64 whatever they hold.
func CheckCanonical(b []byte, lim Limits) error {
	if err := Check(b, lim); err != nil {
		return err
	}
	budget := math.MaxInt
	end, err := canonicalValue(b, 0, &budget)
	if err != nil {
		return err
	}
	if end != len(b) { // unreachable after Check; kept as a guard
		return fmt.Errorf("%w: %d bytes at offset %d", ErrTrailing, len(b)-end, end)
	}
	return nil
}

// CheckCanonicalForm is CheckCanonical for bytes already known to hold
// exactly one well-formed value (Check passed on them, or Reader.Raw
// returned them): it skips the bounds walk. On other input it may panic.
func CheckCanonicalForm(b []byte) error {
	budget := math.MaxInt
	_, err := canonicalValue(b, 0, &budget)
	return err
}

// ErrTooManyNodes: a value holds more msgpack nodes (scalars, arrays and
// maps, each map key and value counted) than the budget allows.
var ErrTooManyNodes = errors.New("msgpackx: value holds too many nodes")

// CheckCanonicalNodes is CheckCanonicalForm that also counts the nodes of
// the value (1 for a scalar; a container counts 1 plus its elements, a map's
// keys and values both) and refuses with ErrTooManyNodes as soon as a
// container's header would take the count past budget, before walking it.
// It returns the count. Its input needs what CheckCanonicalForm's does.
func CheckCanonicalNodes(b []byte, budget int) (int, error) {
	left := budget - 1
	if left < 0 {
		return 0, fmt.Errorf("%w: more than %d", ErrTooManyNodes, budget)
	}
	if _, err := canonicalValue(b, 0, &left); err != nil {
		if errors.Is(err, ErrTooManyNodes) {
			err = fmt.Errorf("%w: more than %d", ErrTooManyNodes, budget)
		}
		return 0, err
	}
	return budget - left, nil
}

// spend takes n nodes from the budget, failing when it runs out.
func spend(budget *int, n int) error {
	if *budget < n {
		return ErrTooManyNodes
	}
	*budget -= n
	return nil
}

func notCanonical(off int, what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrNotCanonical, what, off)
}

// canonicalValue checks the value at off and returns the offset past it. b
// has passed Check, so every length fits and the nesting is bounded by the
// Check's depth limit (at most 64), which bounds the recursion. Each
// container's elements are taken from *budget before they are walked.
func canonicalValue(b []byte, off int, budget *int) (int, error) {
	c := b[off]
	start := off
	off++
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return off, nil
	case c >= 0xa0 && c <= 0xbf:
		return off + int(c&0x1f), nil
	case c >= 0x90 && c <= 0x9f:
		return canonicalArray(b, off, int(c&0x0f), budget)
	case c >= 0x80 && c <= 0x8f:
		return canonicalMap(b, off, int(c&0x0f), budget)
	}
	switch c {
	case 0xcc:
		if b[off] <= 0x7f {
			return 0, notCanonical(start, "uint8 below 128")
		}
		return off + 1, nil
	case 0xcd:
		if binary.BigEndian.Uint16(b[off:]) <= math.MaxUint8 {
			return 0, notCanonical(start, "uint16 that fits a uint8")
		}
		return off + 2, nil
	case 0xce:
		if binary.BigEndian.Uint32(b[off:]) <= math.MaxUint16 {
			return 0, notCanonical(start, "uint32 that fits a uint16")
		}
		return off + 4, nil
	case 0xcf:
		if binary.BigEndian.Uint64(b[off:]) <= math.MaxUint32 {
			return 0, notCanonical(start, "uint64 that fits a uint32")
		}
		return off + 8, nil
	case 0xd0:
		if v := int8(b[off]); v >= -32 {
			return 0, notCanonical(start, "int8 that fits a fixint")
		}
		return off + 1, nil
	case 0xd1:
		if v := int16(binary.BigEndian.Uint16(b[off:])); v >= math.MinInt8 {
			return 0, notCanonical(start, "int16 that fits a shorter form")
		}
		return off + 2, nil
	case 0xd2:
		if v := int32(binary.BigEndian.Uint32(b[off:])); v >= math.MinInt16 {
			return 0, notCanonical(start, "int32 that fits a shorter form")
		}
		return off + 4, nil
	case 0xd3:
		if v := int64(binary.BigEndian.Uint64(b[off:])); v >= math.MinInt32 {
			return 0, notCanonical(start, "int64 that fits a shorter form")
		}
		return off + 8, nil
	case 0xca:
		return 0, notCanonical(start, "float32")
	case 0xcb:
		if f := math.Float64frombits(binary.BigEndian.Uint64(b[off:])); math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%w: %v at offset %d", ErrNonFinite, f, start)
		}
		return off + 8, nil
	case 0xd9, 0xc4:
		n := int(b[off])
		if c == 0xd9 && n <= 31 {
			return 0, notCanonical(start, "str8 that fits a fixstr")
		}
		return off + 1 + n, nil
	case 0xda, 0xc5:
		n := int(binary.BigEndian.Uint16(b[off:]))
		if n <= math.MaxUint8 {
			return 0, notCanonical(start, "16-bit length that fits 8 bits")
		}
		return off + 2 + n, nil
	case 0xdb, 0xc6:
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n <= math.MaxUint16 {
			return 0, notCanonical(start, "32-bit length that fits 16 bits")
		}
		return off + 4 + n, nil
	case 0xdc:
		n := int(binary.BigEndian.Uint16(b[off:]))
		if n <= 15 {
			return 0, notCanonical(start, "array16 that fits a fixarray")
		}
		return canonicalArray(b, off+2, n, budget)
	case 0xdd:
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n <= math.MaxUint16 {
			return 0, notCanonical(start, "array32 that fits an array16")
		}
		return canonicalArray(b, off+4, n, budget)
	case 0xde:
		n := int(binary.BigEndian.Uint16(b[off:]))
		if n <= 15 {
			return 0, notCanonical(start, "map16 that fits a fixmap")
		}
		return canonicalMap(b, off+2, n, budget)
	case 0xdf:
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n <= math.MaxUint16 {
			return 0, notCanonical(start, "map32 that fits a map16")
		}
		return canonicalMap(b, off+4, n, budget)
	}
	// Check refuses every other byte.
	return 0, fmt.Errorf("%w: 0x%02x at offset %d", ErrBadByte, c, start)
}

func canonicalArray(b []byte, off, n int, budget *int) (int, error) {
	if err := spend(budget, n); err != nil {
		return 0, err
	}
	var err error
	for range n {
		if off, err = canonicalValue(b, off, budget); err != nil {
			return 0, err
		}
	}
	return off, nil
}

func canonicalMap(b []byte, off, n int, budget *int) (int, error) {
	if err := spend(budget, 2*n); err != nil {
		return 0, err
	}
	var prev []byte
	for i := range n {
		c := b[off]
		if !(c >= 0xa0 && c <= 0xbf) && c != 0xd9 && c != 0xda && c != 0xdb {
			return 0, notCanonical(off, "map key that is not a string")
		}
		keyAt := off
		end, err := canonicalValue(b, off, budget)
		if err != nil {
			return 0, err
		}
		key := b[keyAt+stringHeaderLen(c) : end]
		if i > 0 && bytes.Compare(key, prev) <= 0 {
			return 0, notCanonical(keyAt, "map keys not sorted and unique")
		}
		prev = key
		if off, err = canonicalValue(b, end, budget); err != nil {
			return 0, err
		}
	}
	return off, nil
}

func stringHeaderLen(c byte) int {
	switch c {
	case 0xd9:
		return 2
	case 0xda:
		return 3
	case 0xdb:
		return 5
	}
	return 1
}
