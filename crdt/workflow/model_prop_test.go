package workflow

// Property: the view of a single-replica history equals a plain sequential
// model of the same operations (model_test.go).
//
//	go test ./crdt/workflow -run Model -rapid.checks=2000
//	go test ./crdt/workflow -run Model -rapid.seed=N   # replay a failure
//
// One replica applies 1–60 random operations (every type of ops_*.go) over
// small id pools with an increasing clock. An operation the document refuses
// is skipped by the model too: the model checks effects, not validation.
// After every accepted operation the view must equal the model's rendering,
// and the stored state must hold exactly the model's blocks, edges and
// variables, one value per key, with no key of a removed element left. At
// the end Decode(Encode(doc)) must equal doc and give the same view.
//
// Refusals are judged only where the model can say something without
// re-implementing validation: a refusal for "no effect" (or a skipping batch
// that skipped everything) must change nothing in the model, and a
// compare-and-set must be accepted only if, and refused for a precondition
// only if, the model's current values say so. A wrongly accepted operation
// is also caught whenever it breaks a graph invariant, because the model
// renders without the view's concurrency rules (name suffixes,
// duplicate-edge and cycle filtering, hiding of orphans).
//
// Where a single replica legitimately differs from the plain model:
//   - Edges across a container boundary are stored but hidden: update-parent
//     moves a block without touching its edges. render applies the scope rule.
//   - A top-level block may store data.extent (batch-add-blocks writes it as
//     given); the view shows extent only on a child. render does the same.
//   - replace-state is unvalidated by design (no name, scope, cycle or parent
//     checks), so an ill-formed state would make the view's concurrency rules
//     fire even for one replica. The generator only draws well-formed states
//     (unique names, container parents drawn before their children, edges
//     without self-loops, scope crossings or cycles); dangling and duplicate
//     edges, which the operation itself drops, are still drawn.

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/flowsync/flowsync/crdt"
	"pgregory.net/rapid"
)

var (
	mBlockPool = []string{"b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"}
	mEdgePool  = []string{"e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9"}
	mVarPool   = []string{"v0", "v1", "v2", "v3"}
	// Names that collide once normalized, reserved ones, one that is empty
	// once normalized, and ones that copy names produce.
	mNames = []string{"Agent", "agent", "A gent", "a.gent", "Fetch", "FETCH ", "Sum mary", "summary",
		"Loop", "Router", "Block (copy)", "block(copy)", "Agent (copy)", " . ", "Ünit", "ünit", "ü\u00a0nit"}
	mTypes   = []string{"agent", "agent", "api", "function", TypeNote, TypeStarter, TypeLoop, TypeParallel}
	mHandles = []string{"", "source", "source-right", "target-left", "condition-if", "loop-start-source"}
	mSubIDs  = []string{"s0", "s1", "s2"}
)

type opGen struct {
	t *rapid.T
	m *model
	// recent holds the last block ids drawn, so that consecutive operations
	// often work on the same block (move in, detach, move in again...).
	recent []string
}

func (g *opGen) note(id string) string {
	g.recent = append(g.recent, id)
	if len(g.recent) > 3 {
		g.recent = g.recent[1:]
	}
	return id
}

func (g *opGen) intn(label string, lo, hi int) int { return rapid.IntRange(lo, hi).Draw(g.t, label) }

// uniform draws from [0, n) close to uniformly. rapid's integer draws are
// strongly biased toward small values, which would starve the end of the
// operation table; the sum of three draws mod n is uniform as soon as one of
// them is, and still shrinks to 0.
func (g *opGen) uniform(label string, n int) int {
	var sum uint64
	for range 3 {
		sum += rapid.Uint64().Draw(g.t, label) % uint64(n)
	}
	return int(sum % uint64(n))
}

// choose draws an element of s close to uniformly.
func choose[E any](g *opGen, label string, s []E) E { return s[g.uniform(label, len(s))] }

// coin is true one time in oneIn (and when shrunk).
func (g *opGen) coin(label string, oneIn int) bool { return g.uniform(label, oneIn) == 0 }

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func (g *opGen) containers() []string {
	var out []string
	for _, id := range sortedKeys(g.m.blocks) {
		if IsContainer(g.m.blocks[id].Type) {
			out = append(out, id)
		}
	}
	return out
}

func free(pool []string, used func(string) bool) []string {
	var out []string
	for _, id := range pool {
		if !used(id) {
			out = append(out, id)
		}
	}
	return out
}

