package faults

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// maxDiffLines bounds a diff: enough to say what diverged, short enough to
// read in a test log.
const maxDiffLines = 12

// Diff describes how b differs from a, in an editor's terms (blocks,
// fields, edges, variables) and in dots; "" when the documents are equal
// (same causal context, same view). aName and bName label the sides.
func Diff(aName string, a *workflow.Doc, bName string, b *workflow.Doc) string {
	var lines []string
	add := func(format string, args ...any) {
		if len(lines) < maxDiffLines {
			lines = append(lines, fmt.Sprintf(format, args...))
		} else if len(lines) == maxDiffLines {
			lines = append(lines, "…")
		}
	}
	if !a.Context().Equal(b.Context()) {
		if m := b.Context().Missing(a.Context()); !m.IsEmpty() {
			add("%s lacks dots %s", aName, dots(m))
		}
		if m := a.Context().Missing(b.Context()); !m.IsEmpty() {
			add("%s lacks dots %s", bName, dots(m))
		}
	}
	va, vb := a.View(), b.View()
	diffMap(add, "block", aName, bName, va.Blocks, vb.Blocks)
	diffMap(add, "variable", aName, bName, va.Variables, vb.Variables)
	diffMap(add, "loop", aName, bName, va.Loops, vb.Loops)
	diffMap(add, "parallel", aName, bName, va.Parallels, vb.Parallels)
	ea, eb := make(map[string]workflow.Edge), make(map[string]workflow.Edge)
	for _, e := range va.Edges {
		ea[e.ID] = e
	}
	for _, e := range vb.Edges {
		eb[e.ID] = e
	}
	diffMap(add, "edge", aName, bName, ea, eb)
	if len(lines) == 0 && !a.Equal(b) {
		add("same context and view, different stored values: %s", storeDiff(aName, a, bName, b))
	}
	return strings.Join(lines, "; ")
}

// storeDiff names the first stored values (hidden orphans, concurrent
// values) that one document holds and the other does not, or holds with
// other content.
func storeDiff(aName string, a *workflow.Doc, bName string, b *workflow.Doc) string {
	var out []string
	one := func(xName string, x *workflow.Doc, yName string, y *workflow.Doc) {
		x.Store().Range(func(k workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
			for _, e := range es {
				yk, held := y.Store().KeyOf(e.Dot)
				switch {
				case !held:
					out = append(out, fmt.Sprintf("%s holds %v=%s under %s, %s does not", xName, k, short(fmt.Sprintf("%q", e.Value.Value)), e.Dot, yName))
				case yk != k:
					out = append(out, fmt.Sprintf("%s holds %s under %v, %s under %v", xName, e.Dot, k, yName, yk))
				default:
					for _, f := range y.Store().Get(k) {
						if f.Dot == e.Dot && (f.Value.Wall != e.Value.Wall || f.Value.Logical != e.Value.Logical || string(f.Value.Value) != string(e.Value.Value)) {
							out = append(out, fmt.Sprintf("%v under %s: %s has %q, %s has %q", k, e.Dot, xName, e.Value.Value, yName, f.Value.Value))
						}
					}
				}
				if len(out) >= 3 {
					return false
				}
			}
			return true
		})
	}
	one(aName, a, bName, b)
	if len(out) < 3 {
		one(bName, b, aName, a)
	}
	return strings.Join(out, "; ")
}

// dots renders a context compactly: replica:lo-hi,… per replica.
func dots(c *crdt.Context) string {
	var parts []string
	for _, r := range c.Replicas() {
		var rs []string
		for _, rg := range c.Ranges(r) {
			if rg.Lo == rg.Hi {
				rs = append(rs, fmt.Sprint(rg.Lo))
			} else {
				rs = append(rs, fmt.Sprintf("%d-%d", rg.Lo, rg.Hi))
			}
		}
		parts = append(parts, string(r)+":"+strings.Join(rs, ","))
	}
	return strings.Join(parts, " ")
}

// diffMap compares two id-keyed parts of the views, field by field.
func diffMap[V any](add func(string, ...any), kind, aName, bName string, a, b map[string]V) {
	for _, id := range slices.Sorted(maps.Keys(a)) {
		vb, ok := b[id]
		if !ok {
			add("%s %q: in %s, not in %s", kind, id, aName, bName)
			continue
		}
		fa, fb := fields(a[id]), fields(vb)
		for _, f := range slices.Sorted(maps.Keys(fa)) {
			if fa[f] != fb[f] {
				add("%s %q %s: %s has %s, %s has %s", kind, id, f, aName, short(fa[f]), bName, short(fb[f]))
			}
		}
		for _, f := range slices.Sorted(maps.Keys(fb)) {
			if _, ok := fa[f]; !ok {
				add("%s %q %s: %s has none, %s has %s", kind, id, f, aName, bName, short(fb[f]))
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[id]; !ok {
			add("%s %q: in %s, not in %s", kind, id, bName, aName)
		}
	}
}

// fields flattens a view value to JSON per top-level field (sub-blocks
// per sub-block), so a diff names the field that differs.
func fields(v any) map[string]string {
	raw, _ := json.Marshal(v)
	var m map[string]json.RawMessage
	out := make(map[string]string)
	if json.Unmarshal(raw, &m) != nil {
		out[""] = string(raw)
		return out
	}
	for k, v := range m {
		if k == "subBlocks" {
			var subs map[string]json.RawMessage
			if json.Unmarshal(v, &subs) == nil {
				for s, sv := range subs {
					out["subBlocks."+s] = string(sv)
				}
				continue
			}
		}
		out[k] = string(v)
	}
	return out
}

func short(s string) string {
	if len(s) > 80 {
		return s[:77] + "…"
	}
	return s
}
