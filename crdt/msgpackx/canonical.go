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
	// A scalar (what most values are) is checked from its header, without
	// the walker and its stacks.
	switch c := b[0]; {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3, c >= 0xa0 && c <= 0xbf:
		return 1, nil
	case c >= 0x80 && c <= 0x9f, c >= 0xdc && c <= 0xdf:
		// a container: walked below
	default:
		_, n, _, err := canonicalLong(b, c, 0, 1)
		if err != nil {
			return 0, err
		}
		if n < 0 {
			return 1, nil
		}
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

//go:noinline
func notCanonical(off int, what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrNotCanonical, what, off)
}

// canonicalValue checks the value at off and returns the offset past it. b
// has passed Check, so every length fits and the nesting stays under
// maxStack. Each container's elements are taken from *budget before they
// are walked.
//
// It walks with an explicit stack rather than recursing, for the reason
// skip does: it runs on every delta, and a deep call chain would grow a
// fresh goroutine's stack. For each open container the stack holds the
// elements still to walk and, for a map, where its last key started, so
// that the next key can be compared with it.
func canonicalValue(b []byte, off int, budget *int) (int, error) {
	if len(b) > math.MaxUint32 {
		return 0, errHuge(len(b))
	}
	var (
		left    [maxStack]uint32 // elements still to walk in each enclosing container
		lastKey [maxStack]uint32 // 1 + offset of the last key of each enclosing map, 0 before its first
		maps    uint64           // bit i: the container at depth i is a map
	)
	depth := 0
	need := 1          // elements still to walk in the current container
	inMap := false     // the current container is a map: keys where need is even
	prev := 0          // 1 + offset of the current map's last key, 0 before its first
	var prevKey []byte // the bytes of that key
	for {
		for need == 0 {
			if depth == 0 {
				return off, nil
			}
			depth--
			need, prev = int(left[depth]), int(lastKey[depth])
			inMap = maps&(1<<depth) != 0
			if prev > 0 {
				prevKey = stringAt(b, prev-1)
			}
		}
		c := b[off]
		need--
		if inMap && need&1 != 0 { // a key: need was even before this element
			start := off
			end := off + 1 + int(c&0x1f)
			switch {
			case c >= 0xa0 && c <= 0xbf:
			case c == 0xd9, c == 0xda, c == 0xdb:
				var err error
				if end, _, _, err = canonicalLong(b, c, start, off+1); err != nil {
					return 0, err
				}
			default:
				return 0, notCanonical(off, "map key that is not a string")
			}
			key := b[start+stringHeaderLen(c) : end]
			if prev > 0 && bytes.Compare(key, prevKey) <= 0 {
				return 0, notCanonical(start, "map keys not sorted and unique")
			}
			prev, prevKey, off = start+1, key, end
			continue
		}
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
			off++
			continue
		case c >= 0xa0 && c <= 0xbf:
			off += 1 + int(c&0x1f)
			continue
		}
		var n int // a container of n entries starts at off
		var isMapHdr bool
		switch {
		case c >= 0x90 && c <= 0x9f:
			n, off = int(c&0x0f), off+1
		case c >= 0x80 && c <= 0x8f:
			n, isMapHdr, off = int(c&0x0f), true, off+1
		default:
			var err error
			if off, n, isMapHdr, err = canonicalLong(b, c, off, off+1); err != nil {
				return 0, err
			}
			if n < 0 {
				continue
			}
		}
		entries := n
		if isMapHdr {
			entries = 2 * n
		}
		if err := spend(budget, entries); err != nil {
			return 0, err
		}
		if depth >= maxStack { // unreachable after Check; kept as a guard
			return 0, errDepth(maxStack)
		}
		left[depth], lastKey[depth] = uint32(need), uint32(prev)
		if inMap {
			maps |= 1 << depth
		} else {
			maps &^= 1 << depth
		}
		depth++
		need, inMap, prev = entries, isMapHdr, 0
	}
}

