package workflow

import (
	"maps"
	"math"
	"slices"
	"strings"
)

// Subflow config keys with rules of their own.
const (
	cfgLoopType     = "loopType"
	cfgParallelType = "parallelType"
	cfgBatchSize    = "batchSize"
	// cfgNodes is derived from the children's parentId and never stored.
	cfgNodes = "nodes"
	// cfgID repeats the container id the config is stored under.
	cfgID = "id"
)

// batchSize bounds, applied whenever a batch size is written.
const (
	minBatchSize = 1
	maxBatchSize = 20
)

// subflowDefaults is the config a new container gets when none is given.
func subflowDefaults(blockType string) map[string]any {
	switch blockType {
	case TypeLoop:
		return map[string]any{cfgLoopType: "for", "iterations": 5}
	case TypeParallel:
		return map[string]any{cfgParallelType: "count", "count": 5, cfgBatchSize: maxBatchSize}
	}
	return nil
}

// writeNewSubflow writes the config of a block just added: the given one
// from loops or parallels (by block type) or the defaults. Non-containers get
// none.
func (b *builder) writeNewSubflow(id, blockType string, loops, parallels map[string]map[string]any) error {
	var given map[string]any
	var ok bool
	switch blockType {
	case TypeLoop:
		given, ok = loops[id]
	case TypeParallel:
		given, ok = parallels[id]
	default:
		return nil
	}
	if !ok {
		given = subflowDefaults(blockType)
	}
	return b.writeSubflowConfig(id, given)
}

// writeSubflowConfig validates config and writes it key by key (a shallow
// merge over what is stored). It fails with ErrInvalid for an unknown loop or
// parallel type or a non-numeric batch size.
func (b *builder) writeSubflowConfig(id string, config map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(config)) {
		if k == cfgNodes || k == cfgID {
			continue
		}
		if k == "" {
			return errorf(ErrInvalid, "subflow %q: empty config key", id)
		}
		v, err := subflowValue(k, config[k])
		if err != nil {
			return errorf(ErrInvalid, "subflow %q: %v", id, err)
		}
		if err := b.putAny(subflowKey(id, k), v); err != nil {
			return err
		}
	}
	return nil
}

// subflowValue checks and normalizes one config value.
func subflowValue(k string, v any) (any, error) {
	switch k {
	case cfgLoopType:
		if s, _ := v.(string); s != "for" && s != "forEach" && s != "while" && s != "doWhile" {
			return nil, errorf(ErrInvalid, "loopType %v, want for, forEach, while or doWhile", v)
		}
	case cfgParallelType:
		if s, _ := v.(string); s != "count" && s != "collection" {
			return nil, errorf(ErrInvalid, "parallelType %v, want count or collection", v)
		}
	case cfgBatchSize:
		f, ok := toFloat(v)
		if !ok {
			return nil, errorf(ErrInvalid, "batchSize %v is not a number", v)
		}
		return math.Min(math.Max(math.Round(f), minBatchSize), maxBatchSize), nil
	}
	return v, nil
}

// toFloat reads a JSON number of any Go numeric type.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case float32:
		return toFloat(float64(x))
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	}
	return 0, false
}

// UpdateSubflow ("update", target subflow) merges Config shallowly into a
// container's subflow config. Type, if given, must match the block's type.
// It fails with ErrUnknownBlock, ErrNotContainer, ErrInvalid (type mismatch,
// bad loopType/parallelType/batchSize) or ErrLocked. The derived "nodes" key
// is ignored and batchSize is clamped to 1..20.
type UpdateSubflow struct {
	ID     string
	Type   string
	Config map[string]any
}

// Name implements Op.
func (UpdateSubflow) Name() string { return "update" }

func (op UpdateSubflow) prepare(b *builder) error {
	if err := checkContainer(b, op.ID); err != nil {
		return err
	}
	if op.Type != "" && op.Type != blockType(b, op.ID) {
		return errorf(ErrInvalid, "subflow %q is a %s, not a %s", op.ID, blockType(b, op.ID), op.Type)
	}
	return b.writeSubflowConfig(op.ID, op.Config)
}

// checkContainer checks that id is a present, unprotected container.
func checkContainer(b *builder, id string) error {
	if err := checkID("subflow", id); err != nil {
		return err
	}
	if !blockExists(b, id) {
		return errorf(ErrUnknownBlock, "subflow %q", id)
	}
	if !IsContainer(blockType(b, id)) {
		return errorf(ErrNotContainer, "block %q", id)
	}
	if protected(b, id) {
		return errorf(ErrLocked, "subflow %q", id)
	}
	return nil
}

// AddSubflow ("add", target subflow, legacy) adds a loop or parallel block
// with its config (defaults when Config is nil), with the rules and errors of
// BatchAddBlocks. A block of another type fails with ErrNotContainer.
type AddSubflow struct {
	Block  BlockInput
	Config map[string]any
}

// Name implements Op.
func (AddSubflow) Name() string { return "add" }

