package client

import (
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// rejection is an edit the server refused for good. Refused edits are kept
// until Reset (in Config.Dir too): they keep Status from saying "saved",
// and the catch-up a client sends after a join leaves their writes out, so
// that they are not offered again on every reconnect.
type rejection struct {
	seq   uint64 // its key in Config.Dir's rejected bucket; 0 without Dir
	id    string
	code  protocol.Code
	msg   string
	delta *workflow.Doc
	enc   []byte
}

func (r *rejection) report() *RejectError {
	return &RejectError{OpID: r.id, Code: r.code, Message: r.msg, Delta: r.delta}
}

// rejectLocked moves e from the outbox to the refused edits and returns the
// report for OnReject.
func (c *Client) rejectLocked(e *entry, code protocol.Code, msg string) *RejectError {
	c.out.remove(e.id)
	r := &rejection{id: e.id, code: code, msg: msg, delta: e.delta, enc: e.enc}
	if c.persist {
		r.seq = c.nextSeqLocked()
		c.queueLocked(opReject(e.seq, r))
	}
	c.rejected = append(c.rejected, r)
	return r.report()
}

// Rejected returns the edits the server refused for good since the last
// Reset, oldest first; with Config.Dir also those refused before a restart
// (OnReject was called for those then). Status.Rejected counts them.
func (c *Client) Rejected() []*RejectError {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*RejectError, len(c.rejected))
	for i, r := range c.rejected {
		out[i] = r.report()
	}
	return out
}
