package client

import (
	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// Undo reverts this client's newest undoable step (an Apply, a burst of
// Applies within Config.Undo.Window, or a Transact) with a new ordinary
// edit, sent and stored as Apply's, and returns its delta. Only this
// client's own edits are undone, and a value another replica wrote since
// keeps their value (docs/ARCHITECTURE.md, "Undo and redo"). It returns
// workflow.ErrNothingToUndo when there is nothing to undo, and Apply's
// errors otherwise (ErrClosed, ErrWorkflowDeleted, ErrDeltaTooLarge, …).
func (c *Client) Undo() (*workflow.Doc, error) { return c.undoRedo(false) }

// Redo re-applies the newest undone step (any new edit clears them), as
// Undo does; workflow.ErrNothingToUndo when there is none.
func (c *Client) Redo() (*workflow.Doc, error) { return c.undoRedo(true) }

func (c *Client) undoRedo(redo bool) (*workflow.Doc, error) {
	c.editMu.RLock()
	delta, err := c.edit(func(ts crdt.Timestamp) (localEdit, error) {
		prepare, name := c.undo.PrepareUndo, "undo"
		if redo {
			prepare, name = c.undo.PrepareRedo, "redo"
		}
		step, err := prepare(c.doc, ts)
		if err != nil {
			return localEdit{}, err
		}
		return localEdit{name: name, delta: step.Delta, afterMerge: step.Commit}, nil
	})
	c.editMu.RUnlock()
	if err != nil {
		return nil, err
	}
	c.notifyStatus()
	if fn := c.cfg.OnChange; fn != nil {
		c.callback(func() { fn(delta, false) })
	}
	return delta, nil
}

// CanUndo reports whether Undo has a step to revert.
func (c *Client) CanUndo() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.undo.CanUndo()
}

// CanRedo reports whether Redo has a step to re-apply.
func (c *Client) CanRedo() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.undo.CanRedo()
}

// Transact runs fn and makes every edit it applies one undo step (a paste,
// a batch of related edits); transactions nest. It returns fn's error.
// Edits of other goroutines that run meanwhile join the step too.
func (c *Client) Transact(fn func() error) error {
	c.mu.Lock()
	c.undo.Begin()
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.undo.End()
		c.mu.Unlock()
	}()
	return fn()
}