// pick draws from prefer most of the time (when it is not empty), else from
// the whole pool, so that refused operations are drawn too.
func (g *opGen) pick(label string, prefer, pool []string) string {
	if len(prefer) > 0 && !g.coin(label+"Pool", 8) {
		return choose(g, label, prefer)
	}
	return choose(g, label, pool)
}

func (g *opGen) blockID(label string) string {
	recent := slices.DeleteFunc(slices.Clone(g.recent), func(id string) bool { return g.m.blocks[id] == nil })
	if len(recent) > 0 && g.coin(label+"Recent", 3) {
		return g.note(choose(g, label, recent))
	}
	return g.note(g.pick(label, sortedKeys(g.m.blocks), mBlockPool))
}

// newBlockID draws an id, preferably one neither present nor in taken.
func (g *opGen) newBlockID(label string, taken ...string) string {
	return g.note(g.pick(label, free(mBlockPool, func(id string) bool { return g.m.blocks[id] != nil || slices.Contains(taken, id) }), mBlockPool))
}

func (g *opGen) containerID(label string) string { return g.pick(label, g.containers(), mBlockPool) }

func (g *opGen) blockIDs(label string) []string {
	out := make([]string, g.intn(label+"N", 1, 3))
	for i := range out {
		out[i] = g.blockID(label)
	}
	return out
}

func (g *opGen) edgeID(label string) string { return g.pick(label, sortedKeys(g.m.edges), mEdgePool) }

func (g *opGen) newEdgeID(label string) string {
	return g.pick(label, free(mEdgePool, func(id string) bool { _, ok := g.m.edges[id]; return ok }), mEdgePool)
}

func (g *opGen) varID(label string) string { return g.pick(label, sortedKeys(g.m.vars), mVarPool) }

// name draws a colliding name a third of the time, else one unique to id.
func (g *opGen) name(label, id string) string {
	i := g.uniform(label, 3*len(mNames))
	if i >= len(mNames) {
		return "Block " + id
	}
	return mNames[i]
}

func (g *opGen) pos(label string) Position {
	frac := []float64{0, 0, 0.5, 0.25}
	return Position{
		X: float64(g.intn(label+"X", -100, 1000)) + frac[g.intn(label+"XF", 0, 3)],
		Y: float64(g.intn(label+"Y", -100, 1000)) + frac[g.intn(label+"YF", 0, 3)],
	}
}

func (g *opGen) optPos(label string) *Position {
	if g.coin(label+"Nil", 3) {
		return nil
	}
	p := g.pos(label)
	return &p
}

func (g *opGen) optBool(label string) *bool {
	switch g.intn(label, 0, 2) {
	case 0:
		return nil
	case 1:
		return ptr(false)
	}
	return ptr(true)
}

// value draws a small JSON-shaped value (no NaN or infinities: they do not
// compare equal to themselves).
func (g *opGen) value(label string, depth int) any {
	hi := 7
	if depth <= 0 {
		hi = 5
	}
	switch g.intn(label+"Kind", 0, hi) {
	case 0:
		return nil
	case 1:
		return g.coin(label+"Bool", 2)
	case 2:
		return g.intn(label+"Int", -5, 300)
	case 3:
		return float64(g.intn(label+"Float", -40, 40)) / 4 // some hold an integer
	case 4:
		return choose(g, label+"Str", []string{"", "x", "hello", "{{start.input}}", "ü"})
	case 5:
		return int64(g.intn(label+"Big", 0, 3)) << 40
	case 6:
		out := make([]any, g.intn(label+"Len", 0, 3))
		for i := range out {
			out[i] = g.value(label, depth-1)
		}
		return out
	}
	out := map[string]any{}
	for range g.intn(label+"Len", 0, 3) {
		out[choose(g, label+"Key", []string{"a", "b", "type", ""})] = g.value(label, depth-1)
	}
	return out
}

func (g *opGen) retry(label string) map[string]any {
	if g.coin(label+"Nil", 4) {
		return nil
	}
	return map[string]any{"enabled": g.coin(label+"On", 2), "maxTries": g.intn(label+"Tries", 0, 7)}
}

func (g *opGen) modes(label string) map[string]string {
	out := map[string]string{}
	for range g.intn(label+"N", 0, 2) {
		mode := choose(g, label+"Mode", []string{"basic", "advanced", "advanced", "basic", "bogus"})
		out[choose(g, label+"ID", []string{"c0", "c1", "c2"})] = mode
	}
	return out
}

