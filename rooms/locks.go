package rooms

import (
	"slices"
	"sync"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// MaxLockWalk bounds the dots LockAdmission examines to find what a raw
// delta removes: the smaller of the delta's causal context and the room's
// stored values. A delta past it on a document past it is refused with
// TOO_LARGE (split it).
const MaxLockWalk = 100_000

// WorkflowLocks is an in-memory set of locked workflows, for embedders and
// tests that drive LockAdmission themselves. The zero value is an empty
// set ready to use; its methods are safe for concurrent use.
//
// The set lives in this process only. The server keeps its locks in the
// store instead (Registry.SetLocked, Registry.Locked): they survive a
// restart and every node enforces them.
type WorkflowLocks struct {
	mu     sync.RWMutex
	locked map[string]struct{} // guarded by mu
}

// Lock locks workflowID; it reports whether it was unlocked before.
func (l *WorkflowLocks) Lock(workflowID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.locked[workflowID]; ok {
		return false
	}
	if l.locked == nil {
		l.locked = make(map[string]struct{})
	}
	l.locked[workflowID] = struct{}{}
	return true
}

// Unlock unlocks workflowID; it reports whether it was locked before.
func (l *WorkflowLocks) Unlock(workflowID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.locked[workflowID]; !ok {
		return false
	}
	delete(l.locked, workflowID)
	return true
}

// IsLocked reports whether workflowID is locked.
func (l *WorkflowLocks) IsLocked(workflowID string) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, ok := l.locked[workflowID]
	return ok
}

