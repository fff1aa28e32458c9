package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The state of a Client with Config.Dir lives in one bbolt file in that
// directory. Every write is one fsynced transaction. Layout:
//
//	meta      format (uint64), workflow, replica, deleted (present when deleted)
//	doc       snapshot: the document as of the last snapshot
//	log       seq → delta merged since the snapshot (remote deltas, and
//	          local ones once durable)
//	outbox    seq → outbox entry: op id, the counters it minted, delta
//	rejected  seq → refused edit: code, op id, message, delta
//	kept      seq → delta of another session with its receipt, not yet
//	          durable: epoch, relay sequence, key id, MAC, delta
//
// The document is snapshot ⊔ log ⊔ outbox ⊔ rejected: a local edit is
// written once, to the outbox, and moves to the log when it is durable, so a
// snapshot never has to include an edit that is still being stored. A kept
// delta was logged when it was merged: kept only says what to hand back to
// a server that lost it, so it is never merged from there. Keys are one sequence (big-endian uint64) shared
// by log, outbox, rejected and kept.
const (
	// DiskFileName is the name of the client's file in Config.Dir.
	DiskFileName = "flowsync-client.db"
	// diskOwnerFileName records who holds DiskFileName open, so that a
	// second opener can say what holds the lock.
	diskOwnerFileName = "flowsync-client.owner"
	diskFormat        = 1
)

var (
	bucketMeta     = []byte("meta")
	bucketDoc      = []byte("doc")
	bucketLog      = []byte("log")
	bucketOutbox   = []byte("outbox")
	bucketRejected = []byte("rejected")
	bucketKept     = []byte("kept")
	keyFormat      = []byte("format")
	keyWorkflow    = []byte("workflow")
	keyReplica     = []byte("replica")
	keyDeleted     = []byte("deleted")
	keySnapshot    = []byte("snapshot")
	diskBuckets    = [][]byte{bucketMeta, bucketDoc, bucketLog, bucketOutbox, bucketRejected, bucketKept}
)

// disk is the open file. Its methods are called with the Client's storeMu
// held (or before the Client exists).
type disk struct {
	db        *bbolt.DB
	path      string
	ownerPath string
}

// diskOp is one change, run inside the transaction of a commit; a commit
// runs the ops queued since the last one, in order.
type diskOp func(tx *bbolt.Tx) error

// diskState is what openDisk found.
type diskState struct {
	fresh    bool // nothing stored yet
	replica  crdt.ReplicaID
	doc      *workflow.Doc
	outbox   []*entry
	rejected []*rejection
	kept     []*kept
	// missing is set when the file lacks a bucket (one written before
	// kept deltas were stored): the opener creates it.
	missing  bool
	deleted  bool
	logItems int
	logBytes int
	lastSeq  uint64
}

// openDisk opens (creating if needed) the client file in dir and reads it.
// It waits up to timeout for another holder of the file to let go, then
// fails with ErrDirLocked naming the holder. A file that holds another
// workflow is refused with ErrConfig.
func openDisk(dir, workflowID string, timeout time.Duration) (*disk, *diskState, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	d := &disk{path: filepath.Join(dir, DiskFileName), ownerPath: filepath.Join(dir, diskOwnerFileName)}
	db, err := bbolt.Open(d.path, 0o600, &bbolt.Options{Timeout: timeout, FreelistType: bbolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		holder := "another Client (in this or another process)"
		if b, rerr := os.ReadFile(d.ownerPath); rerr == nil && len(b) > 0 {
			holder = strings.TrimSpace(string(b))
		}
		return nil, nil, fmt.Errorf("%w: %s is held by %s; close that Client first", ErrDirLocked, d.path, holder)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: open %s: %w", ErrStorage, d.path, err)
	}
	d.db = db
	host, _ := os.Hostname()
	owner := fmt.Sprintf("process %d on host %q since %s, for workflow %q", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339), workflowID)
	_ = os.WriteFile(d.ownerPath, []byte(owner+"\n"), 0o600) // only ever used in an error message
	st, err := d.load(workflowID)
	if err != nil {
		d.close()
		return nil, nil, err
	}
	return d, st, nil
}

func (d *disk) close() error {
	_ = os.Remove(d.ownerPath)
	return d.db.Close()
}