func (g *opGen) config(label string) map[string]any {
	out := map[string]any{}
	for range g.intn(label+"N", 0, 3) {
		var v any
		k := choose(g, label+"Key", []string{"iterations", "loopType", "forEachItems", "whileCondition", "doWhileCondition",
			"count", "parallelType", "distribution", "batchSize", "nodes", "id", "extra"})
		switch k {
		case "iterations", "count":
			v = g.intn(label+"Num", 0, 12)
			if g.coin(label+"Odd", 5) {
				v = g.value(label, 1)
			}
		case "loopType":
			v = choose(g, label+"LT", []string{"for", "forEach", "while", "doWhile", "bogus"})
		case "parallelType":
			v = choose(g, label+"PT", []string{"count", "collection", "bogus"})
		case "whileCondition", "doWhileCondition":
			v = choose(g, label+"Cond", []string{"", "<x> < 3", "true"})
		case "batchSize":
			v = choose(g, label+"BS", []any{-3, 0, 1, 2.5, 3.5, 7, 20, 21, 40, "x"})
		case "nodes":
			v = []any{"b1"}
		case "id":
			v = "zz"
		default:
			v = g.value(label, 1)
		}
		out[k] = v
	}
	return out
}

// block draws a block to add; batch holds the containers added earlier in
// the same operation (possible parents).
func (g *opGen) block(label string, batch, taken []string) BlockInput {
	id := g.newBlockID(label+"ID", taken...)
	in := BlockInput{
		ID:       id,
		Type:     choose(g, label+"Type", mTypes),
		Name:     g.name(label+"Name", id),
		Position: g.optPos(label + "Pos"),
	}
	if parents := append(g.containers(), batch...); (len(parents) > 0 && g.coin(label+"Parent", 2)) || g.coin(label+"AnyParent", 20) {
		in.Data = map[string]any{"parentId": g.pick(label+"ParentID", parents, mBlockPool)}
	}
	if !g.coin(label+"Rich", 3) {
		return in
	}
	in.SubBlocks = map[string]SubBlockInput{}
	for range g.intn(label+"Subs", 0, 2) {
		sid := choose(g, label+"SubID", mSubIDs)
		in.SubBlocks[sid] = SubBlockInput{ID: sid,
			Type:  choose(g, label+"SubType", []string{"", "short-input", "long-input"}),
			Value: g.value(label+"SubValue", 1)}
	}
	if g.coin(label+"HasOutputs", 2) {
		in.Outputs = g.value(label+"Outputs", 1)
	}
	in.Enabled, in.HorizontalHandles = g.optBool(label+"Enabled"), g.optBool(label+"Handles")
	in.IsWide, in.AdvancedMode = g.optBool(label+"Wide"), g.optBool(label+"Advanced")
	in.TriggerMode, in.ErrorEnabled = g.optBool(label+"Trigger"), g.optBool(label+"Error")
	if g.coin(label+"MayLock", 3) {
		in.Locked = g.optBool(label + "Locked")
	}
	if g.coin(label+"HasHeight", 2) {
		in.Height = ptr(float64(g.intn(label+"Height", 0, 400)))
	}
	if in.Data == nil {
		in.Data = map[string]any{}
	}
	for range g.intn(label+"DataN", 0, 3) {
		switch k := choose(g, label+"DataKey", []string{"extent", "canonicalModes", "width", "k", "type", "count", "parentId"}); k {
		case "extent":
			in.Data[k] = choose(g, label+"Extent", []any{"parent", "", nil})
		case "canonicalModes":
			in.Data[k] = g.modes(label + "Modes")
		case "parentId":
			in.Data[k] = choose(g, label+"OddParent", []any{"", nil, 7})
		default:
			in.Data[k] = g.value(label+"Data", 1)
		}
	}
	if g.coin(label+"HasRetry", 3) {
		in.Retry = g.retry(label + "Retry")
	}
	return in
}

// edge draws an edge to add; ids are the blocks it may join. Half the time
// the target is one the scope rule allows.
func (g *opGen) edge(label string, ids []string) EdgeInput {
	parent := func(id string) string {
		if b := g.m.blocks[id]; b != nil {
			return b.Parent
		}
		return ""
	}
	e := EdgeInput{
		ID:           g.newEdgeID(label + "ID"),
		Source:       g.pick(label+"Source", ids, mBlockPool),
		SourceHandle: choose(g, label+"SH", mHandles),
		TargetHandle: choose(g, label+"TH", []string{"", "", "target", "target-top"}),
		Type:         choose(g, label+"Type", []string{"", "", "default"}),
	}
	var scoped []string
	for _, id := range ids {
		if id != e.Source && (parent(id) == parent(e.Source) || parent(id) == e.Source || parent(e.Source) == id) {
			scoped = append(scoped, id)
		}
	}
	if !g.coin(label+"Unscoped", 4) {
		e.Target = g.pick(label+"Target", scoped, mBlockPool)
	} else {
		e.Target = g.pick(label+"Target", ids, mBlockPool)
	}
	return e
}

