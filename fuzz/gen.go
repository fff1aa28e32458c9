package fuzz

import (
	"fmt"
	"math/rand/v2"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// Ids come from small pools so that replicas collide on the same blocks,
// edges and variables: conflicts are the point of the exercise.
const (
	blockPool    = 14
	edgePool     = 20
	variablePool = 6
)

var blockTypes = []string{"agent", "agent", "api", "function", workflow.TypeNote, workflow.TypeStarter, workflow.TypeLoop, workflow.TypeParallel}

// state is what the generator knows of a replica's document.
type state struct {
	blocks, containers, edges, variables []string
}

func observe(doc *workflow.Doc) state {
	var s state
	types := map[string]string{}
	doc.Store().Range(func(k workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		switch k.Kind {
		case workflow.KindBlock:
			s.blocks = append(s.blocks, k.ID)
		case workflow.KindEdge:
			s.edges = append(s.edges, k.ID)
		case workflow.KindVariable:
			s.variables = append(s.variables, k.ID)
		case workflow.KindBlockField:
			if k.Sub == workflow.FieldType {
				v, _ := es[crdt.Winner(es)].Value.Value.Decode()
				if t, ok := v.(string); ok {
					types[k.ID] = t
				}
			}
		}
		return true
	})
	for _, id := range s.blocks {
		if workflow.IsContainer(types[id]) {
			s.containers = append(s.containers, id)
		}
	}
	return s
}

// pick returns a random element of ids, or a random pool id (which may not
// exist: refused operations are part of the vocabulary too).
func pick(rng *rand.Rand, ids []string, prefix string, pool int) string {
	if len(ids) > 0 && rng.IntN(5) > 0 {
		return ids[rng.IntN(len(ids))]
	}
	return fmt.Sprintf("%s%d", prefix, rng.IntN(pool))
}

func pickN(rng *rand.Rand, ids []string, prefix string, pool int) []string {
	n := 1 + rng.IntN(3)
	out := make([]string, n)
	for i := range out {
		out[i] = pick(rng, ids, prefix, pool)
	}
	return out
}

func randPos(rng *rand.Rand) *workflow.Position {
	return &workflow.Position{X: float64(rng.IntN(2000)), Y: float64(rng.IntN(2000))}
}

var names = []string{"Agent", "Agent 1", "agent1", "API", "Fetch", "Summarize", "summarize", "Loop", "Router", "Start"}

func randBlock(rng *rand.Rand, s state) workflow.BlockInput {
	id := fmt.Sprintf("b%d", rng.IntN(blockPool))
	b := workflow.BlockInput{
		ID:       id,
		Type:     blockTypes[rng.IntN(len(blockTypes))],
		Name:     fmt.Sprintf("%s %s", names[rng.IntN(len(names))], id),
		Position: randPos(rng),
	}
	if rng.IntN(3) == 0 {
		b.SubBlocks = map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: randValue(rng)}}
	}
	if len(s.containers) > 0 && rng.IntN(3) == 0 {
		b.Data = map[string]any{"parentId": s.containers[rng.IntN(len(s.containers))], "extent": "parent"}
	}
	return b
}

func randEdge(rng *rand.Rand, s state) workflow.EdgeInput {
	handles := []string{"", "source", "source-right", "condition-if", "loop-start-source"}
	return workflow.EdgeInput{
		ID:           fmt.Sprintf("e%d", rng.IntN(edgePool)),
		Source:       pick(rng, s.blocks, "b", blockPool),
		Target:       pick(rng, s.blocks, "b", blockPool),
		SourceHandle: handles[rng.IntN(len(handles))],
	}
}

func randValue(rng *rand.Rand) any {
	switch rng.IntN(6) {
	case 0:
		return nil
	case 1:
		return rng.IntN(100)
	case 2:
		return rng.Float64()
	case 3:
		return map[string]any{"k": fmt.Sprint(rng.IntN(5)), "n": []any{1, "two", true}}
	case 4:
		return rng.IntN(2) == 0
	}
	return fmt.Sprintf("text %d", rng.IntN(1000))
}

