package workflow

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// opParsers maps (target, operation) to the parser of its payload. The keys
// are the names the system flowsync replaces uses on its wire, legacy
// operations included, so that its clients' payloads parse unchanged.
var opParsers = map[[2]string]func(*wire) Op{
	{"block", "update-position"}: func(p *wire) Op {
		return UpdatePosition{ID: p.id("id"), Position: p.position("position")}
	},
	{"block", "update-name"}:    func(p *wire) Op { return UpdateName{ID: p.id("id"), NewName: p.str("name")} },
	{"block", "toggle-enabled"}: func(p *wire) Op { return ToggleEnabled{ID: p.id("id")} },
	{"block", "update-parent"}: func(p *wire) Op {
		return UpdateParent{ID: p.id("id"), ParentID: p.optStr("parentId"), Extent: p.optStr("extent")}
	},
	{"block", "update-advanced-mode"}: func(p *wire) Op {
		return UpdateAdvancedMode{ID: p.id("id"), AdvancedMode: p.boolean("advancedMode")}
	},
	{"block", "update-error-enabled"}: func(p *wire) Op {
		return UpdateErrorEnabled{ID: p.id("id"), ErrorEnabled: p.boolean("errorEnabled")}
	},
	{"block", "update-retry"}: func(p *wire) Op { return UpdateRetry{ID: p.id("id"), Retry: p.optObject("retry")} },
	{"block", "update-canonical-mode"}: func(p *wire) Op {
		return UpdateCanonicalMode{ID: p.id("id"), CanonicalID: p.str("canonicalId"), Mode: p.str("canonicalMode")}
	},
	{"block", "replace-canonical-modes"}: func(p *wire) Op {
		data := p.sub("data")
		return ReplaceCanonicalModes{ID: p.id("id"), Modes: data.stringMap("canonicalModes")}
	},
	{"block", "toggle-handles"}: func(p *wire) Op {
		return ToggleHandles{ID: p.id("id"), HorizontalHandles: p.boolean("horizontalHandles")}
	},
	{"block", "add"}: func(p *wire) Op {
		op := AddBlock{Block: p.block()}
		if p.present("autoConnectEdge") {
			e := p.sub("autoConnectEdge").edge()
			op.AutoConnectEdge = &e
		}
		return op
	},
	{"block", "remove"}: func(p *wire) Op { return RemoveBlock{ID: p.id("id")} },
	{"block", "duplicate"}: func(p *wire) Op {
		return DuplicateBlock{SourceID: p.id("sourceId"), ID: p.id("id"), NewName: p.optStr("name"), Position: p.optPosition("position")}
	},
	{"block", "update-wide"}: func(p *wire) Op { return UpdateWide{ID: p.id("id"), IsWide: p.boolean("isWide")} },
	{"block", "update-trigger-mode"}: func(p *wire) Op {
		return UpdateTriggerMode{ID: p.id("id"), TriggerMode: p.boolean("triggerMode")}
	},

	{"blocks", "batch-update-positions"}: func(p *wire) Op {
		var op BatchUpdatePositions
		p.each("updates", func(u *wire) {
			op.Updates = append(op.Updates, PositionUpdate{ID: u.id("id"), Position: u.position("position")})
		})
		return op
	},
	{"blocks", "batch-add-blocks"}: func(p *wire) Op {
		var op BatchAddBlocks
		p.each("blocks", func(b *wire) { op.Blocks = append(op.Blocks, b.block()) })
		p.eachOpt("edges", func(e *wire) { op.Edges = append(op.Edges, e.edge()) })
		op.Loops = p.objectMap("loops")
		op.Parallels = p.objectMap("parallels")
		op.SubBlockValues = p.objectMap("subBlockValues")
		return op
	},
	{"blocks", "batch-remove-blocks"}: func(p *wire) Op { return BatchRemoveBlocks{IDs: p.strings("ids")} },
	{"blocks", "batch-toggle-enabled"}: func(p *wire) Op {
		return BatchToggleEnabled{BlockIDs: p.strings("blockIds"), PreviousStates: p.boolMap("previousStates")}
	},
	{"blocks", "batch-toggle-handles"}: func(p *wire) Op {
		return BatchToggleHandles{BlockIDs: p.strings("blockIds"), PreviousStates: p.boolMap("previousStates")}
	},
	{"blocks", "batch-toggle-locked"}: func(p *wire) Op {
		return BatchToggleLocked{BlockIDs: p.strings("blockIds"), PreviousStates: p.boolMap("previousStates")}
	},
	{"blocks", "batch-update-parent"}: func(p *wire) Op {
		var op BatchUpdateParent
		p.each("updates", func(u *wire) {
			op.Updates = append(op.Updates, ParentUpdate{ID: u.id("id"), ParentID: u.optStr("parentId"), Position: u.optPosition("position")})
		})
		return op
	},

	{"edge", "add"}:    func(p *wire) Op { return AddEdge{Edge: p.edge()} },
	{"edge", "remove"}: func(p *wire) Op { return RemoveEdge{ID: p.id("id")} },
	{"edges", "batch-add-edges"}: func(p *wire) Op {
		var op BatchAddEdges
		p.each("edges", func(e *wire) { op.Edges = append(op.Edges, e.edge()) })
		return op
	},
	{"edges", "batch-remove-edges"}: func(p *wire) Op { return BatchRemoveEdges{IDs: p.strings("ids")} },

	{"subflow", "update"}: func(p *wire) Op {
		return UpdateSubflow{ID: p.id("id"), Type: p.optStr("type"), Config: p.object("config")}
	},
	{"subflow", "add"}:    func(p *wire) Op { return AddSubflow{Block: p.block(), Config: p.optObject("config")} },
	{"subflow", "remove"}: func(p *wire) Op { return RemoveSubflow{ID: p.id("id")} },
	{"subflow", "duplicate-with-children"}: func(p *wire) Op {
		return DuplicateSubflowWithChildren{SourceID: p.id("sourceId"), ID: p.id("id"), IDMap: p.stringMap("idMap"), Position: p.optPosition("position")}
	},

	{"text", "text-insert"}: func(p *wire) Op {
		return InsertText{TextTarget: p.textTarget(), Index: p.index("index"), Text: p.str("text")}
	},
	{"text", "text-delete"}: func(p *wire) Op {
		return DeleteText{TextTarget: p.textTarget(), Index: p.index("index"), Length: p.index("length")}
	},

	{"subblock", "subblock-update"}: func(p *wire) Op {
		return UpdateSubBlock{BlockID: p.id("blockId"), SubBlockID: p.id("subblockId"), Value: p.value("value")}
	},
	{"subblock", "subblock-batch-update"}: func(p *wire) Op {
		var op SubBlockBatchUpdate
		p.each("updates", func(u *wire) {
			op.Updates = append(op.Updates, SubBlockUpdate{
				BlockID: u.id("blockId"), SubBlockID: u.id("subblockId"), Value: u.value("value"),
				ExpectedValue: u.value("expectedValue"), HasExpected: u.present("expectedValue"),
			})
		})
		return op
	},

	{"variable", "add"}: func(p *wire) Op {
		return AddVariable{ID: p.id("id"), VarName: p.optStr("name"), Type: p.optStr("type"), Value: p.value("value")}
	},
	{"variable", "remove"}: func(p *wire) Op { return RemoveVariable{ID: p.id("variableId")} },
	{"variable", "variable-update"}: func(p *wire) Op {
		return UpdateVariable{ID: p.id("variableId"), Field: p.str("field"), Value: p.value("value")}
	},
	{"variable", "duplicate"}: func(p *wire) Op { return DuplicateVariable{SourceID: p.id("sourceId"), ID: p.id("id")} },

	{"workflow", "replace-state"}: func(p *wire) Op {
		s := p.sub("state")
		op := ReplaceState{Blocks: map[string]BlockInput{}}
		for _, id := range s.keys("blocks") {
			in := s.sub("blocks").sub(id).block()
			op.Blocks[id] = in
		}
		s.eachOpt("edges", func(e *wire) { op.Edges = append(op.Edges, e.edge()) })
		op.Loops = s.objectMap("loops")
		op.Parallels = s.objectMap("parallels")
		return op
	},
}

