package workflow

// The sequential model used as the oracle by TestModelSingleReplica
// (model_prop_test.go): plain Go maps mutated in place, one operation at a
// time, with the effects the operations document. It implements no
// validation: an operation the document refuses is not applied to the model
// at all. The only checks it repeats are the per-entry skips of the batch
// operations (unknown or protected blocks, a bad parent), because they decide
// which effects a partly skipped batch has, and the compare-and-set of
// subblock-batch-update (expectationHolds), which is one comparison.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/flowsync/flowsync/crdt/msgpackx"
)

type mBlock struct {
	Type, Name                 string
	Pos                        Position
	Enabled, HorizontalHandles bool
	IsWide, AdvancedMode       bool
	TriggerMode, ErrorEnabled  bool
	Locked                     bool
	Height                     float64
	Parent, Extent             string // "" = none
	Data                       map[string]any
	Modes                      map[string]string
	Outputs, Retry             any // nil = absent
	Subs                       map[string]*mSub
}

// mSub is a sub-block; Type "" means no type was ever recorded.
type mSub struct {
	Type  string
	Value any
}

type mVar struct {
	Name, Type string
	Value      any
}

type model struct {
	blocks   map[string]*mBlock
	edges    map[string]Edge
	subflows map[string]map[string]any // container id → config (any block id after replace-state)
	vars     map[string]*mVar
}

func newModel() *model {
	return &model{
		blocks:   map[string]*mBlock{},
		edges:    map[string]Edge{},
		subflows: map[string]map[string]any{},
		vars:     map[string]*mVar{},
	}
}

func (b *mBlock) clone() *mBlock {
	c := *b
	c.Data = maps.Clone(b.Data)
	c.Modes = maps.Clone(b.Modes)
	c.Subs = make(map[string]*mSub, len(b.Subs))
	for k, s := range b.Subs {
		s2 := *s
		c.Subs[k] = &s2
	}
	return &c
}

func (m *model) clone() *model {
	c := newModel()
	for id, b := range m.blocks {
		c.blocks[id] = b.clone()
	}
	maps.Copy(c.edges, m.edges)
	for id, cfg := range m.subflows {
		c.subflows[id] = maps.Clone(cfg)
	}
	for id, v := range m.vars {
		v2 := *v
		c.vars[id] = &v2
	}
	return c
}

// ---- helpers over the model ----

func (m *model) blk(id string) *mBlock {
	b := m.blocks[id]
	if b == nil {
		panic(fmt.Sprintf("model: an accepted operation touches block %q, which the model does not have", id))
	}
	return b
}

func (m *model) protected(id string) bool {
	for n := 0; id != "" && n < 64; n++ {
		b := m.blocks[id]
		if b == nil {
			return false
		}
		if b.Locked {
			return true
		}
		id = b.Parent
	}
	return false
}

func (m *model) usable(id string) bool { return m.blocks[id] != nil && !m.protected(id) }

