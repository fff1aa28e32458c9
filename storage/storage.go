// Package storage defines where workflow documents live between room loads:
// the Store interface the rooms package writes through, and the sentinel
// errors every implementation returns. Implementations live in
// subpackages — storage/postgres (production), storage/bolt (the embedded
// single-file default) and storage/memory (tests) — and all pass the
// conformance suite in storage/storagetest.
//
// The contract is shaped by the CRDT: everything a store holds is a join of
// deltas, so writing a delta twice, or in another order, or writing a delta
// that another writer already covered, changes nothing. A store never
// overwrites what it holds with less (DESIGN §8): Append is a join with the
// stored state, never a replace.
//
// What this package must never do: interpret operations, hold a room's
// document, or log. Callers run every Store method outside a room's loop
// goroutine (loads before the loop starts, appends in the room's single
// in-flight writer), so a slow store delays durable acks, never merging or
// relaying.
package storage

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// Sentinel errors. Implementations wrap them with detail; test with
// errors.Is.
var (
	// ErrDeleted is returned by Load and Append for a workflow that was
	// deleted. Deleted stays deleted: no later Append resurrects it.
	ErrDeleted = errors.New("storage: workflow deleted")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("storage: store closed")
	// ErrCorrupt is returned by Append for a batch CheckBatch refuses (the
	// batch is refused whole), by DecodeDelta for bytes that do not decode,
	// and by Load and Snapshot for stored state that does not decode or
	// fails its checksum.
	ErrCorrupt = errors.New("storage: corrupt delta or document")
	// ErrInvalidID is returned by the persistent stores for a workflow id
	// that is empty, longer than MaxWorkflowIDLen bytes or not valid UTF-8.
	ErrInvalidID = errors.New("storage: invalid workflow id")
)

// MaxWorkflowIDLen is the longest workflow id, in bytes, a store accepts.
const MaxWorkflowIDLen = 256

// CheckWorkflowID returns an error wrapping ErrInvalidID unless id is
// non-empty valid UTF-8 of at most MaxWorkflowIDLen bytes.
func CheckWorkflowID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty", ErrInvalidID)
	case len(id) > MaxWorkflowIDLen:
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidID, len(id), MaxWorkflowIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: not UTF-8", ErrInvalidID)
	}
	return nil
}

// Delta is one log row of an Append batch: the encoding of a delta, the
// key a persistent store files it under, and how many operations it
// covers. A room hands over one Delta per write: the join of every delta
// it admitted since its last write (see Merged), which it has already
// decoded (a client's delta) or encoded (an operation's), so the store
// never decodes it a second time: build it with NewDelta or Merged.
// DecodeDelta is for bytes nobody has checked yet. The zero Delta is
// refused by every Append.
type Delta struct {
	bytes []byte
	hash  [sha256.Size]byte
	ops   int
}

// NewDelta returns the Delta of b, the canonical encoding (workflow.Encode)
// of one operation's delta the caller decoded or encoded itself; the store
// does not check that it decodes. b is not copied: the caller must not
// change it.
func NewDelta(b []byte) Delta { return Delta{bytes: b, hash: sha256.Sum256(b), ops: 1} }

// Merged returns the Delta of b, the canonical encoding of the join of ops
// operations' deltas (ops ≥ 1), so that a write batch becomes one log row.
// A join covers every dot of the deltas joined and keeps every value none
// of them overwrote, so storing it stores each of them. b is not copied.
func Merged(b []byte, ops int) Delta {
	return Delta{bytes: b, hash: sha256.Sum256(b), ops: max(ops, 1)}
}