func (g *opGen) subUpdate(label string) SubBlockUpdate {
	u := SubBlockUpdate{BlockID: g.blockID(label + "Block"), SubBlockID: choose(g, label+"Sub", mSubIDs),
		Value: g.value(label+"Value", 1)}
	switch g.intn(label+"Expect", 0, 3) {
	case 1: // the current value: the compare-and-set succeeds
		u.HasExpected = true
		if b := g.m.blocks[u.BlockID]; b != nil && b.Subs[u.SubBlockID] != nil {
			u.ExpectedValue = b.Subs[u.SubBlockID].Value
		}
	case 2:
		u.HasExpected, u.ExpectedValue = true, g.value(label+"Expected", 1)
	}
	return u
}

// replaceState draws a well-formed state (see the file comment).
func (g *opGen) replaceState() ReplaceState {
	op := ReplaceState{Blocks: map[string]BlockInput{}}
	parent := map[string]string{}
	var ids, containers []string
	names := map[string]bool{}
	for range g.intn("rsN", 0, 5) {
		id := choose(g, "rsID", mBlockPool)
		if _, dup := op.Blocks[id]; dup {
			continue
		}
		in := g.block("rs", nil, nil)
		in.ID, in.Data = id, nil
		if in.Position == nil {
			in.Position = &Position{}
		}
		if n := normName(in.Name); n != "" && names[n] {
			in.Name = "Unique " + id
		} else if g.coin("rsNoName", 6) {
			in.Name = ""
		}
		names[normName(in.Name)] = true
		if len(containers) > 0 && g.coin("rsChild", 2) {
			p := choose(g, "rsParent", containers)
			in.Data = map[string]any{"parentId": p, "extent": "parent"}
			parent[id] = p
		}
		if IsContainer(in.Type) {
			containers = append(containers, id)
		}
		op.Blocks[id] = in
		ids = append(ids, id)
	}
	// Edges: no self-loop, no scope crossing, no cycle among the kept ones;
	// dangling and duplicate edges are the operation's to drop.
	out := map[string][]string{}
	reaches := func(from, to string) bool {
		seen, stack := map[string]bool{from: true}, []string{from}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if n == to {
				return true
			}
			for _, m := range out[n] {
				if !seen[m] {
					seen[m] = true
					stack = append(stack, m)
				}
			}
		}
		return false
	}
	keptIDs, keptSigs := map[string]bool{}, map[edgeSig]bool{}
	for range g.intn("rsEdges", 0, 5) {
		e := EdgeInput{
			ID:           choose(g, "rsEdgeID", mEdgePool[:5]),
			Source:       g.pick("rsSource", ids, mBlockPool),
			Target:       g.pick("rsTarget", ids, mBlockPool),
			SourceHandle: choose(g, "rsSH", mHandles),
		}
		_, s := op.Blocks[e.Source]
		_, t := op.Blocks[e.Target]
		sig := sigOf(e.edge())
		if s && t && !keptIDs[e.ID] && !keptSigs[sig] {
			ps, pt := parent[e.Source], parent[e.Target]
			if e.Source == e.Target || !(ps == pt || ps == e.Target || pt == e.Source) || reaches(e.Target, e.Source) {
				continue
			}
			keptIDs[e.ID], keptSigs[sig] = true, true
			out[e.Source] = append(out[e.Source], e.Target)
		}
		op.Edges = append(op.Edges, e)
	}
	for _, cfgs := range []*map[string]map[string]any{&op.Loops, &op.Parallels} {
		if g.coin("rsCfg", 2) {
			*cfgs = map[string]map[string]any{g.pick("rsCfgID", ids, mBlockPool): g.config("rsCfg")}
		}
	}
	return op
}

