package msgpackx

// The walkers below are the previous implementations of skip and
// canonicalValue, kept verbatim as references for the differential tests.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// skipRef is the walker Check used before its frame was shrunk; it
// iterates rather than recursing on the last pending element count so
// that a long flat array costs no stack; depth is tracked explicitly.
// It refuses the node past maxNodes with ErrTooManyNodes.
func skipRef(b []byte, off, maxDepth, maxNodes int) (int, error) {
	// pending[i] is how many values are still expected at depth i.
	var stack [64]int
	pending := stack[:0]
	need := 1
	for nodes := 1; ; nodes++ {
		for need == 0 {
			if len(pending) == 0 {
				return off, nil
			}
			need = pending[len(pending)-1]
			pending = pending[:len(pending)-1]
		}
		need--
		if nodes > maxNodes {
			return off, fmt.Errorf("%w: more than %d at offset %d", ErrTooManyNodes, maxNodes, off)
		}
		if off >= len(b) {
			return off, fmt.Errorf("%w at offset %d", ErrTruncated, off)
		}
		c := b[off]
		off++
		var payload, children int
		var hdr int // bytes of length header following the type byte
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			children = 2 * int(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			children = int(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			payload = int(c & 0x1f)
		case c == 0xcc, c == 0xd0:
			payload = 1
		case c == 0xcd, c == 0xd1:
			payload = 2
		case c == 0xca, c == 0xce, c == 0xd2:
			payload = 4
		case c == 0xcb, c == 0xcf, c == 0xd3:
			payload = 8
		case c == 0xc4, c == 0xd9:
			hdr = 1
		case c == 0xc5, c == 0xda:
			hdr = 2
		case c == 0xc6, c == 0xdb:
			hdr = 4
		case c == 0xdc, c == 0xde:
			hdr = 2
		case c == 0xdd, c == 0xdf:
			hdr = 4
		default: // 0xc1, ext and fixext
			return off - 1, fmt.Errorf("%w: 0x%02x at offset %d", ErrBadByte, c, off-1)
		}
		if hdr > 0 {
			if len(b)-off < hdr {
				return off, fmt.Errorf("%w at offset %d", ErrTruncated, off)
			}
			var n uint64
			switch hdr {
			case 1:
				n = uint64(b[off])
			case 2:
				n = uint64(binary.BigEndian.Uint16(b[off:]))
			case 4:
				n = uint64(binary.BigEndian.Uint32(b[off:]))
			}
			off += hdr
			if n > uint64(len(b)-off) {
				return off, fmt.Errorf("%w: %d declared, %d left at offset %d", ErrTruncated, n, len(b)-off, off)
			}
			switch c {
			case 0xdc, 0xdd:
				children = int(n)
			case 0xde, 0xdf:
				if 2*n > uint64(len(b)-off) {
					return off, fmt.Errorf("%w: map of %d entries, %d bytes left at offset %d", ErrTruncated, n, len(b)-off, off)
				}
				children = 2 * int(n)
			default:
				payload = int(n)
			}
		}
		if payload > len(b)-off {
			return off, fmt.Errorf("%w: %d declared, %d left at offset %d", ErrTruncated, payload, len(b)-off, off)
		}
		off += payload
		if children > 0 {
			if children > len(b)-off {
				return off, fmt.Errorf("%w: %d elements declared, %d bytes left at offset %d", ErrTruncated, children, len(b)-off, off)
			}
			if len(pending)+1 >= maxDepth || len(pending) >= len(stack) {
				return off, fmt.Errorf("%w (%d)", ErrTooDeep, maxDepth)
			}
			pending = append(pending, need)
			need = children
		}
	}
}

// canonicalValue checks the value at off and returns the offset past it. b
// has passed Check, so every length fits and the nesting is bounded by the
// Check's depth limit (at most 64), which bounds the recursion. Each
// container's elements are taken from *budget before they are walked.
func canonicalValueRef(b []byte, off int, budget *int) (int, error) {
	c := b[off]
	start := off
	off++
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return off, nil
	case c >= 0xa0 && c <= 0xbf:
		return off + int(c&0x1f), nil
	case c >= 0x90 && c <= 0x9f:
		return canonicalArrayRef(b, off, int(c&0x0f), budget)
	case c >= 0x80 && c <= 0x8f:
		return canonicalMapRef(b, off, int(c&0x0f), budget)
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
		return canonicalArrayRef(b, off+2, n, budget)
	case 0xdd:
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n <= math.MaxUint16 {
			return 0, notCanonical(start, "array32 that fits an array16")
		}
		return canonicalArrayRef(b, off+4, n, budget)
	case 0xde:
		n := int(binary.BigEndian.Uint16(b[off:]))
		if n <= 15 {
			return 0, notCanonical(start, "map16 that fits a fixmap")
		}
		return canonicalMapRef(b, off+2, n, budget)
	case 0xdf:
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n <= math.MaxUint16 {
			return 0, notCanonical(start, "map32 that fits a map16")
		}
		return canonicalMapRef(b, off+4, n, budget)
	}
	// Check refuses every other byte.
	return 0, fmt.Errorf("%w: 0x%02x at offset %d", ErrBadByte, c, start)
}

func canonicalArrayRef(b []byte, off, n int, budget *int) (int, error) {
	if err := spend(budget, n); err != nil {
		return 0, err
	}
	var err error
	for range n {
		if off, err = canonicalValueRef(b, off, budget); err != nil {
			return 0, err
		}
	}
	return off, nil
}

func canonicalMapRef(b []byte, off, n int, budget *int) (int, error) {
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
		end, err := canonicalValueRef(b, off, budget)
		if err != nil {
			return 0, err
		}
		key := b[keyAt+stringHeaderLen(c) : end]
		if i > 0 && bytes.Compare(key, prev) <= 0 {
			return 0, notCanonical(keyAt, "map keys not sorted and unique")
		}
		prev = key
		if off, err = canonicalValueRef(b, end, budget); err != nil {
			return 0, err
		}
	}
	return off, nil
}
