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
	"errors"
	"fmt"
	"math"
)

// Limits bounds what Check accepts. Zero fields take the defaults.
type Limits struct {
	// MaxBytes caps the encoded size. Default: 16 MiB. Inputs over 4 GiB
	// are refused whatever it says: the walkers keep offsets and counts in
	// 32 bits.
	MaxBytes int
	// MaxDepth caps the nesting of arrays and maps. Default: 32; no
	// walker accepts more than 64 levels, whatever it says.
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