// DecodeDelta checks that b decodes as a delta (against
// workflow.DeltaLimits) and returns its Delta, covering one operation. An
// error wraps ErrCorrupt.
func DecodeDelta(b []byte) (Delta, error) {
	if _, err := workflow.Decode(b, workflow.DeltaLimits); err != nil {
		return Delta{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return NewDelta(b), nil
}

// Bytes returns the delta's encoding: what a persistent store writes as a
// log row. It must not be changed.
func (d Delta) Bytes() []byte { return d.bytes }

// Hash returns the SHA-256 of the encoding: the key of the delta's log row
// (see Store on re-sent deltas).
func (d Delta) Hash() RowKey { return d.hash }

// RowKey is the key of a log row: the SHA-256 of its delta's encoding
// (Delta.Hash). Store.Snapshot trims rows by key without reading them.
type RowKey = [sha256.Size]byte

// Ops returns how many operations the delta covers: 1 for NewDelta, the
// count given to Merged. Stores count it (Stats.OpsAppended) and the
// Postgres store keeps it with the row, for inspection.
func (d Delta) Ops() int { return d.ops }

// CheckBatch returns an error wrapping ErrCorrupt, naming the first delta
// of the batch a store must refuse: the zero Delta, or one whose encoding
// is longer than a log row may be (a row over workflow.DeltaLimits would
// make every later Load of the workflow fail). Every Append calls it before
// it writes anything.
func CheckBatch(deltas []Delta) error {
	for i, d := range deltas {
		switch {
		case len(d.bytes) == 0:
			return fmt.Errorf("%w: delta %d of %d is empty", ErrCorrupt, i, len(deltas))
		case len(d.bytes) > workflow.DeltaLimits.MaxBytes:
			return fmt.Errorf("%w: delta %d of %d is %d bytes, over the %d of a log row",
				ErrCorrupt, i, len(deltas), len(d.bytes), workflow.DeltaLimits.MaxBytes)
		}
	}
	return nil
}

// Stats counts what a store has written since it was opened. Counters only
// grow. They feed the server's metrics and the storage benchmarks.
type Stats struct {
	Appends        int64 // Append calls that committed (persistent stores join concurrent ones into one transaction)
	DeltasAppended int64 // deltas in those batches (each a log row: a room's write is one merged delta)
	OpsAppended    int64 // operations those deltas cover (Delta.Ops)
	DeltasStored   int64 // of those, new log rows; the rest were already stored (re-sent)
	BytesWritten   int64 // encoded bytes of new log rows and snapshots (payload, not overhead)
	Snapshots      int64 // snapshots written
	SnapshotBytes  int64 // bytes of the last snapshot written (after compression, if any)
	Conflicts      int64 // snapshot version conflicts (each followed by a re-read, join and retry)
	LogTrimmed     int64 // log rows deleted by snapshots
	Transactions   int64 // write transactions committed (Append groups, Snapshot, Delete)
	Statements     int64 // SQL statements sent by committed writes, BEGIN and COMMIT excluded (0 for stores without SQL)
	Retries        int64 // writes retried after a transient error
}

// StatsReporter is implemented by stores that count their writes.
type StatsReporter interface {
	Stats() Stats
}

// Store keeps workflow documents. Every method is safe for concurrent use
// and honours ctx (returning ctx.Err(), possibly wrapped, when it is done
// before the store answers).
//
// There is no ErrNotFound: a workflow that was never written loads as an
// empty document, because a join with nothing is the empty state. There is
// no ErrConflict either: Snapshot resolves version conflicts itself by
// joining, which is always safe.
//
// Log rows are write batches, not operations: a room joins every delta
// it admitted since its last write into one delta (Merged) and appends
// that, so the log grows by one row per room write, however many
// operations the write covers; the operations' durable acknowledgements
// all wait for that one row.
//
// Re-sent rows are stored once: persistent stores key each log row by the
// SHA-256 of the delta's encoding. workflow.Encode is canonical, so an
// Append retried after an unknown outcome re-encodes to the same bytes
// and the same key, and a second copy of a row never lands. A client's
// re-sent delta is folded into whatever batch its room writes next, so it
// makes a new row, not a duplicate key: that row is covered by what is
// stored, and joining it changes nothing (the join is idempotent). Keying
// by content, not by dots, also means a forged delta that reuses dots with
// other content can never overwrite a stored row.
type Store interface {
	// Load returns the stored document of workflowID: the join of every
	// delta appended and every snapshot stored so far (persistent stores
	// read the latest snapshot and the log after it, at one point in time,
	// and merge them). A workflow never written loads as an empty
	// document and no error. It returns ErrDeleted for a deleted workflow.
	// The caller owns the returned document.
	Load(ctx context.Context, workflowID string) (*workflow.Doc, error)

	// Append makes a batch of deltas durable together: when it returns
	// nil, every delta of the batch survives a crash of this process (for
	// the in-memory store: of this Store value). Appending a delta that is
	// already stored, or is covered by stored state, is harmless. The store
	// trusts each Delta and does not decode it (see Delta). It returns
	// ErrDeleted for a deleted workflow and ErrCorrupt for a batch
	// CheckBatch refuses, in which case nothing of the batch is stored.
	Append(ctx context.Context, workflowID string, deltas []Delta) error

	// Delete deletes workflowID: later Loads, Appends and Snapshots
	// return ErrDeleted. Deleting an unknown or already deleted workflow is
	// not an error. Persistent stores keep a tombstone for the id (so
	// deleted stays deleted, across restarts and nodes) and remove the
	// document's snapshot and log.
	Delete(ctx context.Context, workflowID string) error

	// Snapshot stores doc as the workflow's new snapshot, joined with what
	// is stored, and trims the log rows that snapshot covers. It returns
	// the snapshot's version: 1 for the first snapshot of a workflow, then
	// one more per successful Snapshot, whoever wrote it.
	//
	// The write is a join, never a replace: the store reads its stored
	// snapshot and log, merges them into a copy of doc, and writes the
	// result only if the stored version is still the one it read
	// (optimistic concurrency: a lock vanishes with its connection, and a
	// node paused past that would resume and overwrite; a version check
	// cannot be outlived); on a version conflict
	// it reads, joins and retries until ctx is done. So a stale node, a
	// paused node or a node whose load failed (doc empty) can never
	// overwrite stored edits, and a snapshot never loses a log delta: it
	// deletes exactly the log rows it joined and those held names (which
	// doc holds), so its causal context covers their dots; rows appended
	// while it ran stay for the next one.
	// Loading afterwards gives the same document as before, joined with
	// doc.
	//
	// The caller keeps ownership of doc (it is not modified or retained),
	// but must not modify it during the call: a room passes its shadow
	// replica (the join of every delta it merged since it loaded, which
	// this join completes with what was stored) and calls Snapshot outside
	// its loop. Because the join is with everything stored, doc need not
	// hold what the store already has.
	//
	// held names log rows doc is known to contain: the keys (Delta.Hash)
	// of rows the caller appended itself, every delta of which it had
	// joined into doc. The store deletes those rows with the others it
	// trims but neither reads nor decodes them, so a snapshot after a run
	// of a room's own writes costs the snapshot's decode and the rows'
	// keys, not a decode per row. Rows not named (another node's, or rows
	// the caller loaded) are read and joined as without held; a key with
	// no row is ignored. Naming a row whose deltas doc lacks loses them:
	// only a row's writer can know it may name it.
	//
	// Snapshot returns ErrDeleted for a deleted workflow, ErrCorrupt when the stored
	// snapshot does not decode (it then writes nothing: overwriting would
	// lose what the damaged snapshot held), ErrClosed after Close and
	// ctx.Err() when ctx is done first; a version conflict is never
	// returned.
	Snapshot(ctx context.Context, workflowID string, doc *workflow.Doc, held ...RowKey) (version int64, err error)

	// Close releases the store. Methods called after it return ErrClosed.
	Close() error
}
