package hostile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// maxSafeInteger is the largest integer every client represents exactly
// (a JavaScript number's 2^53-1): wall times beyond it do not survive the
// browser SDK.
const maxSafeInteger = 1<<53 - 1

// checkLoadable returns what keeps enc, the server's encoded document, from
// loading on a fresh replica: it must decode, re-encode to the same bytes,
// render a view that marshals to JSON, hold only wall times every client
// can represent, and keep containers a tree.
func checkLoadable(enc []byte) []string {
	doc, err := workflow.Decode(enc, workflow.DocLimits)
	if err != nil {
		return []string{fmt.Sprintf("the server's document does not decode: %v", err)}
	}
	var faults []string
	if again := doc.Encode(); !bytes.Equal(again, enc) {
		faults = append(faults, "the server's document does not re-encode to the same bytes")
	}
	doc.Store().Range(func(k workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		for _, e := range es {
			if e.Value.Wall > maxSafeInteger || e.Value.Wall < -maxSafeInteger {
				faults = append(faults, fmt.Sprintf("the server's document holds wall time %d (%v at %v), which clients cannot represent", e.Value.Wall, k, e.Dot))
				return false
			}
			if v, err := e.Value.Value.Decode(); err != nil || !finite(v) {
				// A NaN compares unequal to itself on every replica, and
				// JSON has no spelling for NaN or ±Inf.
				faults = append(faults, fmt.Sprintf("the server's document holds a value that is not finite JSON at %v (%v)", k, err))
				return false
			}
		}
		return true
	})
	view := doc.View()
	if _, err := json.Marshal(view); err != nil {
		faults = append(faults, fmt.Sprintf("the server's document's view does not marshal to JSON: %v", err))
	}
	faults = append(faults, checkTree(view)...)
	return faults
}

// checkTree checks that every parentId in view names a container that is
// itself in the view, and that following parents ends at the top level.
func checkTree(view *workflow.View) []string {
	var faults []string
	parent := func(b *workflow.BlockView) (string, bool) {
		v, ok := b.Data[workflow.FieldParentID]
		if !ok || len(v) == 0 || v[0] == 0xc0 {
			return "", false
		}
		var s string
		if err := json.Unmarshal(mustJSON(v), &s); err != nil {
			return "", false
		}
		return s, s != ""
	}
	for id, b := range view.Blocks {
		seen := map[string]bool{id: true}
		cur := b
		for {
			p, ok := parent(cur)
			if !ok {
				break
			}
			next, exists := view.Blocks[p]
			if !exists {
				faults = append(faults, fmt.Sprintf("block %q: ancestor %q names a parent %q that is not in the view", id, cur.ID, p))
				break
			}
			if seen[p] {
				faults = append(faults, fmt.Sprintf("block %q: its containers form a cycle through %q", id, p))
				break
			}
			seen[p] = true
			cur = next
		}
	}
	return faults
}

// mustJSON renders a view value as JSON; a value that cannot be rendered
// gives JSON null.
func mustJSON(v workflow.Value) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("null")
	}
	return b
}

// finite reports whether a decoded value holds only finite numbers.
func finite(v any) bool {
	switch v := v.(type) {
	case float64:
		return !math.IsNaN(v) && !math.IsInf(v, 0)
	case float32:
		return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
	case []any:
		for _, e := range v {
			if !finite(e) {
				return false
			}
		}
	case map[string]any:
		for _, e := range v {
			if !finite(e) {
				return false
			}
		}
	}
	return true
}
