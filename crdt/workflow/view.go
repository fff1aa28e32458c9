package workflow

import (
	"cmp"
	"hash/maphash"
	"math"
	"slices"
	"strings"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/msgpackx"
)

// View is the document as an editor renders it, in the shape the reference
// system sends on join. It is a pure function of the document state, so every
// replica with the same state shows the same view; graph rules that
// concurrent edits can break are enforced here (see the rule comments below
// and docs/ARCHITECTURE.md).
type View struct {
	Blocks    map[string]*BlockView    `json:"blocks"`
	Edges     []Edge                   `json:"edges"`
	Loops     map[string]*LoopView     `json:"loops"`
	Parallels map[string]*ParallelView `json:"parallels"`
	Variables map[string]*VariableView `json:"variables"`
	// Order is the paint order: every visible block id once, each container
	// before its children, siblings by their winning add (hybrid time, then
	// dot), then id. Drawing in this order gives every replica the same
	// picture where blocks overlap.
	Order []string `json:"order"`
}

// BlockView is one visible block.
type BlockView struct {
	ID                string                   `json:"id"`
	Type              string                   `json:"type"`
	Name              string                   `json:"name"`
	Position          Position                 `json:"position"`
	SubBlocks         map[string]*SubBlockView `json:"subBlocks"`
	Outputs           Value                    `json:"outputs"`
	Enabled           bool                     `json:"enabled"`
	HorizontalHandles bool                     `json:"horizontalHandles"`
	IsWide            bool                     `json:"isWide"`
	AdvancedMode      bool                     `json:"advancedMode"`
	TriggerMode       bool                     `json:"triggerMode"`
	ErrorEnabled      bool                     `json:"errorEnabled"`
	Height            float64                  `json:"height"`
	Locked            bool                     `json:"locked"`
	Retry             Value                    `json:"retry,omitempty"`
	// Data holds the block's data map: its own keys, parentId and extent,
	// canonicalModes, and for containers the mirrored subflow config.
	Data map[string]Value `json:"data"`
}

// SubBlockView is one sub-block (field) of a block.
type SubBlockView struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Value Value  `json:"value"`
}

// LoopView is a loop container's config.
type LoopView struct {
	ID               string   `json:"id"`
	Nodes            []string `json:"nodes"`
	Iterations       float64  `json:"iterations"`
	LoopType         string   `json:"loopType"`
	ForEachItems     Value    `json:"forEachItems"`
	WhileCondition   string   `json:"whileCondition,omitempty"`
	DoWhileCondition string   `json:"doWhileCondition,omitempty"`
}

// ParallelView is a parallel container's config.
type ParallelView struct {
	ID           string   `json:"id"`
	Nodes        []string `json:"nodes"`
	Count        float64  `json:"count"`
	ParallelType string   `json:"parallelType"`
	Distribution Value    `json:"distribution"`
	BatchSize    float64  `json:"batchSize"`
}

// VariableView is one workflow variable.
type VariableView struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value Value  `json:"value"`
}

// Subflow defaults, as in the reference.
const (
	DefaultLoopType     = "for"
	DefaultIterations   = 5
	DefaultParallelType = "count"
	DefaultCount        = 5
	DefaultBatchSize    = 20
	MaxBatchSize        = 20
	defaultWidth        = 500
	defaultHeight       = 300
)

var emptyMap = Value{0x80}

// stamp orders entries for the view's tie-breaks: hybrid time, then dot.
type stamp struct {
	ts  crdt.Timestamp
	dot crdt.Dot
}

func stampOf(e crdt.Dotted[Cell]) stamp { return stamp{e.Value.Stamp(e.Dot), e.Dot} }

func (s stamp) compare(o stamp) int {
	if c := s.ts.Compare(o.ts); c != 0 {
		return c
	}
	if c := cmp.Compare(s.dot.Replica, o.dot.Replica); c != 0 {
		return c
	}
	return cmp.Compare(s.dot.Counter, o.dot.Counter)
}

