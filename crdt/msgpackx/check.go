// Package msgpackx guards msgpack decoding against hostile input. Check walks
// an encoded value without allocating and proves that every declared length
// fits in the bytes that are actually there, that nesting stays under a depth
// cap and that nothing trails the value. Only after Check passes do callers
// hand the bytes to a decoder, so a five-byte header that claims a
// four-gigabyte array is an error instead of an allocation.
//
// It also holds the canonical value encoding that every replica uses for
// field values (sorted map keys, the shortest integer form, integral floats as
// integers), so equal values have equal bytes in every language.
package msgpackx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Limits bounds what Check accepts. Zero fields take the defaults.
type Limits struct {
	// MaxBytes caps the encoded size. Default: 16 MiB.
	MaxBytes int
	// MaxDepth caps the nesting of arrays and maps. Default: 32.
	MaxDepth int
}

const (
	defaultMaxBytes = 16 << 20
	defaultMaxDepth = 32
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	return l
}

// Errors returned by Check, wrapped with the offset where they were found.
var (
	ErrTooLarge  = errors.New("msgpackx: input larger than the limit")
	ErrTruncated = errors.New("msgpackx: declared length exceeds the bytes left")
	ErrTooDeep   = errors.New("msgpackx: nesting deeper than the limit")
	ErrTrailing  = errors.New("msgpackx: trailing bytes after the value")
	ErrBadByte   = errors.New("msgpackx: byte 0xc1 or an extension type is not allowed")
	ErrEmpty     = errors.New("msgpackx: empty input")
)

// Check verifies that b holds exactly one well-formed msgpack value within
// lim. Extension types are refused: no flowsync encoding uses them.
func Check(b []byte, lim Limits) error {
	lim = lim.withDefaults()
	if len(b) == 0 {
		return ErrEmpty
	}
	if len(b) > lim.MaxBytes {
		return fmt.Errorf("%w: %d > %d bytes", ErrTooLarge, len(b), lim.MaxBytes)
	}
	return checkNodes(b, lim, math.MaxInt)
}

// CheckNodes is Check that also refuses, with ErrTooManyNodes, an input of
// more than maxNodes msgpack nodes (every scalar, array and map, each map key
// and value counted), as soon as the walk reaches the node past it: a
// decoder that knows how many nodes an admissible input can hold stops
// there instead of walking the rest.
func CheckNodes(b []byte, lim Limits, maxNodes int) error {
	lim = lim.withDefaults()
	if len(b) == 0 {
		return ErrEmpty
	}
	if len(b) > lim.MaxBytes {
		return fmt.Errorf("%w: %d > %d bytes", ErrTooLarge, len(b), lim.MaxBytes)
	}
	return checkNodes(b, lim, maxNodes)
}

func checkNodes(b []byte, lim Limits, maxNodes int) error {
	end, err := skip(b, 0, lim.MaxDepth, maxNodes)
	if err != nil {
		return err
	}
	if end != len(b) {
		return fmt.Errorf("%w: %d bytes at offset %d", ErrTrailing, len(b)-end, end)
	}
	return nil
}

// Skip returns the offset just past the value that starts at off, checking it
// as Check does (without the size limit).
func Skip(b []byte, off, maxDepth int) (int, error) {
	if maxDepth <= 0 {
		maxDepth = defaultMaxDepth
	}
	return skip(b, off, maxDepth, math.MaxInt)
}

// skip iterates rather than recursing on the last pending element count so
// that a long flat array costs no stack; depth is tracked explicitly.
// It refuses the node past maxNodes with ErrTooManyNodes.
func skip(b []byte, off, maxDepth, maxNodes int) (int, error) {
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
