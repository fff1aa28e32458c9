package msgpackx

import (
	"bytes"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5"
)

// ValueLimits bounds a single field value: 1 MiB, 32 levels.
var ValueLimits = Limits{MaxBytes: 1 << 20, MaxDepth: 32}

// Canonical encodes v as canonical msgpack: map keys sorted, integers in their
// shortest form, floats that hold an integer written as that integer, other
// floats as float64. JSON-shaped values (nil, bool, numbers, strings, []any,
// map[string]any) round-trip through Decode unchanged up to that numeric
// normalization. A NaN or infinite float anywhere in v is refused with
// ErrNonFinite: no stored value may hold one (CheckCanonical refuses it too).
func Canonical(v any) ([]byte, error) {
	nv, err := normalize(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetSortMapKeys(true)
	enc.UseCompactInts(true)
	enc.UseCompactFloats(true)
	if err := enc.Encode(nv); err != nil {
		return nil, fmt.Errorf("msgpackx: encode value: %w", err)
	}
	// Values that are not JSON-shaped ([]float32, structs, maps with
	// integer keys) bypass normalize: hold every output to the rules the
	// decoders enforce rather than store what no decoder accepts.
	if err := CheckCanonical(buf.Bytes(), encodeLimits); err != nil {
		return nil, fmt.Errorf("msgpackx: encode value: %w", err)
	}
	return buf.Bytes(), nil
}

// encodeLimits bounds what Canonical writes: any size, and the deepest
// nesting Check can ever accept.
var encodeLimits = Limits{MaxBytes: math.MaxInt32, MaxDepth: 64}

// MustCanonical is Canonical for values built in code, which cannot fail.
func MustCanonical(v any) []byte {
	b, err := Canonical(v)
	if err != nil {
		panic(err)
	}
	return b
}

// normalize turns float32 into float64 so that both encode alike, refuses
// NaN and infinities, and recurses into JSON-shaped containers.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case float32:
		return normalize(float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%w: %v", ErrNonFinite, x)
		}
		return x, nil
	case []any:
		out := make([]any, len(x))
		for i := range x {
			var err error
			if out[i], err = normalize(x[i]); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return v, nil
}

// Decode checks b against lim and decodes it into JSON-shaped Go values:
// nil, bool, int64, uint64, float64, string, []byte, []any and
// map[string]any. Maps with keys that are not strings are refused.
func Decode(b []byte, lim Limits) (any, error) {
	if err := Check(b, lim); err != nil {
		return nil, err
	}
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	dec.SetMapDecoder(decodeStringMap)
	v, err := dec.DecodeInterface()
	if err != nil {
		return nil, fmt.Errorf("msgpackx: decode value: %w", err)
	}
	return widen(v), nil
}

// widen gives numbers one Go type per kind (int64, uint64 above MaxInt64,
// float64), whatever width the encoder chose, so callers can switch on them.
func widen(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint:
		return widenUint(uint64(x))
	case uint64:
		return widenUint(x)
	case float32:
		return float64(x)
	case []any:
		for i := range x {
			x[i] = widen(x[i])
		}
	case map[string]any:
		for k, e := range x {
			x[k] = widen(e)
		}
	}
	return v
}

func widenUint(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return u
}

func decodeStringMap(dec *msgpack.Decoder) (any, error) {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, nil
	}
	m := make(map[string]any, n)
	for i := 0; i < n; i++ {
		k, err := dec.DecodeString()
		if err != nil {
			return nil, fmt.Errorf("map key: %w", err)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("duplicate map key %q", k)
		}
		v, err := dec.DecodeInterface()
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}
