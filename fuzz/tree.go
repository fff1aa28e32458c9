package fuzz

import (
	"errors"
	"fmt"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// checkTree checks the view invariants of the container tree on one
// replica's document, converged or not: effective parents form a forest of
// visible containers (no cycle, no dangling parent), every live block shows,
// every shown name is unique, every edge joins shown blocks, the paint order
// lists each shown block once after its container, workflow.Parent agrees
// with the view, and removing probe removes exactly it and its view
// descendants (or is refused because it is protected).
func checkTree(doc *workflow.Doc, probe int) error {
	v := doc.View()
	parent := func(id string) string { return workflow.StringOf(v.Blocks[id].Data["parentId"]) }
	for id := range v.Blocks {
		steps := 0
		for p := parent(id); p != ""; p = parent(p) {
			if steps++; steps > len(v.Blocks) {
				return fmt.Errorf("tree: parent cycle above %q", id)
			}
			pb := v.Blocks[p]
			if pb == nil {
				return fmt.Errorf("tree: %q hangs from %q, which does not show", id, p)
			}
			if !workflow.IsContainer(pb.Type) {
				return fmt.Errorf("tree: %q hangs from non-container %q", id, p)
			}
		}
		if got := workflow.Parent(doc, id); got != parent(id) {
			return fmt.Errorf("tree: Parent(%q) = %q, the view shows %q", id, got, parent(id))
		}
	}
	var live []string
	doc.Store().Range(func(k workflow.Key, _ []crdt.Dotted[workflow.Cell]) bool {
		if k.Kind == workflow.KindBlock {
			live = append(live, k.ID)
		}
		return true
	})
	for _, id := range live {
		if v.Blocks[id] == nil {
			return fmt.Errorf("tree: live block %q is hidden", id)
		}
	}
	names := map[string]string{}
	for id, b := range v.Blocks {
		n := workflow.NormalizeName(b.Name)
		if n == "" {
			continue
		}
		if o, dup := names[n]; dup {
			return fmt.Errorf("tree: %q and %q both show as %q", id, o, b.Name)
		}
		names[n] = id
	}
	for _, e := range v.Edges {
		if v.Blocks[e.Source] == nil || v.Blocks[e.Target] == nil {
			return fmt.Errorf("tree: edge %q dangles", e.ID)
		}
	}
	at := map[string]int{}
	for i, id := range v.Order {
		if _, dup := at[id]; dup || v.Blocks[id] == nil {
			return fmt.Errorf("tree: order entry %q repeated or hidden", id)
		}
		at[id] = i
	}
	if len(at) != len(v.Blocks) {
		return fmt.Errorf("tree: order lists %d of %d blocks", len(at), len(v.Blocks))
	}
	for id := range v.Blocks {
		if p := parent(id); p != "" && at[p] > at[id] {
			return fmt.Errorf("tree: order paints %q before its container %q", id, p)
		}
	}
	if len(v.Order) == 0 {
		return nil
	}
	return checkRemove(doc, v, v.Order[probe%len(v.Order)])
}

// checkRemove removes x on a copy and compares with the view: exactly x
// and its view descendants go.
func checkRemove(doc *workflow.Doc, v *workflow.View, x string) error {
	after := doc.Clone()
	_, err := after.Apply(crdt.Timestamp{Wall: 1 << 50, Replica: "probe"}, workflow.RemoveBlock{ID: x})
	if errors.Is(err, workflow.ErrLocked) {
		if !workflow.Protected(doc, x) {
			return fmt.Errorf("tree: removing %q refused as locked, but it is not protected", x)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("tree: removing shown block %q: %w", x, err)
	}
	gone := map[string]bool{x: true}
	for _, id := range v.Order { // containers come before their children
		if p := workflow.StringOf(v.Blocks[id].Data["parentId"]); gone[p] {
			gone[id] = true
		}
	}
	w := after.View()
	for id := range v.Blocks {
		if _, kept := w.Blocks[id]; kept == gone[id] {
			return fmt.Errorf("tree: removing %q: block %q kept=%v, want kept=%v", x, id, kept, !gone[id])
		}
	}
	return nil
}
