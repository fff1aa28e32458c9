package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/history"
)

// The reference system's workflow state as a file (FormatReference):
//
//	{"blocks": {id: {id, type, name, position: {x, y}, subBlocks: {id: {id, type, value}},
//	            outputs, enabled, horizontalHandles, isWide, advancedMode, triggerMode,
//	            height, data: {parentId, extent, ...}, locked, ...}},
//	 "edges": [{id, source, target, sourceHandle, targetHandle, type}],
//	 "loops": {id: {...}}, "parallels": {id: {...}},
//	 "variables": {id: {id, name, type, value}}}
//
// Export writes the view in this shape (View without its paint order).
// Import also takes it wrapped as {"state": {...}} (other top-level keys
// ignored) or as {"view": {...}} (Export's FormatJSON).

// maxReferenceBytes bounds a reference file: JSON of a document at
// workflow.DocLimits is about twice its binary size.
const maxReferenceBytes = 2 * 64 << 20

// referenceState is the exported shape.
type referenceState struct {
	Blocks    map[string]*workflow.BlockView    `json:"blocks"`
	Edges     []workflow.Edge                   `json:"edges"`
	Loops     map[string]*workflow.LoopView     `json:"loops"`
	Parallels map[string]*workflow.ParallelView `json:"parallels"`
	Variables map[string]*workflow.VariableView `json:"variables"`
}

func writeReference(w io.Writer, v *workflow.View) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(referenceState{Blocks: v.Blocks, Edges: v.Edges, Loops: v.Loops, Parallels: v.Parallels, Variables: v.Variables})
}

// parseReference decodes a reference file to the state object; an error
// wraps workflow.ErrInvalid.
func parseReference(b []byte) (map[string]any, error) {
	var top map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&top); err != nil {
		return nil, fmt.Errorf("flowsync: %w: the reference file is not a JSON object: %w", workflow.ErrInvalid, err)
	}
	if d.More() {
		return nil, fmt.Errorf("flowsync: %w: the reference file holds more than one JSON value", workflow.ErrInvalid)
	}
	state := top
	if _, ok := top["blocks"]; !ok {
		for _, k := range []string{"state", "view"} {
			if s, ok := top[k].(map[string]any); ok {
				state = s
				break
			}
		}
	}
	if _, ok := state["blocks"].(map[string]any); !ok {
		return nil, fmt.Errorf("flowsync: %w: the reference file has no \"blocks\" object (at the top, under \"state\" or under \"view\")", workflow.ErrInvalid)
	}
	return state, nil
}

// newToolReplica returns a replica id for one tool run: random, so that
// two imports (or an import and a server) never spend the same dots.
func newToolReplica() crdt.ReplicaID {
	var b [8]byte
	rand.Read(b[:])
	return crdt.ReplicaID("import-" + hex.EncodeToString(b[:]))
}

// referenceEdit is the edit that makes workflow id of st hold state: a
// replace-state (blocks, edges, loops, parallels: every block and edge not
// in the file is removed) and, when the file has "variables", the
// variables removed, added or changed to match. The operations are
// authored by a new replica (newToolReplica) at timestamps after every
// value the workflow holds, so they win over what they replace; an edit
// made concurrently elsewhere (a live server) stays, as with any two
// concurrent edits. It returns the stored document with the edit merged.
func referenceEdit(ctx context.Context, st storage.Store, id string, state map[string]any) (*workflow.Doc, error) {
	doc, err := st.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	clock := crdt.NewClock(newToolReplica())
	clock.Observe(doc.Latest(), time.Now().UnixMilli())
	apply := func(op workflow.Op) error {
		_, err := doc.Apply(clock.Now(time.Now().UnixMilli()), op)
		if errors.Is(err, workflow.ErrNoEffect) {
			return nil
		}
		return err
	}
	op, err := workflow.ParseOp("replace-state", "workflow", map[string]any{"state": state})
	if err != nil {
		return nil, err
	}
	if err := apply(op); err != nil {
		return nil, err
	}
	if raw, ok := state["variables"]; ok && raw != nil {
		vars, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: \"variables\" is not an object", workflow.ErrInvalid)
		}
		if err := replaceVariables(doc, vars, apply); err != nil {
			return nil, err
		}
	}
	if n := len(doc.Encode()); n > workflow.DocLimits.MaxBytes {
		return nil, fmt.Errorf("%w: the imported document is %d bytes, over %d", workflow.ErrInvalid, n, workflow.DocLimits.MaxBytes)
	}
	return doc, nil
}

// replaceVariables makes doc's variables those of vars: the ones not in
// vars removed, new ones added, changed fields of the others updated.
func replaceVariables(doc *workflow.Doc, vars map[string]any, apply func(workflow.Op) error) error {
	ops, err := history.VariableOps(doc.View().Variables, vars)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if err := apply(op); err != nil {
			return err
		}
	}
	return nil
}