// op draws one operation, weighted toward adds so that documents grow, but
// reaching every operation type.
func (g *opGen) op() Op {
	type entry struct {
		weight int
		gen    func() Op
	}
	table := []entry{
		{12, func() Op {
			op := BatchAddBlocks{}
			var batch, batchIDs []string
			for i := range 1 + g.uniform("nBlocks", 4) {
				in := g.block(fmt.Sprintf("add%d", i), batch, batchIDs)
				if IsContainer(in.Type) {
					batch = append(batch, in.ID)
				}
				batchIDs = append(batchIDs, in.ID)
				op.Blocks = append(op.Blocks, in)
			}
			for range max(g.intn("nEdges", -2, 2), 0) {
				op.Edges = append(op.Edges, g.edge("addEdge", append(sortedKeys(g.m.blocks), batchIDs...)))
			}
			if g.coin("hasLoops", 3) {
				op.Loops = map[string]map[string]any{g.pick("loopsID", batchIDs, mBlockPool): g.config("loops")}
			}
			if g.coin("hasParallels", 3) {
				op.Parallels = map[string]map[string]any{g.pick("parsID", batchIDs, mBlockPool): g.config("pars")}
			}
			if g.coin("hasSBV", 3) {
				op.SubBlockValues = map[string]map[string]any{g.pick("sbvID", batchIDs, mBlockPool): {
					choose(g, "sbvSub", mSubIDs): g.value("sbv", 1)}}
			}
			return op
		}},
		{8, func() Op { return AddEdge{Edge: g.edge("edge", sortedKeys(g.m.blocks))} }},
		{4, func() Op {
			op := AddBlock{Block: g.block("legacyAdd", nil, nil)}
			if g.coin("autoConnect", 2) {
				e := g.edge("autoEdge", append(sortedKeys(g.m.blocks), op.Block.ID))
				op.AutoConnectEdge = &e
			}
			return op
		}},
		{3, func() Op {
			in := g.block("subflowAdd", nil, nil)
			in.Type = choose(g, "subflowType", []string{TypeLoop, TypeParallel, TypeLoop, TypeParallel, "agent"})
			op := AddSubflow{Block: in}
			if g.coin("subflowCfg", 2) {
				op.Config = g.config("subflowCfg")
			}
			return op
		}},
		{2, func() Op { return UpdatePosition{ID: g.blockID("id"), Position: g.pos("pos")} }},
		{2, func() Op { id := g.blockID("id"); return UpdateName{ID: id, NewName: g.name("newName", id)} }},
		{1, func() Op { return ToggleEnabled{ID: g.blockID("id")} }},
		{4, func() Op {
			op := UpdateParent{ID: g.blockID("id"), Extent: choose(g, "extent", []string{"", "parent", "parent"})}
			if !g.coin("detach", 3) {
				others := slices.DeleteFunc(g.containers(), func(id string) bool { return id == op.ID })
				op.ParentID = g.pick("parent", others, mBlockPool)
			}
			return op
		}},
		{1, func() Op { return UpdateAdvancedMode{ID: g.blockID("id"), AdvancedMode: g.coin("on", 2)} }},
		{1, func() Op { return UpdateErrorEnabled{ID: g.blockID("id"), ErrorEnabled: g.coin("on", 2)} }},
		{1, func() Op { return UpdateRetry{ID: g.blockID("id"), Retry: g.retry("retry")} }},
		{1, func() Op {
			return UpdateCanonicalMode{ID: g.blockID("id"), CanonicalID: choose(g, "cid", []string{"c0", "c1", "c2", ""}),
				Mode: choose(g, "mode", []string{"basic", "advanced", "bogus"})}
		}},
		{1, func() Op { return ReplaceCanonicalModes{ID: g.blockID("id"), Modes: g.modes("modes")} }},
		{1, func() Op { return ToggleHandles{ID: g.blockID("id"), HorizontalHandles: g.coin("on", 2)} }},
		{1, func() Op { return UpdateWide{ID: g.blockID("id"), IsWide: g.coin("on", 2)} }},
		{1, func() Op { return UpdateTriggerMode{ID: g.blockID("id"), TriggerMode: g.coin("on", 2)} }},
		{1, func() Op { return RemoveBlock{ID: g.blockID("id")} }},
		{2, func() Op {
			op := DuplicateBlock{SourceID: g.blockID("src"), ID: g.newBlockID("dst"), Position: g.optPos("pos")}
			if g.coin("dupName", 3) {
				op.NewName = g.name("dupName", op.ID)
			}
			return op
		}},
		{1, func() Op {
			ups := make([]PositionUpdate, g.intn("n", 1, 3))
			for i := range ups {
				ups[i] = PositionUpdate{ID: g.blockID("id"), Position: g.pos("pos")}
			}
			return BatchUpdatePositions{Updates: ups}
		}},
		{1, func() Op { return BatchRemoveBlocks{IDs: g.blockIDs("ids")} }},
		{2, func() Op { return BatchToggleEnabled{BlockIDs: g.blockIDs("ids")} }},
		{1, func() Op { return BatchToggleHandles{BlockIDs: g.blockIDs("ids")} }},
		{1, func() Op { return BatchToggleLocked{BlockIDs: g.blockIDs("ids")} }},
		{2, func() Op {
			ups := make([]ParentUpdate, g.intn("n", 1, 3))
			for i := range ups {
				ups[i] = ParentUpdate{ID: g.blockID("id"), Position: g.optPos("pos")}
				if !g.coin("detach", 3) {
					ups[i].ParentID = g.containerID("parent")
				}
			}
			return BatchUpdateParent{Updates: ups}
		}},
		{2, func() Op {
			es := make([]EdgeInput, g.intn("n", 1, 3))
			for i := range es {
				es[i] = g.edge("edge", sortedKeys(g.m.blocks))
			}
			return BatchAddEdges{Edges: es}
		}},
		{1, func() Op { return RemoveEdge{ID: g.edgeID("id")} }},
		{1, func() Op {
			ids := make([]string, g.intn("n", 1, 3))
			for i := range ids {
				ids[i] = g.edgeID("id")
			}
			return BatchRemoveEdges{IDs: ids}
		}},
		{2, func() Op {
			return UpdateSubflow{ID: g.containerID("id"), Type: choose(g, "type", []string{"", "", TypeLoop, TypeParallel}),
				Config: g.config("cfg")}
		}},
		{1, func() Op { return RemoveSubflow{ID: g.containerID("id")} }},
		{2, func() Op {
			op := DuplicateSubflowWithChildren{SourceID: g.containerID("src"), ID: g.newBlockID("dst"), IDMap: map[string]string{},
				Position: g.optPos("pos")}
			if g.m.blocks[op.SourceID] == nil {
				return op
			}
			freeB := free(mBlockPool, func(id string) bool { return g.m.blocks[id] != nil || id == op.ID })
			freeE := free(mEdgePool, func(id string) bool { _, ok := g.m.edges[id]; return ok })
			sub := map[string]bool{}
			for i, id := range g.m.withDescendants([]string{op.SourceID}, nil) {
				sub[id] = true
				if i > 0 && len(freeB) > 0 {
					op.IDMap[id], freeB = freeB[0], freeB[1:]
				}
			}
			for _, id := range sortedKeys(g.m.edges) {
				if e := g.m.edges[id]; sub[e.Source] && sub[e.Target] && len(freeE) > 0 {
					op.IDMap[id], freeE = freeE[0], freeE[1:]
				}
			}
			if len(op.IDMap) > 0 && g.coin("dropMapping", 8) {
				delete(op.IDMap, choose(g, "dropped", sortedKeys(op.IDMap)))
			}
			return op
		}},
		{2, func() Op {
			u := g.subUpdate("sub")
			return UpdateSubBlock{BlockID: u.BlockID, SubBlockID: u.SubBlockID, Value: u.Value}
		}},
		{2, func() Op {
			ups := make([]SubBlockUpdate, g.intn("n", 1, 3))
			for i := range ups {
				ups[i] = g.subUpdate("sub")
			}
			return SubBlockBatchUpdate{Updates: ups}
		}},
		{4, func() Op {
			return AddVariable{ID: choose(g, "id", mVarPool), VarName: choose(g, "name", []string{"x", "count", ""}),
				Type: choose(g, "type", []string{"plain", "number", "object", ""}), Value: g.value("value", 1)}
		}},
		{1, func() Op { return RemoveVariable{ID: g.varID("id")} }},
		{2, func() Op {
			op := UpdateVariable{ID: g.varID("id"), Field: choose(g, "field", []string{VarFieldName, VarFieldType, VarFieldValue, VarFieldValue, "bogus"})}
			if op.Field == VarFieldValue || g.coin("oddValue", 6) {
				op.Value = g.value("value", 1)
			} else {
				op.Value = choose(g, "str", []string{"y", "plain", ""})
			}
			return op
		}},
		{1, func() Op {
			return DuplicateVariable{SourceID: g.varID("src"), ID: g.pick("dst", free(mVarPool, func(id string) bool { return g.m.vars[id] != nil }), mVarPool)}
		}},
		{1, func() Op { return g.replaceState() }},
	}
	// A small document mostly refuses: grow it first.
	if len(g.m.blocks) < 3 && g.coin("grow", 2) {
		return table[0].gen()
	}
	if len(g.m.edges) < 2 && len(g.m.blocks) >= 2 && g.coin("connect", 3) {
		return table[1].gen()
	}
	total := 0
	for _, e := range table {
		total += e.weight
	}
	k := g.uniform("op", total)
	for _, e := range table {
		if k < e.weight {
			return e.gen()
		}
		k -= e.weight
	}
	panic("unreachable")
}

