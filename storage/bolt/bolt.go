// Package bolt is the embedded storage.Store: one file on local disk,
// written through go.etcd.io/bbolt. It is the default when no Postgres URL
// is configured, so a fresh machine runs flowsync with nothing else
// installed and keeps its documents across restarts.
//
// Durability: every write is one bbolt transaction, committed with fsync
// (NoSync is never set), so an Append that returned nil survives kill -9
// and power loss as far as the disk honours fsync. bbolt commits are
// atomic — a crash during a snapshot write leaves the previous snapshot —
// and bbolt allows one writer at a time. Appends go through bbolt's
// DB.Batch, which joins the Appends of different rooms that arrive within
// maxBatchDelay into one transaction and one fsync (each room already
// batches its own deltas), so the number of fsyncs follows the disk's
// latency rather than the number of busy documents.
// The file is locked: a second process opening it waits OpenTimeout and
// fails with a LockedError (ErrLocked) naming the file and, on Linux, the
// process that holds it.
//
// Layout (bucket names are bytes on disk; changing them needs a
// migration):
//
//	meta/format                     uint64 big-endian: layoutVersion
//	deleted/<workflow id>           uint64 big-endian: deletion time, Unix ns (tombstone)
//	locks/<workflow id>             workflow lock (storage.LockStore): 1 byte locked (0/1),
//	                                then uint64 big-endian: time of the change, Unix ms
//	checkpoints/<workflow id>/<id>  checkpoint (storage.CheckpointStore): id uint64
//	                                big-endian from the bucket's sequence; value a
//	                                storecodec checkpoint record (metadata, snapshot frame)
//	workflows/<workflow id>/        one bucket per workflow; its presence means the
//	                                workflow exists (storage.Catalog; Create makes it empty):
//	    log/<sha-256 of delta>      the delta's bytes: one row per room write, the join
//	                                of its operations' deltas (retries hit the same key)
//	    snapshot                    snapshot frame (storage/internal/storecodec)
//	    version                     uint64 big-endian: snapshot version
//
// The package never logs document contents; it does not log at all.
package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	bbolterrors "go.etcd.io/bbolt/errors"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/internal/storecodec"
)

// DefaultPath is where the store lives when Config.Path is empty.
const DefaultPath = "./flowsync-data/flowsync.db"

const layoutVersion = 1

var (
	bucketMeta      = []byte("meta")
	bucketDeleted   = []byte("deleted")
	bucketWorkflows = []byte("workflows")
	bucketLog       = []byte("log")
	keyFormat       = []byte("format")
	keySnapshot     = []byte("snapshot")
	keyVersion      = []byte("version")
)

// Config configures Open. The zero Config is valid.
type Config struct {
	// Path of the database file; its directory is created (0700) if
	// missing. Default: DefaultPath.
	Path string
	// OpenTimeout bounds the wait for the file lock another process holds.
	// Default: 5 s.
	OpenTimeout time.Duration
	// ReadOnly opens an existing file for reading (inspect and export
	// tools): nothing is created or written, and every write method
	// fails. bbolt's lock still excludes a server holding the file.
	ReadOnly bool
}

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.OpenTimeout == 0 {
		c.OpenTimeout = 5 * time.Second
	}
	return c
}

func (c Config) validate() error {
	if c.OpenTimeout < 0 {
		return fmt.Errorf("bolt: OpenTimeout %v is negative", c.OpenTimeout)
	}
	return nil
}

// Store is the embedded storage.Store. Create it with Open.
type Store struct {
	db     *bbolt.DB // static after Open
	closed atomic.Bool
	stats  storecodec.Counters

	// Appends share transactions (DB.Batch); Stats.Transactions counts
	// each committed one once, by its id.
	txMu     sync.Mutex
	recentTx [32]int
	nextTx   int
}

var (
	_ storage.Store         = (*Store)(nil)
	_ storage.StatsReporter = (*Store)(nil)
)

// Open opens (creating if needed) the database file of cfg.
func Open(cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.ReadOnly {
		if _, err := os.Stat(cfg.Path); err != nil {
			return nil, fmt.Errorf("bolt: no store to read: %w", err)
		}
	} else if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
		return nil, fmt.Errorf("bolt: %w", err)
	}
	db, err := bbolt.Open(cfg.Path, 0o600, &bbolt.Options{
		Timeout:      cfg.OpenTimeout,
		NoSync:       false, // durability is the promise
		FreelistType: bbolt.FreelistMapType,
		ReadOnly:     cfg.ReadOnly,
	})
	if errors.Is(err, bbolterrors.ErrTimeout) {
		abs, aerr := filepath.Abs(cfg.Path)
		if aerr != nil {
			abs = cfg.Path
		}
		return nil, &LockedError{Path: abs, Holder: lockHolder(cfg.Path), Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", cfg.Path, err)
	}
	if cfg.ReadOnly {
		if err := db.View(func(tx *bbolt.Tx) error { return checkLayout(tx, cfg.Path) }); err != nil {
			db.Close()
			return nil, err
		}
		return &Store{db: db}, nil
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := meta.Get(keyFormat); v != nil {
			if len(v) != 8 || binary.BigEndian.Uint64(v) != layoutVersion {
				return fmt.Errorf("bolt: %s has layout %x, this build reads %d", cfg.Path, v, layoutVersion)
			}
		} else if err := meta.Put(keyFormat, u64(layoutVersion)); err != nil {
			return err
		}
		for _, name := range [][]byte{bucketDeleted, bucketWorkflows, bucketLocks, bucketCheckpoints} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: init %s: %w", cfg.Path, err)
	}
	db.MaxBatchDelay = maxBatchDelay
	return &Store{db: db}, nil
}

