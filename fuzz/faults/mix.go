package faults

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/client"
)

// Mix is what editors edit.
type Mix uint8

const (
	// Disjoint: each editor adds, moves, edits, links and removes only
	// blocks and variables it created, so no delta names another
	// replica's dots. Today's server admits every such re-send.
	Disjoint Mix = 1 + iota
	// Shared: editors move, rename, edit, link and remove each other's
	// blocks and variables, as collaborators do; a re-sent delta then
	// names other replicas' dots, which the server refuses today when it
	// has lost them (the cases of the suite).
	Shared
)

func (m Mix) String() string {
	if m == Shared {
		return "shared"
	}
	return "disjoint"
}

// Step applies one random edit of mix to e, numbered n (ids stay unique).
// Edits the document refuses (a block removed meanwhile, a name taken, an
// edge closing a cycle) are skipped; it returns an error only when the
// client refuses every edit (closed, workflow deleted).
func (e *Editor) Step(rng *rand.Rand, mix Mix, n int) error {
	view := e.C.View()
	var blocks, vars []string
	for id := range view.Blocks {
		if mix == Shared || strings.HasPrefix(id, e.Name+"-") {
			blocks = append(blocks, id)
		}
	}
	for id := range view.Variables {
		if mix == Shared || strings.HasPrefix(id, e.Name+"-") {
			vars = append(vars, id)
		}
	}
	slices.Sort(blocks) // map order must not leak into a seeded run
	slices.Sort(vars)
	pick := func(ids []string) string { return ids[rng.IntN(len(ids))] }
	var op workflow.Op
	switch r := rng.IntN(100); {
	case len(blocks) < 2 || r < 25:
		id := fmt.Sprintf("%s-b%d", e.Name, n)
		op = workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: id,
			Position:  &workflow.Position{X: float64(rng.IntN(1000)), Y: float64(rng.IntN(1000))},
			SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: "v0"}}}}}
	case r < 50:
		op = workflow.UpdateSubBlock{BlockID: pick(blocks), SubBlockID: "prompt", Value: fmt.Sprintf("%s-v%d", e.Name, n)}
	case r < 70:
		op = workflow.BatchUpdatePositions{Updates: []workflow.PositionUpdate{{ID: pick(blocks),
			Position: workflow.Position{X: float64(rng.IntN(1000)), Y: float64(rng.IntN(1000))}}}}
	case r < 78:
		op = workflow.UpdateName{ID: pick(blocks), NewName: fmt.Sprintf("%s-n%d", e.Name, n)}
	case r < 86:
		op = workflow.AddEdge{Edge: workflow.EdgeInput{ID: fmt.Sprintf("%s-e%d", e.Name, n), Source: pick(blocks), Target: pick(blocks)}}
	case r < 91:
		op = workflow.BatchRemoveBlocks{IDs: []string{pick(blocks)}}
	case len(vars) == 0 || r < 95:
		id := fmt.Sprintf("%s-var%d", e.Name, n)
		op = workflow.AddVariable{ID: id, VarName: id, Type: "plain", Value: n}
	default:
		op = workflow.UpdateVariable{ID: pick(vars), Field: workflow.VarFieldValue, Value: fmt.Sprintf("%s-%d", e.Name, n)}
	}
	_, err := e.Apply(op)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, client.ErrClosed), errors.Is(err, client.ErrWorkflowDeleted), errors.Is(err, client.ErrDeltaTooLarge):
		return err
	}
	return nil // refused by the document: nothing applied
}