// ParseOp builds the operation named by (operation, target) from its
// payload in the replaced system's wire shape (JSON-shaped, numbers as
// float64 or int64). The two separate events are reachable too: ("subblock-update",
// "subblock") and ("variable-update", "variable"). It fails with ErrInvalid
// for an unknown pair or a missing or mistyped field (named in the error),
// and with ErrNoEffect for an update-position without commit, which the
// reference never persists (live drags travel as frames, not operations).
func ParseOp(operation, target string, payload map[string]any) (Op, error) {
	parse, ok := opParsers[[2]string{target, operation}]
	if !ok {
		return nil, errorf(ErrInvalid, "unknown operation %q on target %q", operation, target)
	}
	if target == "block" && operation == "update-position" {
		if c, ok := payload["commit"].(bool); ok && !c {
			return nil, errorf(ErrNoEffect, "update-position without commit")
		}
	}
	p := newWire(payload, operation)
	op := parse(p)
	if *p.err != nil {
		return nil, *p.err
	}
	return op, nil
}

// ParseSubBlockUpdate builds the "subblock-update" event's operation from
// its payload (blockId, subblockId, value).
func ParseSubBlockUpdate(payload map[string]any) (Op, error) {
	return ParseOp("subblock-update", "subblock", payload)
}

// ParseVariableUpdate builds the "variable-update" event's operation from
// its payload (variableId, field, value).
func ParseVariableUpdate(payload map[string]any) (Op, error) {
	return ParseOp("variable-update", "variable", payload)
}