// maxBatchDelay is how long an Append waits for others to share its
// transaction (bbolt's default is 10 ms; rooms already space their own
// writes at least 10 ms apart, so a short wait is enough to catch the
// other rooms' appends without adding a second 10 ms to each durable ack).
const maxBatchDelay = 2 * time.Millisecond

// Path returns the database file's path.
func (s *Store) Path() string { return s.db.Path() }

// Stats implements storage.StatsReporter.
func (s *Store) Stats() storage.Stats { return s.stats.Stats() }

// Close implements storage.Store. It waits for running transactions.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.db.Close()
}

// begin checks what every method checks first.
func (s *Store) begin(ctx context.Context, workflowID string) error {
	if s.closed.Load() {
		return storage.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return storage.CheckWorkflowID(workflowID)
}

// mapErr turns bbolt's "closed" into storage.ErrClosed.
func mapErr(err error) error {
	if errors.Is(err, bbolterrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %w", storage.ErrClosed, err)
	}
	return err
}

func deletedErr(workflowID string) error {
	return fmt.Errorf("%w: %q", storage.ErrDeleted, workflowID)
}

// Load implements storage.Store: the snapshot and log are copied out in one
// read transaction (a consistent point in time) and decoded after it, so a
// long decode does not hold the transaction open.
func (s *Store) Load(ctx context.Context, workflowID string) (*workflow.Doc, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return nil, err
	}
	st, err := s.read(workflowID, false, nil)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return st.join(nil)
}

// stored is what one read transaction copied out of a workflow's bucket.
type stored struct {
	snapshot []byte   // nil when there is no snapshot
	version  uint64   // 0 when there is no snapshot
	log      [][]byte // log rows
	keys     [][]byte // their keys (only when asked for)
}

func (st *stored) join(base *workflow.Doc) (*workflow.Doc, error) {
	j := storecodec.NewJoiner(base)
	if st.snapshot != nil {
		if err := j.Snapshot(st.snapshot); err != nil {
			return nil, err
		}
	}
	for _, b := range st.log {
		if err := j.Delta(b); err != nil {
			return nil, err
		}
	}
	return j.Doc(), nil
}

// read reads the workflow's snapshot and log rows; withKeys also keeps the
// rows' keys (for the trim). A row whose key held names is not read: its
// key is kept (a snapshot trims it), its bytes are not.
func (s *Store) read(workflowID string, withKeys bool, held []storage.RowKey) (*stored, error) {
	var skip map[storage.RowKey]bool
	if len(held) > 0 {
		skip = make(map[storage.RowKey]bool, len(held))
		for _, k := range held {
			skip[k] = true
		}
	}
	st := new(stored)
	id := []byte(workflowID)
	err := s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketDeleted).Get(id) != nil {
			return deletedErr(workflowID)
		}
		wf := tx.Bucket(bucketWorkflows).Bucket(id)
		if wf == nil {
			return nil
		}
		if v := wf.Get(keySnapshot); v != nil {
			st.snapshot = append([]byte(nil), v...)
			st.version = getU64(wf.Get(keyVersion))
		}
		if lb := wf.Bucket(bucketLog); lb != nil {
			c := lb.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if withKeys {
					st.keys = append(st.keys, append([]byte(nil), k...))
				}
				if skip != nil && len(k) == len(storage.RowKey{}) && skip[storage.RowKey(k)] {
					continue
				}
				// v points into the mapped file: only a row that is
				// joined is copied out (its pages read).
				st.log = append(st.log, append([]byte(nil), v...))
			}
			return nil
		}
		return nil
	})
	if err != nil {
		return nil, mapErr(err)
	}
	return st, nil
}