// randomOp draws one operation from the whole vocabulary, weighted toward
// the frequent ones (positions, sub-block typing) but reaching every kind.
func randomOp(rng *rand.Rand, doc *workflow.Doc) workflow.Op {
	s := observe(doc)
	blockID := func() string { return pick(rng, s.blocks, "b", blockPool) }
	switch rng.IntN(44) {
	case 38, 39, 40, 41: // typing into a prompt
		return typing(rng, doc, blockID())
	case 42: // deleting from a prompt
		return deleting(rng, doc, blockID())
	case 43: // a variable's text
		id := pick(rng, s.variables, "v", variablePool)
		tt := workflow.TextTarget{VariableID: id}
		if n := doc.TextLen(tt); n > 0 && rng.IntN(3) == 0 {
			i := rng.IntN(n)
			return workflow.DeleteText{TextTarget: tt, Index: i, Length: 1 + rng.IntN(n-i)}
		}
		return workflow.InsertText{TextTarget: tt, Index: rng.IntN(doc.TextLen(tt) + 1), Text: words[rng.IntN(len(words))]}
	case 0, 1, 2:
		return workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{randBlock(rng, s)}}
	case 3:
		return workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{randBlock(rng, s), randBlock(rng, s)},
			Edges: []workflow.EdgeInput{randEdge(rng, s)}}
	case 4:
		return workflow.BatchRemoveBlocks{IDs: pickN(rng, s.blocks, "b", blockPool)}
	case 5, 6:
		return workflow.UpdatePosition{ID: blockID(), Position: *randPos(rng)}
	case 7:
		ups := []workflow.PositionUpdate{{ID: blockID(), Position: *randPos(rng)}, {ID: blockID(), Position: *randPos(rng)}}
		return workflow.BatchUpdatePositions{Updates: ups}
	case 8:
		return workflow.UpdateName{ID: blockID(), NewName: names[rng.IntN(len(names))]}
	case 9:
		return workflow.ToggleEnabled{ID: blockID()}
	case 10:
		parent := ""
		if rng.IntN(3) > 0 {
			parent = pick(rng, s.containers, "b", blockPool)
		}
		return workflow.UpdateParent{ID: blockID(), ParentID: parent, Extent: "parent"}
	case 11:
		return workflow.UpdateAdvancedMode{ID: blockID(), AdvancedMode: rng.IntN(2) == 0}
	case 12:
		return workflow.UpdateErrorEnabled{ID: blockID(), ErrorEnabled: rng.IntN(2) == 0}
	case 13:
		return workflow.UpdateRetry{ID: blockID(), Retry: map[string]any{"enabled": true, "maxTries": 3}}
	case 14:
		return workflow.UpdateCanonicalMode{ID: blockID(), CanonicalID: "c" + fmt.Sprint(rng.IntN(3)), Mode: []string{"basic", "advanced"}[rng.IntN(2)]}
	case 15:
		return workflow.ReplaceCanonicalModes{ID: blockID(), Modes: map[string]string{"c0": "advanced"}}
	case 16:
		return workflow.ToggleHandles{ID: blockID(), HorizontalHandles: rng.IntN(2) == 0}
	case 17:
		return workflow.BatchToggleEnabled{BlockIDs: pickN(rng, s.blocks, "b", blockPool)}
	case 18:
		return workflow.BatchToggleHandles{BlockIDs: pickN(rng, s.blocks, "b", blockPool)}
	case 19:
		return workflow.BatchToggleLocked{BlockIDs: pickN(rng, s.blocks, "b", blockPool)}
	case 20:
		return workflow.BatchUpdateParent{Updates: []workflow.ParentUpdate{{ID: blockID(), ParentID: pick(rng, s.containers, "b", blockPool), Position: randPos(rng)}}}
	case 21, 22:
		return workflow.AddEdge{Edge: randEdge(rng, s)}
	case 23:
		return workflow.RemoveEdge{ID: pick(rng, s.edges, "e", edgePool)}
	case 24:
		return workflow.BatchAddEdges{Edges: []workflow.EdgeInput{randEdge(rng, s), randEdge(rng, s)}}
	case 25:
		return workflow.BatchRemoveEdges{IDs: pickN(rng, s.edges, "e", edgePool)}
	case 26:
		cfg := map[string]any{"iterations": rng.IntN(10), "loopType": "forEach", "count": rng.IntN(30), "batchSize": rng.IntN(40)}
		return workflow.UpdateSubflow{ID: pick(rng, s.containers, "b", blockPool), Config: cfg}
	case 27, 28:
		return workflow.UpdateSubBlock{BlockID: blockID(), SubBlockID: "prompt", Value: randValue(rng)}
	case 29:
		u := workflow.SubBlockUpdate{BlockID: blockID(), SubBlockID: "prompt", Value: randValue(rng)}
		if rng.IntN(2) == 0 {
			u.HasExpected, u.ExpectedValue = true, randValue(rng)
		}
		return workflow.SubBlockBatchUpdate{Updates: []workflow.SubBlockUpdate{u}}
	case 30:
		id := fmt.Sprintf("v%d", rng.IntN(variablePool))
		return workflow.AddVariable{ID: id, VarName: "var " + id, Type: "string", Value: randValue(rng)}
	case 31:
		return workflow.RemoveVariable{ID: pick(rng, s.variables, "v", variablePool)}
	case 32:
		fields := []string{workflow.VarFieldName, workflow.VarFieldType, workflow.VarFieldValue}
		return workflow.UpdateVariable{ID: pick(rng, s.variables, "v", variablePool), Field: fields[rng.IntN(3)], Value: fmt.Sprint(rng.IntN(9))}
	case 33:
		return nestedLoops(rng, s)
	case 34: // container into container: concurrent ones close cycles
		return workflow.UpdateParent{ID: pick(rng, s.containers, "b", blockPool), ParentID: pick(rng, s.containers, "n", nestPool), Extent: "parent"}
	case 35: // a container removed while others move or add into it
		return workflow.BatchRemoveBlocks{IDs: []string{pick(rng, s.containers, "b", blockPool)}}
	case 36:
		return workflow.BatchUpdateParent{Updates: []workflow.ParentUpdate{{ID: blockID(), ParentID: pick(rng, s.containers, "n", nestPool)}}}
	}
	return legacyOrReplace(rng, s)
}