// Operations lists every supported (target, operation) pair, sorted.
func Operations() [][2]string {
	return slices.SortedFunc(maps.Keys(opParsers), func(a, b [2]string) int {
		if a[0] != b[0] {
			return cmpString(a[0], b[0])
		}
		return cmpString(a[1], b[1])
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// wire reads one JSON-shaped object of a payload. The first type error is
// kept (shared with the readers of nested objects) and every later read
// returns zero values, so parsers read straight through and check once.
type wire struct {
	m    map[string]any
	path string
	err  *error
}

func newWire(m map[string]any, path string) *wire {
	return &wire{m: m, path: path, err: new(error)}
}

func (p *wire) fail(field, want string) {
	if *p.err == nil {
		*p.err = errorf(ErrInvalid, "%s.%s: want %s", p.path, field, want)
	}
}

func (p *wire) present(field string) bool {
	_, ok := p.m[field]
	return ok
}

// value returns a field as is (any JSON value, nil if absent).
func (p *wire) value(field string) any { return p.m[field] }

// str reads a required string.
func (p *wire) str(field string) string {
	s, ok := p.m[field].(string)
	if !ok {
		p.fail(field, "a string")
	}
	return s
}

// id reads a required, non-empty string.
func (p *wire) id(field string) string {
	s := p.str(field)
	if s == "" {
		p.fail(field, "a non-empty id")
	}
	return s
}

// optStr reads an optional string; absent and null read as "".
func (p *wire) optStr(field string) string {
	v := p.m[field]
	if v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.fail(field, "a string or null")
	}
	return s
}

func (p *wire) boolean(field string) bool {
	b, ok := p.m[field].(bool)
	if !ok {
		p.fail(field, "a boolean")
	}
	return b
}

func (p *wire) optBool(field string) *bool {
	if p.m[field] == nil {
		return nil
	}
	b := p.boolean(field)
	return &b
}

func (p *wire) number(field string) float64 {
	f, ok := toFloat(p.m[field])
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		p.fail(field, "a finite number")
	}
	return f
}

// index reads a required position or length: an integer in [0, 2^31).
func (p *wire) index(field string) int {
	f := p.number(field)
	if f < 0 || f >= 1<<31 || f != math.Trunc(f) {
		p.fail(field, "an integer from 0")
		return 0
	}
	return int(f)
}

// textTarget reads a text field's address: variableId, or blockId and
// subblockId.
func (p *wire) textTarget() TextTarget {
	if p.present("variableId") {
		return TextTarget{VariableID: p.id("variableId")}
	}
	return TextTarget{BlockID: p.id("blockId"), SubBlockID: p.id("subblockId")}
}

func (p *wire) optNumber(field string) *float64 {
	if p.m[field] == nil {
		return nil
	}
	f := p.number(field)
	return &f
}

// object reads a required object.
func (p *wire) object(field string) map[string]any {
	m, ok := p.m[field].(map[string]any)
	if !ok {
		p.fail(field, "an object")
	}
	return m
}

// optObject reads an optional object; null reads as nil.
func (p *wire) optObject(field string) map[string]any {
	if p.m[field] == nil {
		return nil
	}
	return p.object(field)
}

// sub returns a reader for a nested object (required).
func (p *wire) sub(field string) *wire {
	return &wire{m: p.object(field), path: p.path + "." + field, err: p.err}
}

// keys returns the sorted keys of a nested object.
func (p *wire) keys(field string) []string { return slices.Sorted(maps.Keys(p.object(field))) }

func (p *wire) position(field string) Position {
	q := p.sub(field)
	return Position{X: q.number("x"), Y: q.number("y")}
}

func (p *wire) optPosition(field string) *Position {
	if p.m[field] == nil {
		return nil
	}
	pos := p.position(field)
	return &pos
}

// list reads an array; optional lists read absent or null as empty.
func (p *wire) list(field string, required bool) []any {
	v := p.m[field]
	if v == nil && !required {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		p.fail(field, "an array")
	}
	return l
}

// each calls fn with a reader for each object of a required array.
func (p *wire) each(field string, fn func(*wire)) { p.eachIn(field, true, fn) }

// eachOpt is each for an optional array.
func (p *wire) eachOpt(field string, fn func(*wire)) { p.eachIn(field, false, fn) }

func (p *wire) eachIn(field string, required bool, fn func(*wire)) {
	for i, v := range p.list(field, required) {
		m, ok := v.(map[string]any)
		if !ok {
			p.fail(fmt.Sprintf("%s[%d]", field, i), "an object")
			return
		}
		fn(&wire{m: m, path: fmt.Sprintf("%s.%s[%d]", p.path, field, i), err: p.err})
	}
}

func (p *wire) strings(field string) []string {
	l := p.list(field, true)
	out := make([]string, 0, len(l))
	for i, v := range l {
		s, ok := v.(string)
		if !ok {
			p.fail(fmt.Sprintf("%s[%d]", field, i), "a string")
			return nil
		}
		out = append(out, s)
	}
	return out
}

// stringMap reads an optional object of strings.
func (p *wire) stringMap(field string) map[string]string {
	m := p.optObject(field)
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			p.fail(field+"."+k, "a string")
			return nil
		}
		out[k] = s
	}
	return out
}

