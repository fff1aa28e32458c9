package text

import "errors"

// Run records are packed as unsigned LEB128 varints (7 bits a byte, low
// groups first, the high bit set on every byte but the last) inside one
// msgpack bin: a small count costs one byte where msgpack spends two or
// three from 128 up, and runs are most of a state's structure.

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// zigzag maps signed to unsigned so that small magnitudes stay small.
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

var (
	errVarintTruncated = errors.New("varint runs past the end")
	errVarintLong      = errors.New("varint longer than needed or than 64 bits")
)

// varints reads a varint stream, refusing a non-minimal or overlong form.
type varints struct {
	b   []byte
	off int
	err error
}

func (v *varints) next() uint64 {
	if v.err != nil {
		return 0
	}
	var x uint64
	for shift := uint(0); ; shift += 7 {
		if v.off >= len(v.b) {
			v.err = errVarintTruncated
			return 0
		}
		c := v.b[v.off]
		v.off++
		if shift == 63 && c > 1 {
			v.err = errVarintLong
			return 0
		}
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			if c == 0 && shift > 0 {
				v.err = errVarintLong // a trailing zero group: not minimal
				return 0
			}
			return x
		}
	}
}

func (v *varints) done() bool { return v.off == len(v.b) }
