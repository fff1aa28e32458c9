package workflow

import (
	"maps"
	"slices"

	"github.com/flowsync/flowsync/crdt"
)

// ReplaceState ("replace-state") replaces the whole graph: every block with
// its fields, sub-blocks and subflow config, and every edge, is removed, then
// Blocks, Edges, Loops and Parallels are written. Variables are untouched.
//
// As in the reference there is no name, scope, cycle or lock validation;
// edges are only canonicalized and de-duplicated, and edges with an end
// outside the new blocks are dropped. Loops and Parallels entries for ids
// that are not new blocks are dropped too. It fails with ErrInvalid for a
// block without a position or type, or whose map key and ID differ.
type ReplaceState struct {
	Blocks    map[string]BlockInput
	Edges     []EdgeInput
	Loops     map[string]map[string]any
	Parallels map[string]map[string]any
}

// Name implements Op.
func (ReplaceState) Name() string { return "replace-state" }

func (op ReplaceState) prepare(b *builder) error {
	if _, err := op.blocks(); err != nil {
		return err
	}
	b.removeGraph()
	return op.write(b)
}

// write writes the new state into a builder whose graph is removed.
func (op ReplaceState) write(b *builder) error {
	blocks, err := op.blocks()
	if err != nil {
		return err
	}
	for _, in := range blocks {
		if err := b.writeBlock(in); err != nil {
			return err
		}
	}
	for _, cfgs := range []map[string]map[string]any{op.Loops, op.Parallels} {
		for _, id := range slices.Sorted(maps.Keys(cfgs)) {
			if _, ok := op.Blocks[id]; !ok {
				continue
			}
			if err := b.writeSubflowConfig(id, cfgs[id]); err != nil {
				return err
			}
		}
	}
	return b.writeStateEdges(op.Edges, op.Blocks)
}

// blocks validates the new blocks and returns them sorted by id.
func (op ReplaceState) blocks() ([]BlockInput, error) {
	out := make([]BlockInput, 0, len(op.Blocks))
	for _, id := range slices.Sorted(maps.Keys(op.Blocks)) {
		in := op.Blocks[id]
		if in.ID == "" {
			in.ID = id
		}
		if err := checkID("block", in.ID); err != nil {
			return nil, err
		}
		switch {
		case in.ID != id:
			return nil, errorf(ErrInvalid, "block %q listed under %q", in.ID, id)
		case in.Position == nil:
			return nil, errorf(ErrInvalid, "block %q has no position", id)
		case in.Type == "":
			return nil, errorf(ErrInvalid, "block %q has no type", id)
		}
		out = append(out, in)
	}
	return out, nil
}

// removeGraph removes every key of the graph part of the document (blocks,
// their fields, sub-blocks, subflows and edges), including orphans left by
// concurrent edits, and leaves variables.
func (b *builder) removeGraph() {
	keys := b.keysWhere(func(k Key, _ []crdt.Dotted[Cell]) bool {
		return k.Kind != KindVariable && k.Kind != KindVariableField
	})
	for _, k := range keys {
		b.remove(k)
	}
}

// writeStateEdges writes replace-state edges: canonicalized, the first of
// each duplicate (by id or by ends and handles) kept, those with an end
// outside blocks dropped.
func (b *builder) writeStateEdges(edges []EdgeInput, blocks map[string]BlockInput) error {
	ids := map[string]bool{}
	sigs := map[edgeSig]bool{}
	for _, in := range edges {
		e := in.edge()
		if err := checkID("edge", e.ID); err != nil {
			return err
		}
		_, s := blocks[e.Source]
		_, t := blocks[e.Target]
		if !s || !t || ids[e.ID] || sigs[sigOf(e)] {
			continue
		}
		ids[e.ID], sigs[sigOf(e)] = true, true
		b.put(edgeKey(e.ID), edgeValue(e))
	}
	return nil
}