// blockAcc collects one block's entries during the single pass over the
// store. Fields live in slices rather than maps: a block has a dozen of them,
// and a 10,000-block view would otherwise build 40,000 small maps.
type blockAcc struct {
	id     string
	member bool
	// addStamp is the winning add, when member: the paint order, and the
	// incarnation whose values are the block's (incarnation.go).
	addStamp   stamp
	fields     []namedValue
	nameStamp  stamp
	parentStmp stamp
	subs       []subAcc
	subflow    []namedValue
	// derived
	parent string     // effective parent (tree.go), once walk is resolved
	view   *BlockView // the block's view, once rendered (members only)
	n      int        // index in the view's list of members: its graph node
	walk   walkState
	pathAt int // index on the walk, while walk is onPath
}

type namedValue struct {
	name  string
	value Value
}

type subAcc struct {
	id    string
	value Value
	typ   string
}

func lookup(vs []namedValue, name string) Value {
	for i := range vs {
		if vs[i].name == name {
			return vs[i].value
		}
	}
	return nil
}

func (a *blockAcc) field(name string) Value { return lookup(a.fields, name) }

func (a *blockAcc) sub(id string) *subAcc {
	for i := range a.subs {
		if a.subs[i].id == id {
			return &a.subs[i]
		}
	}
	if a.subs == nil {
		a.subs = make([]subAcc, 0, 4) // most blocks have a few
	}
	a.subs = append(a.subs, subAcc{id: id})
	return &a.subs[len(a.subs)-1]
}

// stale reports whether a block entry belongs to an earlier or a losing
// incarnation of the block (see current); Doc.get hides the same entries.
func (a *blockAcc) stale(w crdt.Dotted[Cell]) bool {
	return a.member && predates(w, a.addStamp.ts)
}

// add records the winning entry w of one of the block's keys.
func (a *blockAcc) add(k Key, w crdt.Dotted[Cell], in *interner) {
	switch k.Kind {
	case KindBlockField:
		if a.fields == nil {
			a.fields = make([]namedValue, 0, 8)
		}
		a.fields = append(a.fields, namedValue{k.Sub, w.Value.Value})
		switch k.Sub {
		case FieldName:
			a.nameStamp = stampOf(w)
		case FieldParentID:
			a.parentStmp = stampOf(w)
		}
	case KindSubBlock:
		a.sub(k.Sub).value = w.Value.Value
	case KindSubBlockType:
		a.sub(k.Sub).typ = in.of(w.Value.Value)
	case KindSubflow:
		a.subflow = append(a.subflow, namedValue{k.Sub, w.Value.Value})
	}
}

// carve returns an empty slice with room for n from the free end of buf
// (a new buffer when buf lacks it), and buf.
func carve[T any](buf []T, n int) ([]T, []T) {
	if cap(buf)-len(buf) < n {
		buf = make([]T, 0, max(4096, n))
	}
	return buf[len(buf) : len(buf) : len(buf)+n], buf
}

// seal caps s, carved from buf, at what it holds, and returns it with buf
// grown past it: the next carve cannot overlap it.
func seal[T any](s, buf []T) ([]T, []T) {
	if len(s) == 0 {
		return nil, buf
	}
	return s[:len(s):len(s)], buf[:len(buf)+len(s)]
}