func describe(op Op) string { return fmt.Sprintf("%T %s", op, jsonOf(op)) }

// checkState compares the stored state with the model beyond what the view
// shows: one value per key (a single replica never leaves concurrent
// values), no key of a removed block or variable left behind, and the stored
// edges (the view hides some) equal to the model's.
func checkState(d *Doc, m *model) string {
	var problems []string
	blocks, vars, edges := map[string]bool{}, map[string]bool{}, map[string]bool{}
	d.Store().Range(func(k Key, es []crdt.Dotted[Cell]) bool {
		if len(es) != 1 {
			problems = append(problems, fmt.Sprintf("key %+v holds %d values", k, len(es)))
		}
		switch k.Kind {
		case KindBlock:
			blocks[k.ID] = true
		case KindBlockField, KindSubBlock, KindSubBlockType, KindSubflow:
			if m.blocks[k.ID] == nil {
				problems = append(problems, fmt.Sprintf("key %+v of a block the model does not have", k))
			}
		case KindEdge:
			edges[k.ID] = true
			e := es[0].Value.Value.asEdge()
			e.ID = k.ID
			if m.edges[k.ID] != e {
				problems = append(problems, fmt.Sprintf("stored edge %s, model %s", jsonOf(e), jsonOf(m.edges[k.ID])))
			}
		case KindVariable:
			vars[k.ID] = true
		case KindVariableField:
			if m.vars[k.ID] == nil {
				problems = append(problems, fmt.Sprintf("key %+v of a variable the model does not have", k))
			}
		}
		return true
	})
	if got, want := sortedKeys(blocks), sortedKeys(m.blocks); !slices.Equal(got, want) {
		problems = append(problems, fmt.Sprintf("stored blocks %v, model %v", got, want))
	}
	if got, want := sortedKeys(edges), sortedKeys(m.edges); !slices.Equal(got, want) {
		problems = append(problems, fmt.Sprintf("stored edges %v, model %v", got, want))
	}
	if got, want := sortedKeys(vars), sortedKeys(m.vars); !slices.Equal(got, want) {
		problems = append(problems, fmt.Sprintf("stored variables %v, model %v", got, want))
	}
	return strings.Join(problems, "\n")
}