// nestPool is the id pool of nested loops, apart from blockPool so that a
// chain can be deep.
const nestPool = 40

// nestedLoops adds a chain of 2 to 16 loops, each inside the last, the
// first inside an existing container or at the top.
func nestedLoops(rng *rand.Rand, s state) workflow.Op {
	parent := ""
	if len(s.containers) > 0 && rng.IntN(2) == 0 {
		parent = s.containers[rng.IntN(len(s.containers))]
	}
	seen := map[string]bool{}
	var bs []workflow.BlockInput
	for range 2 + rng.IntN(15) {
		id := fmt.Sprintf("n%d", rng.IntN(nestPool))
		if seen[id] {
			continue
		}
		seen[id] = true
		b := workflow.BlockInput{ID: id, Type: workflow.TypeLoop, Name: "Nest " + id, Position: randPos(rng)}
		if parent != "" {
			b.Data = map[string]any{"parentId": parent, "extent": "parent"}
		}
		bs = append(bs, b)
		parent = id
	}
	return workflow.BatchAddBlocks{Blocks: bs}
}

func legacyOrReplace(rng *rand.Rand, s state) workflow.Op {
	blockID := func() string { return pick(rng, s.blocks, "b", blockPool) }
	switch rng.IntN(9) {
	case 0:
		blocks := map[string]workflow.BlockInput{}
		for i := 0; i < 1+rng.IntN(3); i++ {
			b := randBlock(rng, s)
			b.Data = nil
			blocks[b.ID] = b
		}
		return workflow.ReplaceState{Blocks: blocks, Edges: []workflow.EdgeInput{randEdge(rng, s)}}
	case 1:
		return workflow.AddBlock{Block: randBlock(rng, s)}
	case 2:
		return workflow.RemoveBlock{ID: blockID()}
	case 3:
		return workflow.DuplicateBlock{SourceID: blockID(), ID: fmt.Sprintf("b%d", rng.IntN(blockPool)), Position: randPos(rng)}
	case 4:
		return workflow.UpdateWide{ID: blockID(), IsWide: rng.IntN(2) == 0}
	case 5:
		return workflow.UpdateTriggerMode{ID: blockID(), TriggerMode: rng.IntN(2) == 0}
	case 6:
		return workflow.RemoveSubflow{ID: pick(rng, s.containers, "b", blockPool)}
	case 7:
		return workflow.DuplicateVariable{SourceID: pick(rng, s.variables, "v", variablePool), ID: fmt.Sprintf("v%d", rng.IntN(variablePool))}
	}
	return workflow.SubBlockBatchUpdate{Updates: []workflow.SubBlockUpdate{{BlockID: blockID(), SubBlockID: "model", Value: "gpt"}}}
}

// words are what the simulated users type: multi-byte code points included.
var words = []string{"a", "hi ", "hello world", "ß", "日本", "🙂x", "typing…", " "}

// typing inserts a word into a block's prompt at a random index.
func typing(rng *rand.Rand, doc *workflow.Doc, block string) workflow.Op {
	tt := workflow.TextTarget{BlockID: block, SubBlockID: "prompt"}
	return workflow.InsertText{TextTarget: tt, Index: rng.IntN(doc.TextLen(tt) + 1), Text: words[rng.IntN(len(words))]}
}

// deleting deletes a random range of a block's prompt.
func deleting(rng *rand.Rand, doc *workflow.Doc, block string) workflow.Op {
	tt := workflow.TextTarget{BlockID: block, SubBlockID: "prompt"}
	n := doc.TextLen(tt)
	if n == 0 {
		return typing(rng, doc, block)
	}
	i := rng.IntN(n)
	return workflow.DeleteText{TextTarget: tt, Index: i, Length: 1 + rng.IntN(min(n-i, 8))}
}