// View materializes the document. It costs one pass over the store plus
// sorting; see BenchmarkView for figures.
func (d *Doc) View() *View {
	blocks := make(map[string]*blockAcc, d.store.order.live())
	var slab []blockAcc // allocates accumulators in chunks
	var fieldBuf, flowBuf []namedValue
	var subBuf []subAcc
	// live lists the members' accumulators: the passes below walk it
	// instead of iterating the map.
	live := make([]*blockAcc, 0, d.store.kindGroups[KindBlock])
	in := &interner{m: make(map[string]string)}
	// newAcc makes the accumulator of group g's block, once per group: the
	// walk below visits each id once, with all of its keys.
	newAcc := func(g *group) *blockAcc {
		if len(slab) == 0 {
			slab = make([]blockAcc, 256)
		}
		a := &slab[0]
		slab = slab[1:]
		a.id = g.id
		blocks[g.id] = a
		// A block's fields, sub-blocks and config keys are at most its
		// keys, and all come in this group: they are carved from shared
		// buffers, capped when the group ends.
		n := len(g.slots)
		a.fields, fieldBuf = carve(fieldBuf, n)
		a.subs, subBuf = carve(subBuf, n)
		a.subflow, flowBuf = carve(flowBuf, n)
		if s := g.slots[0]; s.kind == KindBlock { // KindBlock sorts first
			a.member, a.addStamp = true, stampOf(s.es[crdt.Winner(s.es)])
			a.n = len(live)
			live = append(live, a)
		}
		return a
	}
	type edgeAcc struct {
		edge     Edge // ID only, until the edge passes edgeShows
		raw      Value
		stamp    stamp
		src, dst int // the ends' graph nodes, once the edge shows
	}
	edges := make([]edgeAcc, 0, d.store.kindGroups[KindEdge])
	variables := make(map[string]*VariableView)
	varFields := make(map[string][]namedValue)

	d.store.order.each(func(g *group) bool {
		var a *blockAcc
		for _, s := range g.slots {
			w := s.es[crdt.Winner(s.es)]
			if w.Value.Value.isTextMarker() {
				w.Value.Value = d.textValue(w.Dot)
			}
			switch s.kind {
			case KindBlock:
				a = newAcc(g)
			case KindBlockField, KindSubBlock, KindSubBlockType, KindSubflow:
				if a == nil {
					a = newAcc(g)
				}
				if !a.stale(w) {
					a.add(Key{s.kind, g.id, s.sub}, w, in)
				}
			case KindEdge:
				// Read once the blocks are known: an edge that shows gets its
				// ends' id strings, and one that does not costs no copy.
				edges = append(edges, edgeAcc{edge: Edge{ID: g.id}, raw: w.Value.Value, stamp: stampOf(w)})
			case KindVariable:
				variables[g.id] = &VariableView{ID: g.id}
			case KindVariableField:
				if inc, ok := d.incarnation(variableKey(g.id)); !ok || !predates(w, inc) {
					varFields[g.id] = append(varFields[g.id], namedValue{s.sub, w.Value.Value})
				}
			}
		}
		if a != nil {
			a.fields, fieldBuf = seal(a.fields, fieldBuf)
			a.subs, subBuf = seal(a.subs, subBuf)
			a.subflow, flowBuf = seal(a.subflow, flowBuf)
		}
		return true
	})

	t := viewTree{blocks: blocks}
	members := len(live)
	v := &View{
		Blocks:    make(map[string]*BlockView, members),
		Loops:     make(map[string]*LoopView),
		Parallels: make(map[string]*ParallelView),
		Variables: variables,
	}
	// The block views, and their sub-block views, are carved from slabs:
	// two allocations for the whole view instead of two per block.
	bvs := make([]BlockView, members)
	nsubs := 0
	for _, a := range live {
		nsubs += len(a.subs)
	}
	r := renderer{in: in, subs: make([]SubBlockView, nsubs)}
	// Rule (orphans, tree.go): every live block shows, so a block moved into
	// or added to a concurrently removed container is never hidden. A
	// block's parent depends only on the stored links, never on another
	// block's derived parent, so each can be rendered as soon as it is known.
	for i, a := range live {
		t.resolve(a.id, a)
		b := &bvs[i]
		r.render(b, a.id, a)
		a.view = b
		v.Blocks[a.id] = b
	}
	v.Order = paintOrder(live)
	resolveNames(live)
	v.renderSubflows(live)

	// Edges: visible ends, no self-loop, scope, no duplicate, no cycle.
	candidates := edges[:0] // filtered in place: edges is not read again
	for _, e := range edges {
		if src, dst, ok := edgeShows(blocks, e.raw, e.stamp.ts); ok {
			e.edge = r.edge(e.edge.ID, e.raw, src, dst)
			e.src, e.dst = src.n, dst.n
			candidates = append(candidates, e)
		}
	}
	slices.SortFunc(candidates, func(a, b edgeAcc) int {
		if c := a.stamp.compare(b.stamp); c != 0 {
			return c
		}
		return cmp.Compare(a.edge.ID, b.edge.ID)
	})
	// Rule (duplicates): of edges with the same ends and handles, the
	// earliest added shows.
	type endpoints struct {
		s, t   int
		sh, th string
	}
	seen := make(map[endpoints]struct{}, len(candidates))
	ordered := make([]Edge, 0, len(candidates))
	src := make([]int, 0, len(candidates))
	dst := make([]int, 0, len(candidates))
	for _, e := range candidates {
		k := endpoints{e.src, e.dst, e.edge.SourceHandle, e.edge.TargetHandle}
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		ordered = append(ordered, e.edge)
		src, dst = append(src, e.src), append(dst, e.dst)
	}
	v.Edges = breakCycles(ordered, src, dst, members)
	slices.SortFunc(v.Edges, func(a, b Edge) int { return cmp.Compare(a.ID, b.ID) })

	for id, vv := range variables {
		fs := varFields[id]
		vv.Name = lookup(fs, VarFieldName).asString()
		vv.Type = lookup(fs, VarFieldType).asString()
		vv.Value = lookup(fs, VarFieldValue)
	}
	return v
}