func (op AddSubflow) prepare(b *builder) error {
	if !IsContainer(op.Block.Type) {
		return errorf(ErrNotContainer, "subflow %q has type %q", op.Block.ID, op.Block.Type)
	}
	batch := BatchAddBlocks{Blocks: []BlockInput{op.Block}}
	if op.Config != nil {
		cfg := map[string]map[string]any{op.Block.ID: op.Config}
		if op.Block.Type == TypeLoop {
			batch.Loops = cfg
		} else {
			batch.Parallels = cfg
		}
	}
	return batch.prepare(b)
}

// RemoveSubflow ("remove", target subflow, legacy) removes a container with
// its descendants and their edges. It fails with ErrUnknownBlock,
// ErrNotContainer or ErrLocked.
type RemoveSubflow struct{ ID string }

// Name implements Op.
func (RemoveSubflow) Name() string { return "remove" }

func (op RemoveSubflow) prepare(b *builder) error {
	if err := checkContainer(b, op.ID); err != nil {
		return err
	}
	b.removeBlocks(b.withDescendants([]string{op.ID}, nil))
	return nil
}

// DuplicateSubflowWithChildren ("duplicate-with-children", legacy) copies a
// container, every descendant and every edge between them. IDMap gives the
// new id of each descendant and of each internal edge; the container's new
// id is ID. Copies get unique "(copy)" names and are unlocked; the container
// lands at Position, or offset from the source. It fails with
// ErrUnknownBlock, ErrNotContainer, ErrInvalid (an id missing from IDMap),
// ErrExists (a new id is present or repeated) or ErrLocked (the source's
// parent is protected); copied edges go through the edge pipeline.
type DuplicateSubflowWithChildren struct {
	SourceID string
	ID       string
	IDMap    map[string]string
	Position *Position
}

// Name implements Op.
func (DuplicateSubflowWithChildren) Name() string { return "duplicate-with-children" }

func (op DuplicateSubflowWithChildren) prepare(b *builder) error {
	if err := checkNewCopy(b, op.SourceID, op.ID); err != nil {
		return err
	}
	if !IsContainer(blockType(b, op.SourceID)) {
		return errorf(ErrNotContainer, "block %q", op.SourceID)
	}
	t := treeOf(b)
	parent := t.parentOf(op.SourceID)
	if parent != "" && t.protected(b, parent) {
		return errorf(ErrLocked, "parent %q", parent)
	}
	blocks := b.withDescendants([]string{op.SourceID}, nil)
	newID := map[string]string{op.SourceID: op.ID}
	if err := mapIDs(b, blocks[1:], op.IDMap, newID, blockExists); err != nil {
		return err
	}
	edges := b.internalEdges(newID)
	if err := mapIDs(b, edgeIDs(edges), op.IDMap, newID, func(r reader, id string) bool { return r.has(edgeKey(id)) }); err != nil {
		return err
	}
	names := b.blockNames()
	for i, src := range blocks {
		name := copyName(b.get(fieldKey(src, FieldName)).asString(), names)
		names.set(NormalizeName(name), newID[src])
		pos := b.get(fieldKey(src, FieldPosition)).asPosition()
		if i == 0 {
			pos.X, pos.Y = pos.X+duplicateOffset, pos.Y+duplicateOffset
			if op.Position != nil {
				pos = *op.Position
			}
		}
		b.copyBlock(src, newID[src], name, pos)
		if i > 0 {
			b.put(fieldKey(newID[src], FieldParentID), stringValue(newID[t.parentOf(src)]))
		} else {
			b.setCopyParent(newID[src], parent)
		}
	}
	c := newEdgeChecker(b)
	for _, e := range edges {
		in := EdgeInput{newID[e.ID], newID[e.Source], newID[e.Target], e.SourceHandle, e.TargetHandle, e.Type}
		if err := c.admit(in); err != nil {
			return err
		}
	}
	return nil
}

// mapIDs looks up the new id of each old id in idMap and records it in
// newID, refusing missing, repeated and present ids.
func mapIDs(b *builder, old []string, idMap, newID map[string]string, exists func(reader, string) bool) error {
	taken := map[string]bool{}
	for _, n := range newID {
		taken[n] = true
	}
	for _, o := range old {
		n := idMap[o]
		if err := checkID("new id for "+o, n); err != nil {
			return err
		}
		if taken[n] || exists(b, n) {
			return errorf(ErrExists, "new id %q for %q", n, o)
		}
		taken[n] = true
		newID[o] = n
	}
	return nil
}

// internalEdges returns the present edges with both ends among the keys of
// blocks, sorted by id.
func (b *builder) internalEdges(blocks map[string]string) []Edge {
	var out []Edge
	f := b.edgeFinder()
	for block := range blocks {
		f.at(block, func(e Edge) {
			_, s := blocks[e.Source]
			_, t := blocks[e.Target]
			if s && t && e.Source == block { // each internal edge once, at its source
				out = append(out, e)
			}
		})
	}
	slices.SortFunc(out, func(a, c Edge) int { return strings.Compare(a.ID, c.ID) })
	return out
}

func edgeIDs(es []Edge) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}
