package msgpackx

import (
	"encoding/binary"
	"fmt"
	"math"
)

// maxStack is the deepest nesting any walker accepts, whatever Limits says:
// it sizes the fixed stacks of skip and canonicalValue.
const maxStack = 64

// skip returns the offset just past the value at off, refusing the node
// past maxNodes with ErrTooManyNodes and nesting of maxDepth (or maxStack)
// levels with ErrTooDeep.
//
// It runs on every frame and every delta, often on a fresh goroutine, so its
// frame is kept small: the pending element counts live in a fixed array of
// uint32 (a count never exceeds the bytes left, and inputs past 4 GiB are
// refused), and every error is built in a separate function, since the
// arguments of each inlined fmt.Errorf would otherwise take their own
// stack slots. A frame over the goroutine's stack makes the runtime copy
// the whole stack to a larger one.
func skip(b []byte, off, maxDepth, maxNodes int) (int, error) {
	if len(b) > math.MaxUint32 {
		return off, errHuge(len(b))
	}
	var pending [maxStack]uint32 // pending[i]: values still expected at depth i+1
	depth := 0
	need := 1
	for nodes := 1; ; nodes++ {
		for need == 0 {
			if depth == 0 {
				return off, nil
			}
			depth--
			need = int(pending[depth])
		}
		need--
		if nodes > maxNodes {
			return off, errNodes(maxNodes, off)
		}
		if off >= len(b) {
			return off, errTruncatedAt(off)
		}
		c := b[off]
		off++
		var payload, children, hdr int // hdr: bytes of length header after the type byte
		switch {
		case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
			continue
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
		case c == 0xc5, c == 0xda, c == 0xdc, c == 0xde:
			hdr = 2
		case c == 0xc6, c == 0xdb, c == 0xdd, c == 0xdf:
			hdr = 4
		default: // 0xc1, ext and fixext
			return off - 1, errBadByte(c, off-1)
		}
		if hdr > 0 {
			if len(b)-off < hdr {
				return off, errTruncatedAt(off)
			}
			var n int
			switch hdr {
			case 1:
				n = int(b[off])
			case 2:
				n = int(binary.BigEndian.Uint16(b[off:]))
			default:
				n = int(binary.BigEndian.Uint32(b[off:]))
			}
			off += hdr
			if n > len(b)-off {
				return off, errDeclared(n, len(b)-off, off)
			}
			switch c {
			case 0xdc, 0xdd:
				children = n
			case 0xde, 0xdf:
				if 2*n > len(b)-off {
					return off, errMapEntries(n, len(b)-off, off)
				}
				children = 2 * n
			default:
				payload = n
			}
		}
		if payload > len(b)-off {
			return off, errDeclared(payload, len(b)-off, off)
		}
		off += payload
		if children > 0 {
			if children > len(b)-off {
				return off, errElements(children, len(b)-off, off)
			}
			if depth+1 >= maxDepth || depth >= maxStack {
				return off, errDepth(maxDepth)
			}
			pending[depth] = uint32(need)
			depth++
			need = children
		}
	}
}

// The error builders of skip and canonicalValue are kept out of line so
// that their arguments do not grow the walkers' frames.

//go:noinline
func errHuge(n int) error {
	return fmt.Errorf("%w: %d bytes, over the 4 GiB any walk accepts", ErrTooLarge, n)
}

//go:noinline
func errNodes(maxNodes, off int) error {
	return fmt.Errorf("%w: more than %d at offset %d", ErrTooManyNodes, maxNodes, off)
}

//go:noinline
func errTruncatedAt(off int) error {
	return fmt.Errorf("%w at offset %d", ErrTruncated, off)
}

//go:noinline
func errBadByte(c byte, off int) error {
	return fmt.Errorf("%w: 0x%02x at offset %d", ErrBadByte, c, off)
}

//go:noinline
func errDeclared(n, left, off int) error {
	return fmt.Errorf("%w: %d declared, %d left at offset %d", ErrTruncated, n, left, off)
}

//go:noinline
func errMapEntries(n, left, off int) error {
	return fmt.Errorf("%w: map of %d entries, %d bytes left at offset %d", ErrTruncated, n, left, off)
}

//go:noinline
func errElements(n, left, off int) error {
	return fmt.Errorf("%w: %d elements declared, %d bytes left at offset %d", ErrTruncated, n, left, off)
}

//go:noinline
func errDepth(maxDepth int) error {
	return fmt.Errorf("%w (%d)", ErrTooDeep, maxDepth)
}