// paintOrder lists the visible blocks depth first: top-level blocks, and
// the children of each container right after it, each group by winning add
// (hybrid time, then dot), then id. The blocks are grouped by effective
// parent first, and each group is sorted by a small key that holds the add's
// hybrid time: the full comparison runs only on ties. live's views are
// rendered (only a container can be a parent).
func paintOrder(live []*blockAcc) []string {
	type entry struct {
		wall    int64
		logical uint32
		i       int32 // in live
	}
	top := make([]entry, 0, len(live))
	var kids map[string][]entry
	for i, a := range live {
		e := entry{a.addStamp.ts.Wall, a.addStamp.ts.Logical, int32(i)}
		if a.parent == "" {
			top = append(top, e)
			continue
		}
		if kids == nil {
			kids = make(map[string][]entry)
		}
		kids[a.parent] = append(kids[a.parent], e)
	}
	byAdd := func(x, y entry) int {
		if c := cmp.Compare(x.wall, y.wall); c != 0 {
			return c
		}
		if c := cmp.Compare(x.logical, y.logical); c != 0 {
			return c
		}
		a, b := live[x.i], live[y.i]
		if c := a.addStamp.compare(b.addStamp); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	}
	slices.SortFunc(top, byAdd)
	for _, group := range kids {
		slices.SortFunc(group, byAdd)
	}
	order := make([]string, 0, len(live))
	// Iterative, so nesting of any depth cannot overflow the stack: the
	// stack holds what is left of each open group.
	stack := [][]entry{top}
	for len(stack) > 0 {
		at := &stack[len(stack)-1]
		if len(*at) == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		a := live[(*at)[0].i]
		*at = (*at)[1:]
		order = append(order, a.id)
		if kids != nil && IsContainer(a.view.Type) {
			if group := kids[a.id]; len(group) > 0 {
				stack = append(stack, group)
			}
		}
	}
	return order
}

// renderer holds what rendering the blocks of one view shares.
type renderer struct {
	in   *interner
	subs []SubBlockView // slab, len = the sub-blocks not yet rendered
}

// interner returns one shared string per distinct string value, so the
// types that thousands of blocks and sub-blocks repeat are not copied each.
// The few strings it returned last are compared before the map is hashed:
// a view asks for the same handful of types over and over.
type interner struct {
	m      map[string]string
	recent [8]string
	next   int
}

