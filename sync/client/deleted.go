package client

import (
	"time"

	"github.com/flowsync/flowsync/sync/protocol"
)

// A deleted workflow never comes back, and nothing written to it can ever
// be stored (PROTOCOL.md: stop editing, drop the outbox). The client learns
// of it from a workflow-deleted Event while joined, a Join refused with
// WORKFLOW_DELETED (it was offline during the deletion), a Nack or Error
// with that code, close 4503, or Config.Dir, where the deleted state is
// recorded. From then on Status.State is StateDeleted, Apply and Reset
// return ErrWorkflowDeleted, and Run returns an error wrapping it.

// enterDeleted enters the deleted state for a reason other than an Event;
// OnEvent still receives a workflow-deleted Event (with msg), so that
// programs have one place to react.
func (c *Client) enterDeleted(msg string) {
	c.enterDeletedEvent(protocol.Event{WorkflowID: c.cfg.WorkflowID, Kind: protocol.EventWorkflowDeleted, Message: msg, TimestampMs: time.Now().UnixMilli()})
}

// enterDeletedEvent drops the outbox, the recent, kept and refused edits
// (and their stored copies), refuses edits from now on and reports e to OnEvent,
// the first time only.
func (c *Client) enterDeletedEvent(e protocol.Event) {
	c.mu.Lock()
	if c.deleted {
		c.mu.Unlock()
		return
	}
	c.deleted = true
	c.undo.Clear()
	if !c.closed {
		c.state = StateDeleted
	}
	dropped := c.out.len()
	c.out.clear()
	c.recent = recent{}
	c.kept.removeIf(func(*kept) bool { return true }) // nothing can be stored any more
	c.rejected = nil
	var ticket uint64
	if c.persist {
		ticket = c.queueLocked(opDeleted())
	}
	c.mu.Unlock()
	c.log.Warn("workflow deleted; its unsent edits are dropped and new ones refused", "dropped", dropped, "msg", e.Message)
	if ticket != 0 {
		_ = c.flush(ticket) // a failure is logged; the next start learns it again from the server
	}
	c.notifyStatus()
	if fn := c.cfg.OnEvent; fn != nil {
		c.callback(func() { fn(e) })
	}
}

func (c *Client) isDeleted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deleted
}
