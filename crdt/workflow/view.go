package workflow

import (
	"cmp"
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
	parent string // effective parent (tree.go), once walk is resolved
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
func (a *blockAcc) add(k Key, w crdt.Dotted[Cell], in interner) {
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
	members := 0
	in := make(interner)
	// newAcc makes the accumulator of group g's block, once per group: the
	// walk below visits each id once, with all of its keys.
	newAcc := func(g *group) *blockAcc {
		if len(slab) == 0 {
			slab = make([]blockAcc, 256)
		}
		a := &slab[0]
		slab = slab[1:]
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
			members++
		}
		return a
	}
	type edgeAcc struct {
		edge  Edge
		stamp stamp
	}
	var edges []edgeAcc
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
				e := w.Value.Value.asEdge()
				e.ID = g.id
				edges = append(edges, edgeAcc{e, stampOf(w)})
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
	for _, a := range blocks {
		if a.member {
			nsubs += len(a.subs)
		}
	}
	r := renderer{in: in, subs: make([]SubBlockView, nsubs)}
	// Rule (orphans, tree.go): every live block shows, so a block moved into
	// or added to a concurrently removed container is never hidden. A
	// block's parent depends only on the stored links, never on another
	// block's derived parent, so each can be rendered as soon as it is known.
	for id, a := range blocks {
		if a.member {
			t.resolve(id, a)
			b := &bvs[0]
			bvs = bvs[1:]
			r.render(b, id, a)
			v.Blocks[id] = b
		}
	}
	v.Order = paintOrder(blocks, members)
	resolveNames(v.Blocks, blocks)
	v.renderSubflows(blocks)

	// Edges: visible ends, no self-loop, scope, no duplicate, no cycle.
	candidates := edges[:0] // filtered in place: edges is not read again
	for _, e := range edges {
		if !edgeOutlivedByAnEnd(blocks, e.edge, e.stamp.ts) && edgeAllowed(v.Blocks, blocks, e.edge) {
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
	type endpoints struct{ s, sh, t, th string }
	seen := make(map[endpoints]bool, len(candidates))
	ordered := make([]Edge, 0, len(candidates))
	for _, e := range candidates {
		k := endpoints{e.edge.Source, e.edge.SourceHandle, e.edge.Target, e.edge.TargetHandle}
		if seen[k] {
			continue
		}
		seen[k] = true
		ordered = append(ordered, e.edge)
	}
	v.Edges = breakCycles(ordered)
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
// (hybrid time, then dot), then id. Each entry carries its stamp so that
// sorting compares in place instead of looking blocks up.
func paintOrder(blocks map[string]*blockAcc, members int) []string {
	type entry struct {
		id, parent string
		at         stamp
	}
	// One slice sorted by parent, then add, then id, holds every group
	// contiguously, and children maps each parent to its group.
	all := make([]entry, 0, members)
	for id, a := range blocks {
		if a.member {
			all = append(all, entry{id, a.parent, a.addStamp})
		}
	}
	slices.SortFunc(all, func(a, b entry) int {
		if c := cmp.Compare(a.parent, b.parent); c != 0 {
			return c
		}
		if c := a.at.compare(b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	children := make(map[string][]entry)
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].parent == all[i].parent {
			j++
		}
		children[all[i].parent] = all[i:j:j]
		i = j
	}
	order := make([]string, 0, members)
	// Iterative, so nesting of any depth cannot overflow the stack: the
	// stack holds what is left of each open group.
	stack := [][]entry{children[""]}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if len(*top) == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		id := (*top)[0].id
		*top = (*top)[1:]
		order = append(order, id)
		if kids := children[id]; len(kids) > 0 {
			stack = append(stack, kids)
		}
	}
	return order
}

// renderer holds what rendering the blocks of one view shares.
type renderer struct {
	in   interner
	subs []SubBlockView // slab, len = the sub-blocks not yet rendered
}

// interner returns one shared string per distinct string value, so the
// types that thousands of blocks and sub-blocks repeat are not copied each.
type interner map[string]string

func (in interner) of(v Value) string {
	b := v.stringBytes()
	if s, ok := in[string(b)]; ok { // no allocation for the lookup
		return s
	}
	s := string(b)
	in[s] = s
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

// resolveNames applies the rule for concurrent names (resolveNameList) to
// the visible blocks.
func resolveNames(views map[string]*BlockView, blocks map[string]*blockAcc) {
	// Suffixes appear only where two blocks share a normalized name; without
	// such a pair every block shows its own name and the sort is skipped.
	seen := make(map[string]struct{}, len(views))
	shared := false
	for _, bv := range views {
		n := NormalizeName(bv.Name)
		if n == "" {
			continue
		}
		if _, ok := seen[n]; ok {
			shared = true
			break
		}
		seen[n] = struct{}{}
	}
	if !shared {
		return
	}
	es := make([]nameEntry, 0, len(views))
	for id, bv := range views {
		es = append(es, nameEntry{id: id, name: bv.Name, at: blocks[id].nameStamp})
	}
	resolveNameList(es)
	for _, e := range es {
		views[e.id].Name = e.name
	}
}

// renderSubflows builds loops and parallels for visible containers and
// mirrors their config into the block's data, as the reference does.
func (v *View) renderSubflows(blocks map[string]*blockAcc) {
	children := make(map[string][]string)
	for id := range v.Blocks {
		if p := blocks[id].parent; p != "" {
			children[p] = append(children[p], id)
		}
	}
	for id, bv := range v.Blocks {
		if !IsContainer(bv.Type) {
			continue
		}
		nodes := children[id]
		slices.Sort(nodes)
		if nodes == nil {
			nodes = []string{}
		}
		cfg := blocks[id].subflow
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

// edgeAllowed applies the per-edge rules. Rule (removed ends): an edge shows
// only while both ends are visible, so an edge added to a block another
// replica deleted disappears with it. Rule (scope): an edge joins two blocks
// with the same parent, or a container and its direct child; concurrent
// reparenting can break this, and such an edge is hidden until it holds again.
func edgeAllowed(views map[string]*BlockView, blocks map[string]*blockAcc, e Edge) bool {
	if e.Source == e.Target {
		return false
	}
	if views[e.Source] == nil || views[e.Target] == nil {
		return false
	}
	ps, pt := blocks[e.Source].parent, blocks[e.Target].parent
	return ps == pt || ps == e.Target || pt == e.Source
}

// breakCycles drops, from edges sorted oldest first, every edge that closes a
// cycle with older ones. Rule (cycles): concurrent edge adds can close a cycle
// that neither replica saw; each cycle is broken at its newest edge (greatest
// hybrid time, then id). Only edges inside a strongly connected component can
// lie on a cycle, so the common acyclic case costs one linear pass.
func breakCycles(edges []Edge) []Edge {
	index := make(map[string]int)
	node := func(id string) int {
		i, ok := index[id]
		if !ok {
			i = len(index)
			index[id] = i
		}
		return i
	}
	src := make([]int, len(edges))
	dst := make([]int, len(edges))
	for i, e := range edges {
		src[i], dst[i] = node(e.Source), node(e.Target)
	}
	comp := sccs(len(index), src, dst)
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