// skipBatches are the operations that skip unknown and protected entries
// and are refused with ErrLocked or ErrNoEffect when they skipped them all.
func skipBatch(op Op) bool {
	switch op.(type) {
	case BatchUpdatePositions, BatchRemoveBlocks, BatchToggleEnabled, BatchToggleHandles, BatchToggleLocked,
		BatchUpdateParent, BatchRemoveEdges:
		return true
	}
	return false
}

// checkNoEffect: an operation refused as having no effect (or a batch that
// skipped every entry) must be one whose effects change nothing in the
// model. This is the one kind of refusal the model can judge: without it a
// batch that wrongly skips everything would go unnoticed.
func checkNoEffect(m *model, op Op, err error) (problem string) {
	if u, ok := op.(SubBlockBatchUpdate); ok && errors.Is(err, ErrPrecondition) {
		return checkPrecondition(m, u)
	}
	if !errors.Is(err, ErrNoEffect) && !(skipBatch(op) && errors.Is(err, ErrLocked)) {
		return ""
	}
	c := m.clone()
	defer func() {
		if r := recover(); r != nil {
			problem = fmt.Sprintf("the model cannot apply it: %v", r)
		}
	}()
	c.apply(op)
	if !reflect.DeepEqual(c, m) {
		return "the model says it has an effect (view = before, model = after):\n" + diffViews(m.render(), c.render())
	}
	return ""
}

// checkPrecondition: a subblock-batch-update refused for a failed
// precondition has an update, after the earlier ones took effect, whose
// expected value differs from the model's.
func checkPrecondition(m *model, op SubBlockBatchUpdate) string {
	c := m.clone()
	for _, u := range op.Updates {
		if !c.usable(u.BlockID) || u.SubBlockID == "" {
			return "" // refused for another reason first; nothing to judge
		}
		if !c.expectationHolds(u) {
			return ""
		}
		c.writeSub(u)
	}
	return "every expected value matches the model's"
}