// List returns the locked workflows, sorted.
func (l *WorkflowLocks) List() []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]string, 0, len(l.locked))
	for id := range l.locked {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// LockAdmission returns the Admission that enforces the lock rules of the
// system flowsync replaces, so that a workflow locked there stays locked
// here. locked reports whether a workflow is locked
// (nil: none is); Registry.Locked fits. In order:
//
//  1. a locked workflow refuses every change: WORKFLOW_LOCKED;
//  2. lock toggles are admin-only: a BatchToggleLocked operation, or any
//     change (either frame kind) that changes a surviving block's own
//     locked flag (a new block created locked, say), from a non-admin gets
//     PERMISSION_DENIED. Deleting a locked block is not a lock toggle; rule
//     3 or the operation's own checks govern it;
//  3. for raw deltas only (operations check protection themselves and skip
//     or refuse with workflow.ErrLocked): a delta that writes or removes
//     anything of a block protected in doc (locked, or under a locked
//     container), an edge whose target is protected, or that moves a block
//     into a protected container, gets BLOCK_LOCKED; an admin may still
//     write the locked field of a protected block. As an operation may, a
//     delta may remove a protected block together with an unprotected
//     container above it that it also removes, and an edge to a protected
//     block together with an unprotected end it also removes.
//
// Writes the document has already seen (a resent delta) are ignored: they
// change nothing. The Admission reads doc and the change and modifies
// neither.
func LockAdmission(locked func(workflowID string) bool) Admission {
	return func(doc *workflow.Doc, c *Change) error {
		if locked != nil && locked(c.WorkflowID) {
			return protocol.NewError(protocol.CodeWorkflowLocked, "workflow %q is locked", c.WorkflowID)
		}
		admin := c.Member.Role == protocol.RoleAdmin
		if !admin && isLockToggle(c.Op) {
			return protocol.NewError(protocol.CodePermissionDenied, "lock toggles need the admin role")
		}
		t, err := touchedBy(doc, c.Delta)
		if err != nil {
			return err
		}
		if !admin {
			if id, ok := t.lockChange(doc, c.Delta); ok {
				return protocol.NewError(protocol.CodePermissionDenied, "changing the lock of block %q needs the admin role", id)
			}
		}
		if c.Op == nil {
			return t.checkProtected(doc, admin)
		}
		return nil
	}
}

func isLockToggle(op workflow.Op) bool {
	switch op.(type) {
	case workflow.BatchToggleLocked, *workflow.BatchToggleLocked:
		return true
	}
	return false
}

// touched is what a delta would change in a document: the keys it writes
// (values the document has not seen) and the keys whose stored values it
// removes.
type touched struct {
	writes   []workflow.Key
	values   []workflow.Value // value written under writes[i]
	removals []workflow.Key   // with repeats when several values go
	removed  map[string]bool  // blocks whose membership the delta removes
}

func touchedBy(doc *workflow.Doc, delta *workflow.Doc) (*touched, error) {
	t := &touched{}
	seen := doc.Context()
	delta.Store().Range(func(k workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		for _, e := range es {
			if !seen.Contains(e.Dot) {
				t.writes = append(t.writes, k)
				t.values = append(t.values, e.Value.Value)
			}
		}
		return true
	})
	// Text edits write no value but change their key's text.
	for _, k := range doc.TextKeys(delta) {
		t.writes = append(t.writes, k)
		t.values = append(t.values, nil)
	}
	dctx, store := delta.Context(), doc.Store()
	removal := func(d crdt.Dot) {
		if k, ok := store.KeyOf(d); ok && !delta.Store().Has(d) {
			t.removals = append(t.removals, k)
			if k.Kind == workflow.KindBlock {
				if t.removed == nil {
					t.removed = make(map[string]bool)
				}
				t.removed[k.ID] = true
			}
		}
	}
	// Walk whichever is smaller: the delta's context or the stored dots.
	if n := dctx.Len(); n <= uint64(store.NumDots()) {
		if n > MaxLockWalk {
			return nil, protocol.NewError(protocol.CodeTooLarge, "delta context of %d dots is too large to admit; split it", n)
		}
		dctx.ForEach(func(d crdt.Dot) bool { removal(d); return true })
	} else {
		if store.NumDots() > MaxLockWalk {
			return nil, protocol.NewError(protocol.CodeTooLarge, "delta context of %d dots is too large to admit; split it", n)
		}
		store.Dots(func(d crdt.Dot) {
			if dctx.Contains(d) {
				removal(d)
			}
		})
	}
	return t, nil
}

// lockChange returns a block whose own locked flag the delta changes, if
// any, for a block that still exists after the merge.
func (t *touched) lockChange(doc, delta *workflow.Doc) (string, bool) {
	check := func(k workflow.Key) (string, bool) {
		if k.Kind != workflow.KindBlockField || k.Sub != workflow.FieldLocked {
			return "", false
		}
		if t.removed[k.ID] && !survives(doc, delta, workflow.Key{Kind: workflow.KindBlock, ID: k.ID}) {
			return "", false // deleted, not unlocked
		}
		before := workflow.Locked(doc, k.ID)
		after := workflow.BoolOf(valueAfter(doc, delta, k), false)
		return k.ID, before != after
	}
	for _, k := range t.writes {
		if id, ok := check(k); ok {
			return id, true
		}
	}
	for _, k := range t.removals {
		if id, ok := check(k); ok {
			return id, true
		}
	}
	return "", false
}

// survivors returns the values under k once delta is merged into doc,
// without merging.
func survivors(doc, delta *workflow.Doc, k workflow.Key) []crdt.Dotted[workflow.Cell] {
	var out []crdt.Dotted[workflow.Cell]
	for _, e := range doc.Store().Get(k) {
		if !delta.Context().Contains(e.Dot) || delta.Store().Has(e.Dot) {
			out = append(out, e)
		}
	}
	for _, e := range delta.Store().Get(k) {
		if !doc.Context().Contains(e.Dot) {
			out = append(out, e)
		}
	}
	return out
}

func survives(doc, delta *workflow.Doc, k workflow.Key) bool {
	return len(survivors(doc, delta, k)) > 0
}

func valueAfter(doc, delta *workflow.Doc, k workflow.Key) workflow.Value {
	es := survivors(doc, delta, k)
	if i := crdt.Winner(es); i >= 0 {
		return es[i].Value.Value
	}
	return nil
}

// checkProtected applies rule 3 of LockAdmission.
func (t *touched) checkProtected(doc *workflow.Doc, admin bool) error {
	refuse := func(what, id string) error {
		return protocol.NewError(protocol.CodeBlockLocked, "%s %q is locked or under a locked container", what, id)
	}
	for i, k := range t.writes {
		switch k.Kind {
		case workflow.KindBlock, workflow.KindSubBlock, workflow.KindSubBlockType, workflow.KindSubflow:
			if workflow.Protected(doc, k.ID) {
				return refuse("block", k.ID)
			}
		case workflow.KindBlockField:
			if workflow.Protected(doc, k.ID) && !(admin && k.Sub == workflow.FieldLocked) {
				return refuse("block", k.ID)
			}
			if k.Sub == workflow.FieldParentID {
				if p := workflow.StringOf(t.values[i]); p != "" && workflow.Protected(doc, p) {
					return refuse("container", p)
				}
			}
		case workflow.KindEdge:
			if to := workflow.EdgeOf(t.values[i]).Target; to != "" && workflow.Protected(doc, to) {
				return refuse("edge target", to)
			}
		}
	}
	for _, k := range t.removals {
		switch k.Kind {
		case workflow.KindBlock, workflow.KindBlockField, workflow.KindSubBlock, workflow.KindSubBlockType, workflow.KindSubflow:
			if workflow.Protected(doc, k.ID) && !t.removable(doc, k.ID) &&
				!(admin && k.Kind == workflow.KindBlockField && k.Sub == workflow.FieldLocked) {
				return refuse("block", k.ID)
			}
		case workflow.KindEdge:
			for _, e := range doc.Store().Get(k) {
				ed := workflow.EdgeOf(e.Value.Value)
				if ed.Target != "" && workflow.Protected(doc, ed.Target) &&
					!t.removable(doc, ed.Target) && !t.removable(doc, ed.Source) {
					return refuse("edge target", ed.Target)
				}
			}
		}
	}
	return nil
}

// removable reports whether the delta removes block id (its membership)
// together with an unprotected block at or above it, as
// BatchRemoveBlocks does with a container's descendants.
func (t *touched) removable(doc *workflow.Doc, id string) bool {
	if !t.removed[id] {
		return false
	}
	// The effective parents (the ones the view shows) form a forest, so the
	// walk ends at the top level whatever the depth.
	for ; id != "" && t.removed[id]; id = workflow.Parent(doc, id) {
		if !workflow.Protected(doc, id) {
			return true
		}
	}
	return false
}