// boolMap reads an optional object of booleans.
func (p *wire) boolMap(field string) map[string]bool {
	m := p.optObject(field)
	out := make(map[string]bool, len(m))
	for k, v := range m {
		b, ok := v.(bool)
		if !ok {
			p.fail(field+"."+k, "a boolean")
			return nil
		}
		out[k] = b
	}
	return out
}

// objectMap reads an optional object of objects.
func (p *wire) objectMap(field string) map[string]map[string]any {
	m := p.optObject(field)
	if m == nil {
		return nil
	}
	out := make(map[string]map[string]any, len(m))
	for k, v := range m {
		o, ok := v.(map[string]any)
		if !ok {
			p.fail(field+"."+k, "an object")
			return nil
		}
		out[k] = o
	}
	return out
}

func (p *wire) edge() EdgeInput {
	return EdgeInput{
		ID:           p.id("id"),
		Source:       p.id("source"),
		Target:       p.id("target"),
		SourceHandle: p.optStr("sourceHandle"),
		TargetHandle: p.optStr("targetHandle"),
		Type:         p.optStr("type"),
	}
}

// block reads a full block record. The legacy top-level parentId and extent
// (real columns before they moved into data) are folded into Data.
func (p *wire) block() BlockInput {
	in := BlockInput{
		ID:                p.id("id"),
		Type:              p.str("type"),
		Name:              p.optStr("name"),
		Position:          p.optPosition("position"),
		Outputs:           p.value("outputs"),
		Enabled:           p.optBool("enabled"),
		HorizontalHandles: p.optBool("horizontalHandles"),
		IsWide:            p.optBool("isWide"),
		AdvancedMode:      p.optBool("advancedMode"),
		TriggerMode:       p.optBool("triggerMode"),
		ErrorEnabled:      p.optBool("errorEnabled"),
		Locked:            p.optBool("locked"),
		Height:            p.optNumber("height"),
		Data:              maps.Clone(p.optObject("data")),
		Retry:             p.value("retry"),
	}
	for _, k := range []string{"parentId", "extent"} {
		if v := p.optStr(k); v != "" {
			if in.Data == nil {
				in.Data = map[string]any{}
			}
			if _, set := in.Data[k]; !set {
				in.Data[k] = v
			}
		}
	}
	if p.m["subBlocks"] != nil {
		subs := p.sub("subBlocks")
		in.SubBlocks = make(map[string]SubBlockInput, len(subs.m))
		for _, sid := range slices.Sorted(maps.Keys(subs.m)) {
			s := subs.sub(sid)
			in.SubBlocks[sid] = SubBlockInput{ID: sid, Type: s.optStr("type"), Value: s.value("value")}
		}
	}
	return in
}
