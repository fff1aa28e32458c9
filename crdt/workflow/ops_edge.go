package workflow

import (
	"errors"
	"fmt"
)

// EdgeInput is an edge as the reference sends it. Handles may be empty or
// use the legacy side-anchored ids; they are canonicalized on add.
type EdgeInput struct {
	ID           string
	Source       string
	Target       string
	SourceHandle string
	TargetHandle string
	Type         string
}

// edge returns the stored form of in, handles canonicalized.
func (in EdgeInput) edge() Edge {
	return Edge{
		ID:           in.ID,
		Source:       in.Source,
		SourceHandle: CanonicalHandle(in.SourceHandle),
		Target:       in.Target,
		TargetHandle: CanonicalHandle(in.TargetHandle),
		Type:         in.Type,
	}
}

// edgeSig is what makes two edges duplicates: same ends, same handles.
type edgeSig struct{ source, sourceHandle, target, targetHandle string }

func sigOf(e Edge) edgeSig { return edgeSig{e.Source, e.SourceHandle, e.Target, e.TargetHandle} }

// edgeChecker is the validation pipeline every edge add goes through. It
// reads the present edges at the blocks it asks about (edgeFinder) and
// tracks the ones it admits, so a batch is checked incrementally: each edge
// against the document plus the batch's earlier edges.
type edgeChecker struct {
	b     *builder
	edges *edgeFinder
}

func newEdgeChecker(b *builder) *edgeChecker {
	return &edgeChecker{b: b, edges: b.edgeFinder()}
}

func (c *edgeChecker) note(e Edge) { c.edges.note(e.ID, e) }

// duplicates reports whether a present edge has e's ends and handles.
func (c *edgeChecker) duplicates(e Edge) bool {
	dup := false
	c.edges.at(e.Source, func(o Edge) { dup = dup || sigOf(o) == sigOf(e) })
	return dup
}

// admit validates in and writes it. The checks run in the reference's order;
// each failure is ErrEdgeRejected with the reason, except ErrInvalid for a
// malformed edge, ErrUnknownBlock for a missing end and ErrExists for an id
// already present.
func (c *edgeChecker) admit(in EdgeInput) error {
	e := in.edge()
	if err := checkID("edge", e.ID); err != nil {
		return err
	}
	if err := c.check(e); err != nil {
		return err
	}
	c.b.put(edgeKey(e.ID), edgeValue(e))
	c.note(e)
	return nil
}

func (c *edgeChecker) check(e Edge) error {
	b := c.b
	for _, end := range []string{e.Source, e.Target} {
		if end == "" || !blockExists(b, end) {
			return errorf(ErrUnknownBlock, "edge %q: end %q", e.ID, end)
		}
	}
	reject := func(format string, args ...any) error {
		return errorf(ErrEdgeRejected, "edge %q: %s", e.ID, fmt.Sprintf(format, args...))
	}
	if protected(b, e.Target) {
		return reject("target %q is locked", e.Target)
	}
	if blockType(b, e.Source) == TypeNote || blockType(b, e.Target) == TypeNote {
		return reject("notes take no edges")
	}
	if b.get(fieldKey(e.Target, FieldTriggerMode)).asBool(false) || blockType(b, e.Target) == TypeStarter {
		return reject("target %q is a trigger", e.Target)
	}
	t := treeOf(b)
	ps, pt := t.parentOf(e.Source), t.parentOf(e.Target)
	if ps != pt && ps != e.Target && pt != e.Source {
		return reject("crosses a container boundary")
	}
	if e.Source == e.Target {
		return reject("self-loop")
	}
	if c.duplicates(e) {
		return reject("duplicates an existing edge")
	}
	if b.has(edgeKey(e.ID)) {
		return errorf(ErrExists, "edge %q", e.ID)
	}
	if c.reaches(e.Target, e.Source) {
		return reject("closes a cycle")
	}
	return nil
}

// reaches reports whether to is reachable from from along the known edges.
func (c *edgeChecker) reaches(from, to string) bool {
	seen := map[string]bool{from: true}
	stack := []string{from}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == to {
			return true
		}
		c.edges.at(n, func(e Edge) {
			if m := e.Target; e.Source == n && !seen[m] {
				seen[m] = true
				stack = append(stack, m)
			}
		})
	}
	return false
}

// AddEdge ("add") adds one edge through the validation pipeline (see
// edgeChecker.admit for its errors).
type AddEdge struct{ Edge EdgeInput }

// Name implements Op.
func (AddEdge) Name() string { return "add" }

func (op AddEdge) prepare(b *builder) error { return newEdgeChecker(b).admit(op.Edge) }

// BatchAddEdges ("batch-add-edges") adds edges through the pipeline, all or
// nothing: the first rejected edge fails the operation.
type BatchAddEdges struct{ Edges []EdgeInput }

// Name implements Op.
func (BatchAddEdges) Name() string { return "batch-add-edges" }

func (op BatchAddEdges) prepare(b *builder) error {
	c := newEdgeChecker(b)
	for _, e := range op.Edges {
		if err := c.admit(e); err != nil {
			return err
		}
	}
	return nil
}

// RemoveEdge ("remove") removes an edge. It fails with ErrUnknownEdge, or
// ErrLocked when the edge's target block is protected.
type RemoveEdge struct{ ID string }

// Name implements Op.
func (RemoveEdge) Name() string { return "remove" }

func (op RemoveEdge) prepare(b *builder) error {
	if err := checkID("edge", op.ID); err != nil {
		return err
	}
	ok, err := removableEdge(b, op.ID)
	if !ok {
		return err
	}
	b.remove(edgeKey(op.ID))
	return nil
}

// removableEdge reports whether edge id is present with an unprotected
// target, and otherwise why not.
func removableEdge(b *builder, id string) (bool, error) {
	if !b.has(edgeKey(id)) {
		return false, errorf(ErrUnknownEdge, "edge %q", id)
	}
	if t := b.get(edgeKey(id)).asEdge().Target; protected(b, t) {
		return false, errorf(ErrLocked, "edge %q: target %q", id, t)
	}
	return true, nil
}

// BatchRemoveEdges ("batch-remove-edges") removes edges; unknown ids and
// edges with a protected target are skipped. If nothing is removed it fails
// with ErrLocked (some were protected) or ErrNoEffect.
type BatchRemoveEdges struct{ IDs []string }

// Name implements Op.
func (BatchRemoveEdges) Name() string { return "batch-remove-edges" }

func (op BatchRemoveEdges) prepare(b *builder) error {
	removed, locked := 0, 0
	for _, id := range op.IDs {
		if ok, err := removableEdge(b, id); !ok {
			if isLockErr(err) {
				locked++
			}
			continue
		}
		b.remove(edgeKey(id))
		removed++
	}
	switch {
	case removed > 0:
		return nil
	case locked > 0:
		return errorf(ErrLocked, "batch-remove-edges: every edge has a locked target or is unknown")
	}
	return errorf(ErrNoEffect, "batch-remove-edges: no known edge")
}

func isLockErr(err error) bool { return errors.Is(err, ErrLocked) }