func (m *model) children(id string) []string {
	var out []string
	for c, b := range m.blocks {
		if b.Parent == id {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// withDescendants: ids (deduplicated, in order), then their descendants
// breadth first, children by id; keep (if not nil) filters descendants.
func (m *model) withDescendants(ids []string, keep func(string) bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	for i := 0; i < len(out); i++ {
		for _, c := range m.children(out[i]) {
			if !seen[c] && (keep == nil || keep(c)) {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// canParent is the parent check batch-update-parent skips entries on.
func (m *model) canParent(id, parent string) bool {
	p := m.blocks[parent]
	if p == nil || !IsContainer(p.Type) || m.protected(parent) {
		return false
	}
	for q := parent; q != ""; q = m.blocks[q].Parent {
		if q == id {
			return false
		}
	}
	return true
}

// normName is the name normalization of the spec: lower-cased, whitespace
// and dots removed (ASCII is all the generator uses).
func normName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v' || r == '\u00a0' {
			return -1
		}
		return r
	}, strings.ToLower(s))
}

func (m *model) names() map[string]bool {
	out := map[string]bool{}
	for _, b := range m.blocks {
		if n := normName(b.Name); n != "" {
			out[n] = true
		}
	}
	return out
}

// copyName: "<base> (copy)", "<base> (copy 2)", ... the first whose
// normalized form is free; an empty or reserved base becomes "Block".
func copyNameModel(base string, taken map[string]bool) string {
	if n := normName(base); n == "" || n == "loop" || n == "parallel" || n == "variable" {
		base = "Block"
	}
	for i := 1; ; i++ {
		name := base + " (copy)"
		if i > 1 {
			name = base + " (copy " + strconv.Itoa(i) + ")"
		}
		if !taken[normName(name)] {
			return name
		}
	}
}

func (m *model) removeTree(ids []string) {
	set := map[string]bool{}
	for _, id := range m.withDescendants(ids, nil) {
		set[id] = true
		delete(m.blocks, id)
		delete(m.subflows, id)
	}
	for id, e := range m.edges {
		if set[e.Source] || set[e.Target] {
			delete(m.edges, id)
		}
	}
}

func (m *model) setParent(id, parent, extent string) {
	b := m.blk(id)
	if parent == "" {
		b.Parent, b.Extent = "", ""
		return
	}
	b.Parent = parent
	if extent != "" {
		b.Extent = extent
	}
}

func (m *model) writeBlock(in BlockInput) {
	b := &mBlock{
		Type: in.Type, Name: in.Name,
		Enabled: true, HorizontalHandles: true,
		Data: map[string]any{}, Modes: map[string]string{}, Subs: map[string]*mSub{},
		Outputs: in.Outputs, Retry: in.Retry,
	}
	if in.Position != nil {
		b.Pos = *in.Position
	}
	for _, f := range []struct {
		dst *bool
		v   *bool
	}{
		{&b.Enabled, in.Enabled}, {&b.HorizontalHandles, in.HorizontalHandles}, {&b.IsWide, in.IsWide},
		{&b.AdvancedMode, in.AdvancedMode}, {&b.TriggerMode, in.TriggerMode},
		{&b.ErrorEnabled, in.ErrorEnabled}, {&b.Locked, in.Locked},
	} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if in.Height != nil {
		b.Height = *in.Height
	}
	for k, v := range in.Data {
		switch k {
		case "parentId":
			b.Parent, _ = v.(string)
		case "extent":
			b.Extent, _ = v.(string)
		case "canonicalModes":
			switch x := v.(type) {
			case map[string]string:
				maps.Copy(b.Modes, x)
			case map[string]any:
				for cid, mode := range x {
					b.Modes[cid] = mode.(string)
				}
			}
		default:
			if v != nil {
				b.Data[k] = v
			}
		}
	}
	for sid, sb := range in.SubBlocks {
		v := sb.Value
		if v == nil && IsTextSubBlockType(sb.Type) {
			v = "" // a new text field is an empty text
		}
		b.Subs[sid] = &mSub{Type: sb.Type, Value: v}
	}
	m.blocks[in.ID] = b
}

// writeConfig merges config shallowly; nodes and id are derived, batchSize
// is rounded and clamped to 1..20.
func (m *model) writeConfig(id string, config map[string]any) {
	for k, v := range config {
		if k == "nodes" || k == "id" {
			continue
		}
		if k == "batchSize" {
			f, _ := modelNum(v)
			v = math.Min(math.Max(math.Round(f), 1), 20)
		}
		if m.subflows[id] == nil {
			m.subflows[id] = map[string]any{}
		}
		m.subflows[id][k] = v
	}
}

func defaultConfig(typ string) map[string]any {
	if typ == TypeLoop {
		return map[string]any{"loopType": "for", "iterations": 5}
	}
	return map[string]any{"parallelType": "count", "count": 5, "batchSize": 20}
}

func (m *model) addEdge(in EdgeInput) {
	m.edges[in.ID] = Edge{
		ID: in.ID, Source: in.Source, Target: in.Target, Type: in.Type,
		SourceHandle: canonHandle(in.SourceHandle), TargetHandle: canonHandle(in.TargetHandle),
	}
}

func canonHandle(h string) string {
	if rest, ok := strings.CutPrefix(h, "source-"); ok && (rest == "top" || rest == "right" || rest == "bottom" || rest == "left") {
		return "source"
	}
	if rest, ok := strings.CutPrefix(h, "target-"); ok && (rest == "top" || rest == "right" || rest == "bottom" || rest == "left") {
		return "target"
	}
	return h
}

func (m *model) writeSub(u SubBlockUpdate) {
	b := m.blk(u.BlockID)
	s := b.Subs[u.SubBlockID]
	if s == nil {
		s = &mSub{}
		b.Subs[u.SubBlockID] = s
	}
	if s.Type == "" {
		s.Type = "unknown"
	}
	s.Value = u.Value
}

// expectationHolds: the compare-and-set of a sub-block update holds when
// no value is expected or the current one encodes the same (an absent value
// matching nil).
func (m *model) expectationHolds(u SubBlockUpdate) bool {
	if !u.HasExpected {
		return true
	}
	var cur any
	if s := m.blk(u.BlockID).Subs[u.SubBlockID]; s != nil {
		cur = s.Value
	}
	return string(enc(cur)) == string(enc(u.ExpectedValue))
}

func (m *model) duplicate(src, dst, name string, pos Position) {
	c := m.blk(src).clone()
	c.Name, c.Pos, c.Locked = name, pos, false
	m.blocks[dst] = c
	if cfg, ok := m.subflows[src]; ok {
		m.subflows[dst] = maps.Clone(cfg)
	}
}

// apply applies the effects of an operation the document accepted.
func (m *model) apply(op Op) {
	switch op := op.(type) {
	case UpdatePosition:
		m.blk(op.ID).Pos = op.Position
	case UpdateName:
		m.blk(op.ID).Name = op.NewName
	case ToggleEnabled:
		b := m.blk(op.ID)
		b.Enabled = !b.Enabled
	case UpdateParent:
		m.setParent(op.ID, op.ParentID, op.Extent)
	case UpdateAdvancedMode:
		m.blk(op.ID).AdvancedMode = op.AdvancedMode
	case UpdateErrorEnabled:
		m.blk(op.ID).ErrorEnabled = op.ErrorEnabled
	case UpdateRetry:
		b := m.blk(op.ID)
		b.Retry = nil
		if op.Retry != nil {
			b.Retry = op.Retry
		}
	case UpdateCanonicalMode:
		m.blk(op.ID).Modes[op.CanonicalID] = op.Mode
	case ReplaceCanonicalModes:
		b := m.blk(op.ID)
		b.Modes = maps.Clone(op.Modes)
		if b.Modes == nil {
			b.Modes = map[string]string{}
		}
	case ToggleHandles:
		m.blk(op.ID).HorizontalHandles = op.HorizontalHandles
	case UpdateWide:
		m.blk(op.ID).IsWide = op.IsWide
	case UpdateTriggerMode:
		m.blk(op.ID).TriggerMode = op.TriggerMode
	case AddBlock:
		batch := BatchAddBlocks{Blocks: []BlockInput{op.Block}}
		if op.AutoConnectEdge != nil {
			batch.Edges = []EdgeInput{*op.AutoConnectEdge}
		}
		m.apply(batch)
	case RemoveBlock:
		m.removeTree([]string{op.ID})
	case DuplicateBlock:
		src := m.blk(op.SourceID)
		name := op.NewName
		if name == "" {
			name = copyNameModel(src.Name, m.names())
		}
		pos := Position{src.Pos.X + 50, src.Pos.Y + 50}
		if op.Position != nil {
			pos = *op.Position
		}
		m.duplicate(op.SourceID, op.ID, name, pos)

	case BatchUpdatePositions:
		for _, u := range op.Updates {
			if m.usable(u.ID) {
				m.blocks[u.ID].Pos = u.Position
			}
		}
	case BatchAddBlocks:
		for _, in := range op.Blocks {
			if vals := op.SubBlockValues[in.ID]; len(vals) > 0 {
				subs := maps.Clone(in.SubBlocks)
				if subs == nil {
					subs = map[string]SubBlockInput{}
				}
				for sid, v := range vals {
					sb, ok := subs[sid]
					if !ok {
						sb = SubBlockInput{Type: "short-input"}
					}
					sb.Value = v
					subs[sid] = sb
				}
				in.SubBlocks = subs
			}
			m.writeBlock(in)
			var cfg map[string]any
			var given bool
			switch in.Type {
			case TypeLoop:
				cfg, given = op.Loops[in.ID]
			case TypeParallel:
				cfg, given = op.Parallels[in.ID]
			default:
				continue
			}
			if !given {
				cfg = defaultConfig(in.Type)
			}
			m.writeConfig(in.ID, cfg)
		}
		for _, e := range op.Edges {
			m.addEdge(e)
		}
	case BatchRemoveBlocks:
		var ids []string
		for _, id := range op.IDs {
			if m.usable(id) {
				ids = append(ids, id)
			}
		}
		m.removeTree(ids)
	case BatchToggleEnabled:
		var ids []string
		for _, id := range op.BlockIDs {
			if m.usable(id) {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return
		}
		target := !m.blk(ids[0]).Enabled
		for _, id := range m.withDescendants(ids, func(id string) bool { return !m.protected(id) }) {
			m.blocks[id].Enabled = target
		}
	case BatchToggleHandles:
		done := map[string]bool{}
		for _, id := range op.BlockIDs {
			if !done[id] && m.usable(id) {
				done[id] = true
				m.blocks[id].HorizontalHandles = !m.blocks[id].HorizontalHandles
			}
		}
	case BatchToggleLocked:
		var ids []string
		for _, id := range op.BlockIDs {
			if m.blocks[id] != nil {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return
		}
		target := !m.blk(ids[0]).Locked
		for _, id := range m.withDescendants(ids, nil) {
			m.blocks[id].Locked = target
		}
	case BatchUpdateParent:
		for _, u := range op.Updates {
			if !m.usable(u.ID) || (u.ParentID != "" && !m.canParent(u.ID, u.ParentID)) {
				continue
			}
			m.setParent(u.ID, u.ParentID, "parent")
			if u.Position != nil {
				m.blocks[u.ID].Pos = *u.Position
			}
		}

	case AddEdge:
		m.addEdge(op.Edge)
	case BatchAddEdges:
		for _, e := range op.Edges {
			m.addEdge(e)
		}
	case RemoveEdge:
		delete(m.edges, op.ID)
	case BatchRemoveEdges:
		for _, id := range op.IDs {
			if e, ok := m.edges[id]; ok && !m.protected(e.Target) {
				delete(m.edges, id)
			}
		}

	case UpdateSubflow:
		m.writeConfig(op.ID, op.Config)
	case AddSubflow:
		batch := BatchAddBlocks{Blocks: []BlockInput{op.Block}}
		if op.Config != nil {
			cfg := map[string]map[string]any{op.Block.ID: op.Config}
			if op.Block.Type == TypeLoop {
				batch.Loops = cfg
			} else {
				batch.Parallels = cfg
			}
		}
		m.apply(batch)
	case RemoveSubflow:
		m.removeTree([]string{op.ID})
	case DuplicateSubflowWithChildren:
		blocks := m.withDescendants([]string{op.SourceID}, nil)
		newID := map[string]string{op.SourceID: op.ID}
		for _, b := range blocks[1:] {
			newID[b] = op.IDMap[b]
		}
		var internal []Edge
		for _, e := range m.edges {
			_, s := newID[e.Source]
			_, t := newID[e.Target]
			if s && t {
				internal = append(internal, e)
			}
		}
		slices.SortFunc(internal, func(a, b Edge) int { return cmp.Compare(a.ID, b.ID) })
		names := m.names()
		for i, src := range blocks {
			sb := m.blocks[src]
			name := copyNameModel(sb.Name, names)
			names[normName(name)] = true
			pos := sb.Pos
			if i == 0 {
				pos = Position{pos.X + 50, pos.Y + 50}
				if op.Position != nil {
					pos = *op.Position
				}
			}
			m.duplicate(src, newID[src], name, pos)
			if i > 0 {
				m.blocks[newID[src]].Parent = newID[sb.Parent]
			}
		}
		for _, e := range internal {
			m.edges[op.IDMap[e.ID]] = Edge{ID: op.IDMap[e.ID], Source: newID[e.Source], SourceHandle: e.SourceHandle,
				Target: newID[e.Target], TargetHandle: e.TargetHandle, Type: e.Type}
		}

	case UpdateSubBlock:
		m.writeSub(SubBlockUpdate{BlockID: op.BlockID, SubBlockID: op.SubBlockID, Value: op.Value})
	case SubBlockBatchUpdate:
		for _, u := range op.Updates {
			if !m.expectationHolds(u) {
				panic(fmt.Sprintf("model: subblock-batch-update accepted although %s.%s is %s, not the expected %s",
					u.BlockID, u.SubBlockID, jsonOf(m.blk(u.BlockID).Subs[u.SubBlockID]), jsonOf(u.ExpectedValue)))
			}
			m.writeSub(u)
		}

	case AddVariable:
		v := op.Value
		if v == nil {
			v = ""
		}
		m.vars[op.ID] = &mVar{Name: op.VarName, Type: op.Type, Value: v}
	case RemoveVariable:
		delete(m.vars, op.ID)
	case UpdateVariable:
		v := m.vars[op.ID]
		switch op.Field {
		case VarFieldName:
			v.Name = op.Value.(string)
		case VarFieldType:
			v.Type = op.Value.(string)
		default:
			v.Value = op.Value
		}
	case DuplicateVariable:
		src := *m.vars[op.SourceID]
		src.Name += " (copy)"
		m.vars[op.ID] = &src

	case ReplaceState:
		m.blocks, m.edges, m.subflows = map[string]*mBlock{}, map[string]Edge{}, map[string]map[string]any{}
		for id, in := range op.Blocks {
			in.ID = id
			m.writeBlock(in)
		}
		for _, cfgs := range []map[string]map[string]any{op.Loops, op.Parallels} {
			for _, id := range slices.Sorted(maps.Keys(cfgs)) {
				if _, ok := op.Blocks[id]; ok {
					m.writeConfig(id, cfgs[id])
				}
			}
		}
		type sig struct{ s, sh, t, th string }
		seen := map[sig]bool{}
		for _, in := range op.Edges {
			_, s := op.Blocks[in.Source]
			_, t := op.Blocks[in.Target]
			k := sig{in.Source, canonHandle(in.SourceHandle), in.Target, canonHandle(in.TargetHandle)}
			if _, dup := m.edges[in.ID]; !s || !t || dup || seen[k] {
				continue
			}
			seen[k] = true
			m.addEdge(in)
		}
	default:
		panic(fmt.Sprintf("model: no effects for %T", op))
	}
}

// ---- rendering ----

// enc is the value as the view holds it: canonical msgpack, nil for none.
func enc(v any) Value {
	if v == nil {
		return nil
	}
	return Value(msgpackx.MustCanonical(v))
}

// modelNum reads a config number the way the view does: any Go number,
// finite; anything else is no number.
func modelNum(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

// render is the model as a View. The only view rules it applies are the
// ones a single replica can reach (see the comments); the concurrent-edit
// rules (name suffixes, cycle breaking, duplicate edges, hidden orphans,
// move-cycle breaking) must never fire for a single replica's history.
func (m *model) render() *View {
	v := &View{
		Blocks:    map[string]*BlockView{},
		Edges:     []Edge{},
		Loops:     map[string]*LoopView{},
		Parallels: map[string]*ParallelView{},
		Variables: map[string]*VariableView{},
	}
	for id, b := range m.blocks {
		bv := &BlockView{
			ID: id, Type: b.Type, Name: b.Name, Position: b.Pos,
			SubBlocks: map[string]*SubBlockView{}, Outputs: Value{0x80},
			Enabled: b.Enabled, HorizontalHandles: b.HorizontalHandles, IsWide: b.IsWide,
			AdvancedMode: b.AdvancedMode, TriggerMode: b.TriggerMode, ErrorEnabled: b.ErrorEnabled,
			Height: b.Height, Locked: b.Locked, Retry: enc(b.Retry), Data: map[string]Value{},
		}
		if b.Outputs != nil {
			bv.Outputs = enc(b.Outputs)
		}
		for sid, s := range b.Subs {
			// A sub-block added with neither type nor value is stored as an
			// absent value and is not shown.
			if s.Type == "" && s.Value == nil {
				continue
			}
			t := s.Type
			if t == "" {
				t = "unknown"
			}
			bv.SubBlocks[sid] = &SubBlockView{ID: sid, Type: t, Value: enc(s.Value)}
		}
		for k, x := range b.Data {
			bv.Data[k] = enc(x)
		}
		if len(b.Modes) > 0 {
			modes := map[string]any{}
			for k, x := range b.Modes {
				modes[k] = x
			}
			bv.Data["canonicalModes"] = enc(modes)
		}
		// The stored extent shows only on a child: a top-level block may
		// carry one (batch-add-blocks writes data.extent as given), and
		// the view hides it until the block has a parent.
		if b.Parent != "" {
			bv.Data["parentId"] = enc(b.Parent)
			if b.Extent != "" {
				bv.Data["extent"] = enc(b.Extent)
			}
		}
		v.Blocks[id] = bv
	}
	for id, bv := range v.Blocks {
		if !IsContainer(bv.Type) {
			continue
		}
		nodes := m.children(id)
		if nodes == nil {
			nodes = []string{}
		}
		cfg := m.subflows[id]
		num := func(k string, def float64) float64 {
			if f, ok := modelNum(cfg[k]); ok {
				return f
			}
			return def
		}
		str := func(k, def string) string {
			if s, _ := cfg[k].(string); s != "" {
				return s
			}
			return def
		}
		orEmpty := func(k string) any {
			if cfg[k] == nil {
				return ""
			}
			return cfg[k]
		}
		d := bv.Data
		d["type"] = enc("subflowNode")
		if _, ok := d["width"]; !ok {
			d["width"] = enc(500)
		}
		if _, ok := d["height"]; !ok {
			d["height"] = enc(300)
		}
		if bv.Type == TypeLoop {
			l := &LoopView{ID: id, Nodes: nodes, Iterations: num("iterations", 5), LoopType: str("loopType", "for"),
				ForEachItems: enc(orEmpty("forEachItems")), WhileCondition: str("whileCondition", ""),
				DoWhileCondition: str("doWhileCondition", "")}
			v.Loops[id] = l
			d["count"], d["loopType"], d["collection"] = enc(l.Iterations), enc(l.LoopType), l.ForEachItems
			if l.WhileCondition != "" {
				d["whileCondition"] = enc(l.WhileCondition)
			}
			if l.DoWhileCondition != "" {
				d["doWhileCondition"] = enc(l.DoWhileCondition)
			}
			continue
		}
		p := &ParallelView{ID: id, Nodes: nodes, Count: num("count", 5), ParallelType: str("parallelType", "count"),
			Distribution: enc(orEmpty("distribution")), BatchSize: min(max(num("batchSize", 20), 1), 20)}
		v.Parallels[id] = p
		d["count"], d["parallelType"], d["collection"], d["batchSize"] = enc(p.Count), enc(p.ParallelType), p.Distribution, enc(p.BatchSize)
	}
	for _, e := range m.edges {
		// Scope rule: an edge joins blocks with the same parent, or a
		// container and its direct child. Edges are checked when added, but
		// update-parent and batch-update-parent move a block without touching
		// its edges (as the reference does), so a single replica can leave an
		// edge across a container boundary; the view hides it until it holds
		// again.
		var ps, pt string
		if b := m.blocks[e.Source]; b != nil {
			ps = b.Parent
		}
		if b := m.blocks[e.Target]; b != nil {
			pt = b.Parent
		}
		if ps == pt || ps == e.Target || pt == e.Source {
			v.Edges = append(v.Edges, e)
		}
	}
	slices.SortFunc(v.Edges, func(a, b Edge) int { return cmp.Compare(a.ID, b.ID) })
	for id, x := range m.vars {
		v.Variables[id] = &VariableView{ID: id, Name: x.Name, Type: x.Type, Value: enc(x.Value)}
	}
	return v
}

// ---- comparison ----

// canonValue re-encodes a value from its decoded form, so that encodings
// that decode alike (absent, explicit nil) compare equal.
func canonValue(v Value) Value {
	x, err := v.Decode()
	if err != nil {
		return append(Value("undecodable:"), v...)
	}
	return enc(x)
}

func normBlock(b *BlockView) *BlockView {
	if b == nil {
		return nil
	}
	c := *b
	c.Outputs, c.Retry = canonValue(b.Outputs), canonValue(b.Retry)
	c.Data = make(map[string]Value, len(b.Data))
	for k, v := range b.Data {
		c.Data[k] = canonValue(v)
	}
	c.SubBlocks = make(map[string]*SubBlockView, len(b.SubBlocks))
	for k, s := range b.SubBlocks {
		s2 := *s
		s2.Value = canonValue(s.Value)
		c.SubBlocks[k] = &s2
	}
	return &c
}

func normView(v *View) *View {
	c := &View{
		Blocks:    map[string]*BlockView{},
		Edges:     v.Edges,
		Loops:     map[string]*LoopView{},
		Parallels: map[string]*ParallelView{},
		Variables: map[string]*VariableView{},
	}
	for id, b := range v.Blocks {
		c.Blocks[id] = normBlock(b)
	}
	for id, l := range v.Loops {
		l2 := *l
		l2.ForEachItems = canonValue(l.ForEachItems)
		c.Loops[id] = &l2
	}
	for id, p := range v.Parallels {
		p2 := *p
		p2.Distribution = canonValue(p.Distribution)
		c.Parallels[id] = &p2
	}
	for id, x := range v.Variables {
		x2 := *x
		x2.Value = canonValue(x.Value)
		c.Variables[id] = &x2
	}
	return c
}

func jsonOf(x any) string {
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

// diffViews returns a readable, element by element difference of two views
// ("" if they are equal), got being the document's and want the model's.
func diffViews(got, want *View) string {
	g, w := normView(got), normView(want)
	if reflect.DeepEqual(g, w) {
		return ""
	}
	var sb strings.Builder
	diffMap(&sb, "block", g.Blocks, w.Blocks)
	diffMap(&sb, "loop", g.Loops, w.Loops)
	diffMap(&sb, "parallel", g.Parallels, w.Parallels)
	diffMap(&sb, "variable", g.Variables, w.Variables)
	if !reflect.DeepEqual(g.Edges, w.Edges) {
		fmt.Fprintf(&sb, "edges:\n  view:  %s\n  model: %s\n", jsonOf(g.Edges), jsonOf(w.Edges))
	}
	if sb.Len() == 0 {
		sb.WriteString("views differ in representation only (nil vs empty?)\n")
		fmt.Fprintf(&sb, "  view:  %s\n  model: %s\n", jsonOf(g), jsonOf(w))
	}
	return sb.String()
}

func diffMap[T any](sb *strings.Builder, what string, got, want map[string]*T) {
	ids := slices.Sorted(maps.Keys(got))
	for id := range want {
		if _, ok := got[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		a, b := got[id], want[id]
		if reflect.DeepEqual(a, b) {
			continue
		}
		fmt.Fprintf(sb, "%s %s:\n  view:  %s\n  model: %s\n", what, id, jsonOf(a), jsonOf(b))
	}
}
