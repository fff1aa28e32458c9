package cluster

import (
	"encoding/binary"
	"fmt"
)

// LockSink may be implemented by a Local that keeps workflow locks, so that
// a lock set on one node is enforced on every node.
type LockSink interface {
	// RemoteLock keeps a lock change another node made (newest wins: the
	// later atMs, the lock at a tie). It must be idempotent.
	RemoteLock(workflowID string, locked bool, atMs int64) error
	// LockState returns the lock this node knows for workflowID; false
	// when none was ever set.
	LockState(workflowID string) (locked bool, atMs int64, ok bool)
}

// lockPayload is the KindLock payload.
func lockPayload(locked bool, atMs int64) []byte {
	b := make([]byte, 9)
	if locked {
		b[0] = 1
	}
	binary.BigEndian.PutUint64(b[1:], uint64(atMs))
	return b
}

func parseLock(b []byte) (locked bool, atMs int64, err error) {
	if len(b) != 9 || b[0] > 1 {
		return false, 0, fmt.Errorf("cluster: lock payload of %d bytes", len(b))
	}
	atMs = int64(binary.BigEndian.Uint64(b[1:]))
	if atMs <= 0 {
		return false, 0, fmt.Errorf("cluster: lock time %d", atMs)
	}
	return b[0] == 1, atMs, nil
}

// PublishLock tells every node hosting workflowID, and one node per store
// group, that it was locked or unlocked at atMs (Unix ms of the deciding
// node). Loss is repaired when a node next loads the workflow: its Host
// request is answered with the lock. It returns ErrInvalidID, ErrClosed or
// a NATS error.
func (n *Node) PublishLock(workflowID string, locked bool, atMs int64) error {
	tok, err := Token(workflowID)
	if err != nil {
		return err
	}
	if atMs <= 0 {
		return fmt.Errorf("cluster: lock time %d is not positive", atMs)
	}
	if n.isClosed() {
		return ErrClosed
	}
	return n.send(KindLock, n.subj.workflow(tok, KindLock), tok, lockPayload(locked, atMs))
}

// onLock keeps a lock change from the bus.
func (n *Node) onLock(in inbound) {
	sink, ok := n.local.(LockSink)
	if !ok {
		return
	}
	locked, atMs, err := parseLock(in.msg.Data)
	if err != nil {
		n.metrics.busError("decode", 1)
		return
	}
	if err := sink.RemoteLock(in.workflow, locked, atMs); err != nil {
		n.metrics.busError("apply", 1)
		n.logger.Warn("keeping a lock change from the bus failed", "workflow", in.workflow, "origin", in.originTok, "err", err)
	}
}

// answerLock sends the requester the lock this node knows, if any.
func (n *Node) answerLock(in inbound) {
	sink, ok := n.local.(LockSink)
	if !ok {
		return
	}
	if locked, atMs, ok := sink.LockState(in.workflow); ok {
		_ = n.send(KindLock, n.subj.inbox(in.originTok), in.workflowTk, lockPayload(locked, atMs))
	}
}
