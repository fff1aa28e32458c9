package workflow

import "encoding/json"

func jsonMarshal(v any) ([]byte, error) {
	if b, ok := v.([]byte); ok {
		// msgpack bin has no JSON form; render it as a string of its bytes.
		return json.Marshal(string(b))
	}
	return json.Marshal(v)
}