// canonicalLong checks a value whose type byte c (at start) is not a fix
// form: it returns the offset past a scalar (n = -1), or past the header of
// an array or map of n entries.
func canonicalLong(b []byte, c byte, start, off int) (end, n int, isMap bool, err error) {
	switch c {
	case 0xcc:
		if b[off] <= 0x7f {
			return 0, 0, false, notCanonical(start, "uint8 below 128")
		}
		return off + 1, -1, false, nil
	case 0xcd:
		if binary.BigEndian.Uint16(b[off:]) <= math.MaxUint8 {
			return 0, 0, false, notCanonical(start, "uint16 that fits a uint8")
		}
		return off + 2, -1, false, nil
	case 0xce:
		if binary.BigEndian.Uint32(b[off:]) <= math.MaxUint16 {
			return 0, 0, false, notCanonical(start, "uint32 that fits a uint16")
		}
		return off + 4, -1, false, nil
	case 0xcf:
		if binary.BigEndian.Uint64(b[off:]) <= math.MaxUint32 {
			return 0, 0, false, notCanonical(start, "uint64 that fits a uint32")
		}
		return off + 8, -1, false, nil
	case 0xd0:
		if v := int8(b[off]); v >= -32 {
			return 0, 0, false, notCanonical(start, "int8 that fits a fixint")
		}
		return off + 1, -1, false, nil
	case 0xd1:
		if v := int16(binary.BigEndian.Uint16(b[off:])); v >= math.MinInt8 {
			return 0, 0, false, notCanonical(start, "int16 that fits a shorter form")
		}
		return off + 2, -1, false, nil
	case 0xd2:
		if v := int32(binary.BigEndian.Uint32(b[off:])); v >= math.MinInt16 {
			return 0, 0, false, notCanonical(start, "int32 that fits a shorter form")
		}
		return off + 4, -1, false, nil
	case 0xd3:
		if v := int64(binary.BigEndian.Uint64(b[off:])); v >= math.MinInt32 {
			return 0, 0, false, notCanonical(start, "int64 that fits a shorter form")
		}
		return off + 8, -1, false, nil
	case 0xca:
		return 0, 0, false, notCanonical(start, "float32")
	case 0xcb:
		if f := math.Float64frombits(binary.BigEndian.Uint64(b[off:])); math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, 0, false, errNonFinite(f, start)
		}
		return off + 8, -1, false, nil
	case 0xd9, 0xc4:
		n := int(b[off])
		if c == 0xd9 && n <= 31 {
			return 0, 0, false, notCanonical(start, "str8 that fits a fixstr")
		}
		return off + 1 + n, -1, false, nil
	case 0xda, 0xc5:
		n := int(binary.BigEndian.Uint16(b[off:]))
		if n <= math.MaxUint8 {
			return 0, 0, false, notCanonical(start, "16-bit length that fits 8 bits")
		}
		return off + 2 + n, -1, false, nil
	case 0xdb, 0xc6:
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n <= math.MaxUint16 {
			return 0, 0, false, notCanonical(start, "32-bit length that fits 16 bits")
		}
		return off + 4 + n, -1, false, nil
	case 0xdc:
		n := int(binary.BigEndian.Uint16(b[off:]))
		if n <= 15 {
			return 0, 0, false, notCanonical(start, "array16 that fits a fixarray")
		}
		return off + 2, n, false, nil
	case 0xdd:
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n <= math.MaxUint16 {
			return 0, 0, false, notCanonical(start, "array32 that fits an array16")
		}
		return off + 4, n, false, nil
	case 0xde:
		n := int(binary.BigEndian.Uint16(b[off:]))
		if n <= 15 {
			return 0, 0, false, notCanonical(start, "map16 that fits a fixmap")
		}
		return off + 2, n, true, nil
	case 0xdf:
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n <= math.MaxUint16 {
			return 0, 0, false, notCanonical(start, "map32 that fits a map16")
		}
		return off + 4, n, true, nil
	}
	// Check refuses every other byte.
	return 0, 0, false, errBadByte(c, start)
}

//go:noinline
func errNonFinite(f float64, off int) error {
	return fmt.Errorf("%w: %v at offset %d", ErrNonFinite, f, off)
}

// stringAt returns the bytes of the string whose header starts at off.
func stringAt(b []byte, off int) []byte {
	c := b[off]
	var n int
	switch c {
	case 0xd9:
		n = int(b[off+1])
	case 0xda:
		n = int(binary.BigEndian.Uint16(b[off+1:]))
	case 0xdb:
		n = int(binary.BigEndian.Uint32(b[off+1:]))
	default:
		n = int(c & 0x1f)
	}
	h := off + stringHeaderLen(c)
	return b[h : h+n]
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
