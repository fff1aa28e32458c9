package client

import (
	"fmt"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/google/uuid"
)

// Writes to Config.Dir. Every change of the persisted state is queued, under
// the Client's mutex and in the order it happens, as a diskOp; flush commits
// what is queued in one fsynced transaction. Whoever needs its change on
// disk (Apply, before it sends an edit) calls flush; while one commit runs,
// the changes queued behind it wait and go together in the next one, so
// concurrent callers share fsyncs without any added delay. Changes nobody
// waits for (remote deltas, Durable acks) ride along with the next commit,
// or are committed once enough of them wait, when a catch-up completes, when
// a connection ends and at Close: losing them in a crash costs only a
// larger catch-up or a duplicate re-send, never an edit.
const (
	// flushPendingOps and flushPendingBytes bound what waits for a commit
	// nobody asked for.
	flushPendingOps   = 64
	flushPendingBytes = 1 << 20
)

// snapshotLogItems and snapshotLogBytes bound the log: past either, the next
// commit replaces snapshot and log with one snapshot. Variables so that
// tests can compact sooner.
var (
	snapshotLogItems = 1000
	snapshotLogBytes = 4 << 20
)

// storeQueue is the Client's queue of writes to Config.Dir; guarded by the
// Client's mutex.
type storeQueue struct {
	ops       []diskOp
	bytes     int    // size of the deltas in ops
	queued    uint64 // ticket of the last op queued
	committed uint64 // ticket of the last op committed
	// err is the first failed commit. It sticks: what that commit held is
	// not on disk, so the client stops accepting edits.
	err      error
	seq      uint64 // last key used in the log, outbox and rejected buckets
	logItems int    // log entries since the last snapshot
	logBytes int
}

// openDir opens Config.Dir and adopts its state, or stores doc and the
// configured (or a new) replica id in a fresh directory.
func (c *Client) openDir(doc *workflow.Doc) error {
	cfg := c.cfg
	d, st, err := openDisk(cfg.Dir, cfg.WorkflowID, cfg.DirLockTimeout)
	if err != nil {
		return err
	}
	if st.fresh {
		if c.replica == "" {
			c.replica = crdt.ReplicaID(uuid.NewString())
		}
		if err := d.create(cfg.WorkflowID, c.replica, doc); err != nil {
			d.close()
			return err
		}
		c.disk = d
		return nil
	}
	if !doc.IsEmpty() {
		d.close()
		return fmt.Errorf("%w: Doc is set but %s already holds the workflow's document", ErrConfig, d.path)
	}
	if st.missing {
		if err := d.update([]diskOp{opBuckets}); err != nil {
			d.close()
			return err
		}
	}
	// A stored replica id wins over Config.ReplicaID: after a replica reset
	// the directory holds the new id, and the old one must never write again.
	c.replica = st.replica
	c.doc = st.doc
	c.store.seq = st.lastSeq
	outbox, err := c.cutPastCapsLocked(st.outbox)
	if err != nil {
		d.close()
		return err
	}
	if outbox != nil {
		if err := d.update([]diskOp{opReplaceOutbox(outbox)}); err != nil {
			d.close()
			return err
		}
		st.outbox = outbox
	}
	for _, e := range st.outbox {
		c.out.add(e)
	}
	c.rejected = st.rejected
	for _, k := range st.kept {
		c.kept.items = append(c.kept.items, k)
		c.kept.bytes += len(k.enc)
	}
	c.deleted = st.deleted
	c.store.logItems, c.store.logBytes = st.logItems, st.logBytes
	c.disk = d
	return nil
}

func (c *Client) nextSeqLocked() uint64 {
	c.store.seq++
	return c.store.seq
}

// queueLocked queues op and returns its ticket for flush.
func (c *Client) queueLocked(op diskOp) uint64 {
	c.store.ops = append(c.store.ops, op)
	c.store.queued++
	return c.store.queued
}

// logLocked queues a delta just merged into the document for the log. A
// log entry is queued only after its delta is in the document, so that a
// snapshot taken later covers every log entry queued before it.
func (c *Client) logLocked(enc []byte) {
	if !c.persist {
		return
	}
	c.queueLocked(opLog(c.nextSeqLocked(), enc))
	c.store.bytes += len(enc)
	c.store.logItems++
	c.store.logBytes += len(enc)
}

// queueSnapshotLocked queues a snapshot of the document, which replaces the
// log, and returns its ticket.
func (c *Client) queueSnapshotLocked() uint64 {
	c.store.logItems, c.store.logBytes = 0, 0
	return c.queueLocked(opSnapshot(c.doc.Encode()))
}

// flushDueLocked reports whether enough waits to commit it unasked.
func (c *Client) flushDueLocked() bool {
	return c.persist && (len(c.store.ops) >= flushPendingOps || c.store.bytes >= flushPendingBytes)
}

// flush returns once the op with ticket (and everything queued before it)
// is on disk, committing what is queued unless a commit that includes it
// already did. It returns the sticky error of a failed commit, and ErrClosed
// after Close released the directory.
func (c *Client) flush(ticket uint64) error {
	c.storeMu.Lock()
	defer c.storeMu.Unlock()
	c.mu.Lock()
	if err := c.store.err; err != nil {
		c.mu.Unlock()
		return err
	}
	if c.store.committed >= ticket {
		c.mu.Unlock()
		return nil
	}
	if c.disk == nil {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.store.logItems >= snapshotLogItems || c.store.logBytes >= snapshotLogBytes {
		// The snapshot goes last: it covers every log entry queued so far.
		c.queueSnapshotLocked()
	}
	ops, upTo := c.store.ops, c.store.queued
	c.store.ops, c.store.bytes = nil, 0
	c.mu.Unlock()

	err := c.disk.update(ops)

	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.store.err = err
		c.log.Error("cannot write the client directory; edits are refused from now on", "err", err)
		return err
	}
	c.store.committed = upTo
	return nil
}

// flushAll commits everything queued so far; failures are logged by flush
// and reported by the next Apply.
func (c *Client) flushAll() {
	if !c.persist {
		return
	}
	c.mu.Lock()
	ticket := c.store.queued
	c.mu.Unlock()
	_ = c.flush(ticket)
}

// closeStore commits what waits and closes the directory's file.
func (c *Client) closeStore() error {
	if !c.persist {
		return nil
	}
	c.flushAll()
	c.storeMu.Lock()
	defer c.storeMu.Unlock()
	if c.disk == nil {
		return nil
	}
	err := c.disk.close()
	c.disk = nil
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStorage, err)
	}
	return nil
}