func (in *interner) of(v Value) string { return in.ofBytes(v.stringBytes()) }

// ofBytes returns the shared string of b.
func (in *interner) ofBytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	for _, s := range in.recent {
		if s == string(b) {
			return s
		}
	}
	s, ok := in.m[string(b)] // no allocation for the lookup
	if !ok {
		s = string(b)
		in.m[s] = s
	}
	in.recent[in.next] = s
	in.next = (in.next + 1) % len(in.recent)
	return s
}

// stringBytes is asString without the copy: the bytes alias v.
func (v Value) stringBytes() []byte {
	if len(v) == 0 {
		return nil
	}
	r := msgpackx.NewReader(v)
	s := r.StringBytes()
	if r.Err() != nil || !r.Done() {
		return nil
	}
	return s
}

// render fills b, the view of block id, from its accumulator a.
func (r *renderer) render(b *BlockView, id string, a *blockAcc) {
	*b = BlockView{
		ID:                id,
		SubBlocks:         make(map[string]*SubBlockView, len(a.subs)),
		Outputs:           emptyMap,
		Enabled:           true,
		HorizontalHandles: true,
		Data:              make(map[string]Value),
	}
	var canonical map[string]any
	var extent Value
	for _, f := range a.fields {
		v := f.value
		switch f.name {
		case FieldType:
			b.Type = r.in.of(v)
		case FieldName:
			b.Name = v.asString()
		case FieldPosition:
			b.Position = v.asPosition()
		case FieldOutputs:
			if v != nil {
				b.Outputs = v
			}
		case FieldEnabled:
			b.Enabled = v.asBool(true)
		case FieldHorizontalHandles:
			b.HorizontalHandles = v.asBool(true)
		case FieldIsWide:
			b.IsWide = v.asBool(false)
		case FieldAdvancedMode:
			b.AdvancedMode = v.asBool(false)
		case FieldTriggerMode:
			b.TriggerMode = v.asBool(false)
		case FieldErrorEnabled:
			b.ErrorEnabled = v.asBool(false)
		case FieldLocked:
			b.Locked = v.asBool(false)
		case FieldRetry:
			b.Retry = v
		case FieldHeight:
			if h, ok := v.asFloat(); ok {
				b.Height = h
			}
		case FieldExtent:
			extent = v
		default:
			switch {
			case strings.HasPrefix(f.name, FieldDataPrefix):
				if v != nil {
					b.Data[f.name[len(FieldDataPrefix):]] = v
				}
			case strings.HasPrefix(f.name, FieldCanonicalPrefix):
				if s := v.asString(); s != "" {
					if canonical == nil {
						canonical = make(map[string]any)
					}
					canonical[f.name[len(FieldCanonicalPrefix):]] = s
				}
			}
		}
	}
	if canonical != nil {
		b.Data["canonicalModes"] = Value(msgpackx.MustCanonical(canonical))
	}
	if a.parent != "" {
		b.Data["parentId"] = stringValue(a.parent)
		if extent != nil {
			b.Data["extent"] = extent
		}
	}
	subs := r.subs[:len(a.subs):len(a.subs)]
	r.subs = r.subs[len(a.subs):]
	for i, sa := range a.subs {
		if sa.value == nil && sa.typ == "" {
			continue
		}
		t := sa.typ
		if t == "" {
			t = "unknown"
		}
		subs[i] = SubBlockView{ID: sa.id, Type: t, Value: sa.value}
		b.SubBlocks[sa.id] = &subs[i]
	}
}

