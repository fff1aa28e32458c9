package workflow

// MaxOpItems caps the items of one operation a client sends in an Operation
// frame (OpItems): the blocks, edges, sub-blocks, ids or updates it names.
// A server runs the operation in its room loop, where every member waits,
// and its cost is per item: removing a block costs tens of microseconds
// (its values, edges and index entries), so 128 removals take a few
// milliseconds and 512 already tens (BENCHMARKS.md); without a cap one
// 1 MiB frame carries 16,000 blocks to add (over a second) or 100,000 ids
// to remove. A larger batch is sent as several. The admin API, whose
// callers are trusted, is not held to it. The cap bounds what the payload
// names, not what the document holds: removing or duplicating one
// container costs as much as the blocks inside it.
const MaxOpItems = 128

// OpItems counts the items op names: one for a single-entity operation; for
// a batch, its entries, and for an added block its sub-blocks as well (each
// is a value written).
func OpItems(op Op) int {
	blocks := func(bs ...BlockInput) int {
		n := 0
		for _, b := range bs {
			n += 1 + len(b.SubBlocks) + len(b.Data)
		}
		return n
	}
	values := func(m map[string]map[string]any) int {
		n := 0
		for _, v := range m {
			n += len(v)
		}
		return n
	}
	switch op := op.(type) {
	case BatchAddBlocks:
		return blocks(op.Blocks...) + len(op.Edges) + values(op.SubBlockValues) + values(op.Loops) + values(op.Parallels)
	case ReplaceState:
		n := len(op.Edges) + values(op.Loops) + values(op.Parallels)
		for _, b := range op.Blocks {
			n += blocks(b)
		}
		return n
	case AddBlock:
		return blocks(op.Block)
	case AddSubflow:
		return blocks(op.Block) + len(op.Config)
	case BatchUpdatePositions:
		return len(op.Updates)
	case BatchRemoveBlocks:
		return len(op.IDs)
	case BatchToggleEnabled:
		return len(op.BlockIDs) + len(op.PreviousStates)
	case BatchToggleHandles:
		return len(op.BlockIDs) + len(op.PreviousStates)
	case BatchToggleLocked:
		return len(op.BlockIDs) + len(op.PreviousStates)
	case BatchUpdateParent:
		return len(op.Updates)
	case BatchAddEdges:
		return len(op.Edges)
	case BatchRemoveEdges:
		return len(op.IDs)
	case SubBlockBatchUpdate:
		return len(op.Updates)
	case ReplaceCanonicalModes:
		return len(op.Modes)
	case DuplicateSubflowWithChildren:
		return 1 + len(op.IDMap)
	}
	return 1
}