// load reads the stored state; fresh is set when the file holds none.
func (d *disk) load(workflowID string) (*diskState, error) {
	st := &diskState{doc: workflow.New()}
	corrupt := func(what string, err error) error {
		return fmt.Errorf("%w: %s: %s: %w", ErrStorage, d.path, what, err)
	}
	err := d.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || meta.Get(keyFormat) == nil {
			st.fresh = true
			return nil
		}
		if f := meta.Get(keyFormat); len(f) != 8 || binary.BigEndian.Uint64(f) != diskFormat {
			return fmt.Errorf("%w: %s has format %x, this build reads %d", ErrStorage, d.path, f, diskFormat)
		}
		if wf := string(meta.Get(keyWorkflow)); wf != workflowID {
			return fmt.Errorf("%w: %s holds workflow %q, not %q", ErrConfig, d.path, wf, workflowID)
		}
		st.replica = crdt.ReplicaID(meta.Get(keyReplica))
		st.deleted = meta.Get(keyDeleted) != nil
		if b := tx.Bucket(bucketDoc).Get(keySnapshot); len(b) > 0 {
			doc, err := workflow.Decode(b, workflow.DocLimits)
			if err != nil {
				return corrupt("snapshot", err)
			}
			st.doc = doc
		}
		seq := func(k []byte) uint64 {
			s := binary.BigEndian.Uint64(k)
			st.lastSeq = max(st.lastSeq, s)
			return s
		}
		err := tx.Bucket(bucketLog).ForEach(func(k, v []byte) error {
			seq(k)
			delta, err := workflow.Decode(v, workflow.DocLimits)
			if err != nil {
				return corrupt("log", err)
			}
			st.doc.Merge(delta)
			st.logItems++
			st.logBytes += len(v)
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			e, err := decodeEntry(v)
			if err != nil {
				return corrupt("outbox", err)
			}
			e.seq = seq(k)
			st.doc.Merge(e.delta)
			st.outbox = append(st.outbox, e)
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketRejected).ForEach(func(k, v []byte) error {
			r, err := decodeRejection(v)
			if err != nil {
				return corrupt("rejected", err)
			}
			r.seq = seq(k)
			st.doc.Merge(r.delta)
			st.rejected = append(st.rejected, r)
			return nil
		})
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketKept)
		if b == nil {
			st.missing = true
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			kp, err := decodeKept(v)
			if err != nil {
				return corrupt("kept", err)
			}
			kp.seq = seq(k)
			st.kept = append(st.kept, kp)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// create stores the state of a fresh directory.
func (d *disk) create(workflowID string, replica crdt.ReplicaID, doc *workflow.Doc) error {
	return d.update([]diskOp{opBuckets, func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyWorkflow, []byte(workflowID)); err != nil {
			return err
		}
		if err := meta.Put(keyReplica, []byte(replica)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketDoc).Put(keySnapshot, doc.Encode()); err != nil {
			return err
		}
		// The format last: a crash before it leaves a fresh directory.
		return meta.Put(keyFormat, seqKey(diskFormat))
	}})
}

// update runs ops in one transaction, which bbolt fsyncs before returning.
func (d *disk) update(ops []diskOp) error {
	err := d.db.Update(func(tx *bbolt.Tx) error {
		for _, op := range ops {
			if err := op(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrStorage, d.path, err)
	}
	return nil
}

func seqKey(s uint64) []byte { return binary.BigEndian.AppendUint64(nil, s) }

// clearBucket empties a bucket by recreating it.
func clearBucket(tx *bbolt.Tx, name []byte) error {
	if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
		return err
	}
	_, err := tx.CreateBucket(name)
	return err
}

// ---- ops ---------------------------------------------------------------

// opBuckets creates the buckets the file lacks.
func opBuckets(tx *bbolt.Tx) error {
	for _, name := range diskBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// opPutEntry stores a new outbox entry.
func opPutEntry(e *entry) diskOp {
	rec := encodeEntry(e)
	return func(tx *bbolt.Tx) error { return tx.Bucket(bucketOutbox).Put(seqKey(e.seq), rec) }
}

// opDurable moves an outbox entry to the log: the server made it durable,
// and the document still holds it.
func opDurable(seq, logSeq uint64, enc []byte) diskOp {
	return func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketOutbox).Delete(seqKey(seq)); err != nil {
			return err
		}
		return tx.Bucket(bucketLog).Put(seqKey(logSeq), enc)
	}
}

// opLog appends a delta merged into the document.
func opLog(seq uint64, enc []byte) diskOp {
	return func(tx *bbolt.Tx) error { return tx.Bucket(bucketLog).Put(seqKey(seq), enc) }
}

// opReject moves an outbox entry (outboxSeq 0: none stored) to the refused
// edits.
func opReject(outboxSeq uint64, r *rejection) diskOp {
	rec := encodeRejection(r)
	return func(tx *bbolt.Tx) error {
		if outboxSeq != 0 {
			if err := tx.Bucket(bucketOutbox).Delete(seqKey(outboxSeq)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketRejected).Put(seqKey(r.seq), rec)
	}
}

// opSnapshot replaces the snapshot with doc and drops the log, which doc
// includes.
func opSnapshot(doc []byte) diskOp {
	return func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketDoc).Put(keySnapshot, doc); err != nil {
			return err
		}
		return clearBucket(tx, bucketLog)
	}
}