// Append implements storage.Store: the batch is checked and hashed first,
// then written in one transaction (one fsync) that also checks the
// tombstone. A key already present is a re-send and is skipped.
func (s *Store) Append(ctx context.Context, workflowID string, deltas []storage.Delta) error {
	if err := s.begin(ctx, workflowID); err != nil {
		return err
	}
	if err := storage.CheckBatch(deltas); err != nil {
		return err
	}
	if len(deltas) == 0 {
		return nil
	}
	var added, bytes int64
	var txID int
	// Batch may run the function more than once (alone, after a failed
	// batch): it starts by resetting its counts, and re-putting a key is
	// harmless.
	err := s.db.Batch(func(tx *bbolt.Tx) error {
		added, bytes, txID = 0, 0, tx.ID()
		if err := ctx.Err(); err != nil {
			return err
		}
		id := []byte(workflowID)
		if tx.Bucket(bucketDeleted).Get(id) != nil {
			return deletedErr(workflowID)
		}
		wf, err := tx.Bucket(bucketWorkflows).CreateBucketIfNotExists(id)
		if err != nil {
			return err
		}
		lb, err := wf.CreateBucketIfNotExists(bucketLog)
		if err != nil {
			return err
		}
		for _, d := range deltas {
			h := d.Hash()
			if lb.Get(h[:]) != nil {
				continue
			}
			if err := lb.Put(h[:], d.Bytes()); err != nil {
				return err
			}
			added++
			bytes += int64(len(d.Bytes()))
		}
		return nil
	})
	if err != nil {
		return mapErr(err)
	}
	s.stats.Appends.Add(1)
	s.countTx(txID)
	s.stats.DeltasAppended.Add(int64(len(deltas)))
	for _, d := range deltas {
		s.stats.OpsAppended.Add(int64(d.Ops()))
	}
	s.stats.DeltasStored.Add(added)
	s.stats.BytesWritten.Add(bytes)
	return nil
}

// countTx counts a committed append transaction once, however many Appends
// it carried. Appends of one transaction return within microseconds of
// each other, so remembering the last few ids is enough.
func (s *Store) countTx(id int) {
	s.txMu.Lock()
	defer s.txMu.Unlock()
	for _, seen := range s.recentTx {
		if seen == id {
			return
		}
	}
	s.recentTx[s.nextTx] = id
	s.nextTx = (s.nextTx + 1) % len(s.recentTx)
	s.stats.Transactions.Add(1)
}

// Snapshot implements storage.Store. It reads the stored snapshot and log
// in one read transaction, joins them into a copy of doc outside any
// transaction, and writes the result in a write transaction that first
// checks the version it read; another snapshot in between makes it read,
// join and try again. The write deletes exactly the log rows it joined and
// those held names, which it read the keys of only.
func (s *Store) Snapshot(ctx context.Context, workflowID string, doc *workflow.Doc, held ...storage.RowKey) (int64, error) {
	if err := s.begin(ctx, workflowID); err != nil {
		return 0, err
	}
	for {
		st, err := s.read(workflowID, true, held)
		if err != nil {
			return 0, err
		}
		merged, err := st.join(doc.Clone())
		if err != nil {
			return 0, err
		}
		frame := storecodec.EncodeSnapshot(merged)
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		conflict := false
		err = s.db.Update(func(tx *bbolt.Tx) error {
			conflict = false
			if err := ctx.Err(); err != nil {
				return err
			}
			id := []byte(workflowID)
			if tx.Bucket(bucketDeleted).Get(id) != nil {
				return deletedErr(workflowID)
			}
			wf, err := tx.Bucket(bucketWorkflows).CreateBucketIfNotExists(id)
			if err != nil {
				return err
			}
			if getU64(wf.Get(keyVersion)) != st.version {
				conflict = true
				return nil
			}
			if err := wf.Put(keySnapshot, frame); err != nil {
				return err
			}
			if err := wf.Put(keyVersion, u64(st.version+1)); err != nil {
				return err
			}
			if lb := wf.Bucket(bucketLog); lb != nil {
				for _, k := range st.keys {
					if err := lb.Delete(k); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return 0, mapErr(err)
		}
		if conflict {
			s.stats.Conflicts.Add(1)
			continue
		}
		s.stats.Snapshots.Add(1)
		s.stats.Transactions.Add(1)
		s.stats.SnapshotBytes.Store(int64(len(frame)))
		s.stats.BytesWritten.Add(int64(len(frame)))
		s.stats.LogTrimmed.Add(int64(len(st.keys)))
		return int64(st.version + 1), nil
	}
}

// Delete implements storage.Store: it writes the tombstone and drops the
// workflow's bucket (snapshot and log) and its checkpoints in one
// transaction.
func (s *Store) Delete(ctx context.Context, workflowID string) error {
	if err := s.begin(ctx, workflowID); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		id := []byte(workflowID)
		del := tx.Bucket(bucketDeleted)
		if del.Get(id) == nil {
			if err := del.Put(id, u64(uint64(time.Now().UnixNano()))); err != nil {
				return err
			}
		}
		if err := deleteCheckpoints(tx, id); err != nil {
			return err
		}
		wfs := tx.Bucket(bucketWorkflows)
		if wfs.Bucket(id) != nil {
			return wfs.DeleteBucket(id)
		}
		return nil
	})
	if err != nil {
		return mapErr(err)
	}
	s.stats.Transactions.Add(1)
	return nil
}

func u64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, v)
}

func getU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