// edge returns the view of edge id, encoded as raw, between the blocks of
// src and dst: the ends' ids are theirs, and handles and types are
// interned, so an edge costs no string of its own.
func (r *renderer) edge(id string, raw Value, src, dst *blockAcc) Edge {
	_, sh, _, th, ty, _ := raw.edgeBytes()
	return Edge{ID: id, Source: src.id, SourceHandle: r.in.ofBytes(sh), Target: dst.id, TargetHandle: r.in.ofBytes(th), Type: r.in.ofBytes(ty)}
}

// resolveNames applies the rule for concurrent names (resolveNameList) to
// the visible blocks, whose views are rendered.
func resolveNames(live []*blockAcc) {
	// Suffixes appear only where two blocks share a normalized name; without
	// such a pair every block shows its own name and the sort is skipped.
	// The pairs are looked for by a hash of each normalized name, built in
	// one buffer: a collision only costs the sort, which decides exactly.
	seen := make(map[uint64]struct{}, len(live))
	seed := maphash.MakeSeed()
	var buf []byte
	shared := false
	for _, a := range live {
		buf = appendNormalName(buf[:0], a.view.Name)
		if len(buf) == 0 {
			continue
		}
		h := maphash.Bytes(seed, buf)
		if _, ok := seen[h]; ok {
			shared = true
			break
		}
		seen[h] = struct{}{}
	}
	if !shared {
		return
	}
	es := make([]nameEntry, 0, len(live))
	byID := make(map[string]*BlockView, len(live))
	for _, a := range live {
		es = append(es, nameEntry{id: a.id, name: a.view.Name, at: a.nameStamp})
		byID[a.id] = a.view
	}
	resolveNameList(es)
	for _, e := range es {
		byID[e.id].Name = e.name
	}
}

// renderSubflows builds loops and parallels for visible containers and
// mirrors their config into the block's data, as the reference does.
func (v *View) renderSubflows(live []*blockAcc) {
	children := make(map[string][]string)
	for _, a := range live {
		if a.parent != "" {
			children[a.parent] = append(children[a.parent], a.id)
		}
	}
	for _, a := range live {
		id, bv := a.id, a.view
		if !IsContainer(bv.Type) {
			continue
		}
		nodes := children[id]
		slices.Sort(nodes)
		if nodes == nil {
			nodes = []string{}
		}
		cfg := a.subflow
		num := func(key string, def float64) float64 {
			if f, ok := lookup(cfg, key).asFloat(); ok && !math.IsInf(f, 0) {
				return f
			}
			return def
		}
		str := func(key, def string) string {
			if s := lookup(cfg, key).asString(); s != "" {
				return s
			}
			return def
		}
		orEmpty := func(v Value) Value {
			if v == nil {
				return stringValue("")
			}
			return v
		}
		data := bv.Data
		data["type"] = stringValue("subflowNode")
		if data["width"] == nil {
			data["width"] = floatValue(defaultWidth)
		}
		if data["height"] == nil {
			data["height"] = floatValue(defaultHeight)
		}
		if bv.Type == TypeLoop {
			l := &LoopView{
				ID: id, Nodes: nodes,
				Iterations:       num("iterations", DefaultIterations),
				LoopType:         str("loopType", DefaultLoopType),
				ForEachItems:     orEmpty(lookup(cfg, "forEachItems")),
				WhileCondition:   lookup(cfg, "whileCondition").asString(),
				DoWhileCondition: lookup(cfg, "doWhileCondition").asString(),
			}
			v.Loops[id] = l
			data["count"] = floatValue(l.Iterations)
			data["loopType"] = stringValue(l.LoopType)
			data["collection"] = l.ForEachItems
			if l.WhileCondition != "" {
				data["whileCondition"] = stringValue(l.WhileCondition)
			}
			if l.DoWhileCondition != "" {
				data["doWhileCondition"] = stringValue(l.DoWhileCondition)
			}
			continue
		}
		p := &ParallelView{
			ID: id, Nodes: nodes,
			Count:        num("count", DefaultCount),
			ParallelType: str("parallelType", DefaultParallelType),
			Distribution: orEmpty(lookup(cfg, "distribution")),
			BatchSize:    min(max(num("batchSize", DefaultBatchSize), 1), MaxBatchSize),
		}
		v.Parallels[id] = p
		data["count"] = floatValue(p.Count)
		data["parallelType"] = stringValue(p.ParallelType)
		data["collection"] = p.Distribution
		data["batchSize"] = floatValue(p.BatchSize)
	}
}

