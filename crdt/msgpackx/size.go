package msgpackx

import "math"

// The Size functions return how many bytes the matching Append function
// writes, without writing them: a caller that needs an encoding's length,
// not its bytes, adds them up.

// UintSize is the length of AppendUint(nil, v).
func UintSize(v uint64) int {
	switch {
	case v <= 0x7f:
		return 1
	case v <= math.MaxUint8:
		return 2
	case v <= math.MaxUint16:
		return 3
	case v <= math.MaxUint32:
		return 5
	}
	return 9
}

// IntSize is the length of AppendInt(nil, v).
func IntSize(v int64) int {
	switch {
	case v >= 0:
		return UintSize(uint64(v))
	case v >= -32:
		return 1
	case v >= math.MinInt8:
		return 2
	case v >= math.MinInt16:
		return 3
	case v >= math.MinInt32:
		return 5
	}
	return 9
}

// StringSize is the length of AppendString(nil, s) for a string of n bytes.
func StringSize(n int) int {
	switch {
	case n <= 31:
		return 1 + n
	case n <= math.MaxUint8:
		return 2 + n
	case n <= math.MaxUint16:
		return 3 + n
	}
	return 5 + n
}

// BytesSize is the length of AppendBytes(nil, v) for n bytes.
func BytesSize(n int) int {
	switch {
	case n <= math.MaxUint8:
		return 2 + n
	case n <= math.MaxUint16:
		return 3 + n
	}
	return 5 + n
}

// ArrayHeaderSize is the length of AppendArrayHeader(nil, n).
func ArrayHeaderSize(n int) int {
	switch {
	case n <= 15:
		return 1
	case n <= math.MaxUint16:
		return 3
	}
	return 5
}