// modelStats counts accepted and refused operations per type over a run.
var modelStats struct {
	sync.Mutex
	accepted, refused map[string]int
	errs              map[string]int
	// histories, and the blocks, edges and variables they ended with
	runs, blocks, edges, vars, maxBlocks, maxEdges int
}

func countOp(op Op, err error) {
	modelStats.Lock()
	defer modelStats.Unlock()
	name := strings.TrimPrefix(fmt.Sprintf("%T", op), "workflow.")
	if err == nil {
		modelStats.accepted[name]++
		return
	}
	modelStats.refused[name]++
	for _, s := range []error{ErrInvalid, ErrUnknownBlock, ErrUnknownEdge, ErrUnknownVariable, ErrExists, ErrLocked,
		ErrNameConflict, ErrEdgeRejected, ErrNotContainer, ErrPrecondition, ErrNoEffect} {
		if errors.Is(err, s) {
			modelStats.errs[name+": "+strings.TrimPrefix(s.Error(), "workflow: ")]++
		}
	}
}

func TestModelSingleReplica(t *testing.T) {
	modelStats.accepted, modelStats.refused, modelStats.errs = map[string]int{}, map[string]int{}, map[string]int{}
	modelStats.runs, modelStats.blocks, modelStats.edges, modelStats.vars, modelStats.maxBlocks, modelStats.maxEdges = 0, 0, 0, 0, 0, 0
	rapid.Check(t, func(rt *rapid.T) {
		d, m := New(), newModel()
		clock, wall := crdt.NewClock("r1"), int64(1_000)
		g := &opGen{t: rt, m: m}
		n := 1 + g.uniform("nOps", 60)
		for i := range n {
			op := g.op()
			wall += 10
			_, err := d.Apply(clock.Now(wall), op)
			countOp(op, err)
			if err != nil {
				rt.Logf("#%d refused %s: %v", i, describe(op), err)
				if p := checkNoEffect(m, op, err); p != "" {
					rt.Fatalf("#%d %s was refused (%v) but %s", i, describe(op), err, p)
				}
				continue
			}
			rt.Logf("#%d %s", i, describe(op))
			m.apply(op)
			if diff := diffViews(d.View(), m.render()); diff != "" {
				rt.Fatalf("after #%d %s the view (got) and the model (want) differ:\n%s", i, describe(op), diff)
			}
			if p := checkState(d, m); p != "" {
				rt.Fatalf("after #%d %s the stored state and the model differ:\n%s", i, describe(op), p)
			}
		}
		modelStats.Lock()
		modelStats.runs++
		modelStats.blocks += len(m.blocks)
		modelStats.edges += len(m.edges)
		modelStats.vars += len(m.vars)
		modelStats.maxBlocks = max(modelStats.maxBlocks, len(m.blocks))
		modelStats.maxEdges = max(modelStats.maxEdges, len(m.edges))
		modelStats.Unlock()
		enc := d.Encode()
		d2, err := Decode(enc, DocLimits)
		if err != nil {
			rt.Fatalf("Decode(Encode(doc)): %v", err)
		}
		if !d2.Equal(d) {
			rt.Fatalf("Decode(Encode(doc)) is not equal to doc")
		}
		if string(d2.Encode()) != string(enc) {
			rt.Fatalf("Encode(Decode(Encode(doc))) differs from Encode(doc)")
		}
		if diff := diffViews(d2.View(), d.View()); diff != "" {
			rt.Fatalf("the decoded document's view (got) differs from the document's (want):\n%s", diff)
		}
	})
	if testing.Verbose() {
		modelStats.Lock()
		defer modelStats.Unlock()
		var names []string
		for k := range modelStats.accepted {
			names = append(names, k)
		}
		for k := range modelStats.refused {
			if _, ok := modelStats.accepted[k]; !ok {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		for _, k := range names {
			t.Logf("%-30s accepted %6d  refused %6d", k, modelStats.accepted[k], modelStats.refused[k])
		}
		t.Logf("refusals by error: %v", modelStats.errs)
		r := float64(max(modelStats.runs, 1))
		t.Logf("final state, mean over %d histories: %.1f blocks (max %d), %.1f edges (max %d), %.1f variables",
			modelStats.runs, float64(modelStats.blocks)/r, modelStats.maxBlocks, float64(modelStats.edges)/r, modelStats.maxEdges, float64(modelStats.vars)/r)
	}
}