// opReplaceOutbox makes entries the whole outbox.
func opReplaceOutbox(entries []*entry) diskOp {
	recs := make([][]byte, len(entries))
	for i, e := range entries {
		recs[i] = encodeEntry(e)
	}
	return func(tx *bbolt.Tx) error {
		if err := clearBucket(tx, bucketOutbox); err != nil {
			return err
		}
		b := tx.Bucket(bucketOutbox)
		for i, e := range entries {
			if err := b.Put(seqKey(e.seq), recs[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

// opKeep stores a kept delta.
func opKeep(k *kept) diskOp {
	rec := encodeKept(k)
	return func(tx *bbolt.Tx) error { return tx.Bucket(bucketKept).Put(seqKey(k.seq), rec) }
}

// opUnkeep drops kept deltas: durable, handed back, refused or past the
// bound.
func opUnkeep(seqs []uint64) diskOp {
	return func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketKept)
		for _, s := range seqs {
			if err := b.Delete(seqKey(s)); err != nil {
				return err
			}
		}
		return nil
	}
}

// opReplica records the replica id the client now writes with.
func opReplica(replica crdt.ReplicaID) diskOp {
	return func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyReplica, []byte(replica)) }
}

// opDeleted records that the workflow was deleted and drops every edit
// waiting to be sent, handed back or reported.
func opDeleted() diskOp {
	return func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(keyDeleted, []byte{1}); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketOutbox, bucketKept} {
			if err := clearBucket(tx, name); err != nil {
				return err
			}
		}
		return clearBucket(tx, bucketRejected)
	}
}

// opClearRejected drops the refused edits (after Reset).
func opClearRejected() diskOp {
	return func(tx *bbolt.Tx) error { return clearBucket(tx, bucketRejected) }
}

// ---- records -------------------------------------------------------------

// An outbox record: uvarint len(id), id, uvarint n, n pairs of uvarint
// (lo, hi) (the counters the entry minted), then the delta.
func encodeEntry(e *entry) []byte {
	b := binary.AppendUvarint(nil, uint64(len(e.id)))
	b = append(b, e.id...)
	b = binary.AppendUvarint(b, uint64(len(e.mine)))
	for _, r := range e.mine {
		b = binary.AppendUvarint(b, r.Lo)
		b = binary.AppendUvarint(b, r.Hi)
	}
	return append(b, e.enc...)
}

func decodeEntry(b []byte) (*entry, error) {
	r := recordReader{b: b}
	e := &entry{id: r.str()}
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		e.mine = append(e.mine, crdt.Range{Lo: r.uvarint(), Hi: r.uvarint()})
	}
	if r.err != nil {
		return nil, r.err
	}
	e.enc = append([]byte(nil), r.b...)
	delta, err := workflow.Decode(e.enc, workflow.DocLimits)
	if err != nil {
		return nil, err
	}
	e.delta = delta
	return e, nil
}

// A rejected record: uint16 code, uvarint len(id), id, uvarint len(msg),
// msg, then the delta.
func encodeRejection(r *rejection) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(r.code))
	b = binary.AppendUvarint(b, uint64(len(r.id)))
	b = append(b, r.id...)
	b = binary.AppendUvarint(b, uint64(len(r.msg)))
	b = append(b, r.msg...)
	return append(b, r.enc...)
}

func decodeRejection(b []byte) (*rejection, error) {
	if len(b) < 2 {
		return nil, errors.New("short record")
	}
	rr := recordReader{b: b[2:]}
	r := &rejection{code: protocol.Code(binary.BigEndian.Uint16(b)), id: rr.str(), msg: rr.str()}
	if rr.err != nil {
		return nil, rr.err
	}
	r.enc = append([]byte(nil), rr.b...)
	delta, err := workflow.Decode(r.enc, workflow.DocLimits)
	if err != nil {
		return nil, err
	}
	r.delta = delta
	return r, nil
}

// A kept record: uvarint len(epoch), epoch, uvarint relay sequence, uvarint
// len(key id), key id, uvarint len(MAC), MAC, then the delta as received.
func encodeKept(k *kept) []byte {
	b := binary.AppendUvarint(nil, uint64(len(k.epoch)))
	b = append(b, k.epoch...)
	b = binary.AppendUvarint(b, k.relay)
	b = binary.AppendUvarint(b, uint64(len(k.receipt.KeyID)))
	b = append(b, k.receipt.KeyID...)
	b = binary.AppendUvarint(b, uint64(len(k.receipt.MAC)))
	b = append(b, k.receipt.MAC...)
	return append(b, k.enc...)
}

func decodeKept(b []byte) (*kept, error) {
	r := recordReader{b: b}
	k := &kept{epoch: r.str(), relay: r.uvarint()}
	k.receipt.KeyID = r.str()
	k.receipt.MAC = []byte(r.str())
	if r.err != nil {
		return nil, r.err
	}
	k.enc = append([]byte(nil), r.b...)
	delta, err := workflow.Decode(k.enc, workflow.DocLimits)
	if err != nil {
		return nil, err
	}
	k.ctx = delta.Context()
	return k, nil
}

type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errors.New("string runs past the record")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