// edgeShows applies the per-edge rules to the edge encoded as raw, added
// at added, and returns the accumulators of its ends when it passes them.
// Rule (removed ends): an edge shows only while both ends are visible, so
// an edge added to a block another replica deleted disappears with it, and
// an edge added before an end's winning add belongs to an earlier
// incarnation of that block (edgePredatesAnEnd). Rule (scope): an edge
// joins two blocks with the same parent, or a container and its direct
// child; concurrent reparenting can break this, and such an edge is hidden
// until it holds again.
func edgeShows(blocks map[string]*blockAcc, raw Value, added crdt.Timestamp) (src, dst *blockAcc, ok bool) {
	s, _, t, _, _, ok := raw.edgeBytes()
	if !ok || string(s) == string(t) {
		return nil, nil, false
	}
	src, dst = blocks[string(s)], blocks[string(t)]
	if src == nil || dst == nil || !src.member || !dst.member ||
		added.Compare(src.addStamp.ts) < 0 || added.Compare(dst.addStamp.ts) < 0 {
		return nil, nil, false
	}
	ps, pt := src.parent, dst.parent
	return src, dst, ps == pt || ps == dst.id || pt == src.id
}

// breakCycles drops, from edges sorted oldest first, every edge that closes a
// cycle with older ones. Rule (cycles): concurrent edge adds can close a cycle
// that neither replica saw; each cycle is broken at its newest edge (greatest
// hybrid time, then id). Only edges inside a strongly connected component can
// lie on a cycle, so the common acyclic case costs one linear pass. Edge i
// goes from node src[i] to node dst[i] of n; which edges are dropped does
// not depend on how the nodes are numbered.
func breakCycles(edges []Edge, src, dst []int, n int) []Edge {
	comp := sccs(n, src, dst)
	// Count edges inside each component; components of one node have none
	// (self-loops were dropped earlier).
	inside := make([]bool, len(edges))
	any := false
	for i := range edges {
		if comp[src[i]] == comp[dst[i]] {
			inside[i] = true
			any = true
		}
	}
	if !any {
		return edges
	}
	// Greedy, oldest first, over the edges inside components.
	adj := make(map[int][]int)
	out := edges[:0:0]
	for i, e := range edges {
		if inside[i] {
			if reaches(adj, dst[i], src[i]) {
				continue
			}
			adj[src[i]] = append(adj[src[i]], dst[i])
		}
		out = append(out, e)
	}
	return out
}

// reaches reports whether to is reachable from from in adj.
func reaches(adj map[int][]int, from, to int) bool {
	seen := map[int]bool{from: true}
	stack := []int{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == to {
			return true
		}
		for _, m := range adj[n] {
			if !seen[m] {
				seen[m] = true
				stack = append(stack, m)
			}
		}
	}
	return false
}

// sccs labels each node with its strongly connected component (Tarjan's
// algorithm, iterative so deep graphs cannot overflow the stack).
func sccs(n int, src, dst []int) []int {
	adj := make([][]int, n)
	for i := range src {
		adj[src[i]] = append(adj[src[i]], dst[i])
	}
	index := make([]int, n)
	low := make([]int, n)
	comp := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next, ncomp := 0, 0
	type frame struct{ v, edge int }
	for root := 0; root < n; root++ {
		if index[root] >= 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.edge < len(adj[f.v]) {
				w := adj[f.v][f.edge]
				f.edge++
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				} else if onStack[w] {
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				u := call[len(call)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					if w == v {
						break
					}
				}
				ncomp++
			}
		}
	}
	return comp
}
