package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flowsync/flowsync/storage"
)

// Group commit across workflows.
//
// Every room already joins its own deltas into one Append at a time; with
// many busy rooms that still means one transaction (and one fsync) per room
// per batch, and the reference design's cost — a write per operation — comes
// back as a write per document. So Append does not write: it queues its
// batch, and one committer goroutine writes everything queued, whatever the
// workflow, in one transaction of three statements. While a transaction is
// in flight the queue fills; the next one takes it all. The number of
// transactions therefore follows the commit latency, not the number of
// documents or operations.
//
// Each Append still gets its own answer: a deleted workflow's rows are
// filtered out by the INSERT itself and that caller gets ErrDeleted while
// the others commit; a transaction that fails fails every caller in it,
// and each retries on its own (appends are idempotent).

const (
	// maxGroupDeltas and maxGroupBytes bound one group transaction, so a
	// burst becomes several medium transactions rather than one huge one.
	maxGroupDeltas = 4096
	maxGroupBytes  = 32 << 20

	lockManySharedSQL = `SELECT count(pg_advisory_xact_lock_shared($1::int4, hashtext(w))) FROM unnest($2::text[]) AS t(w)`
	deletedManySQL    = `SELECT workflow_id FROM flowsync_deleted WHERE workflow_id = ANY($1::text[])`
	insertManySQL     = `INSERT INTO flowsync_log (workflow_id, delta_hash, delta, ops)
SELECT w, h, d, n FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::int4[]) AS t(w, h, d, n)
WHERE NOT EXISTS (SELECT 1 FROM flowsync_deleted x WHERE x.workflow_id = t.w)
ON CONFLICT (workflow_id, delta_hash) DO NOTHING`
)

// appendReq is one Append call waiting for the committer.
type appendReq struct {
	ctx        context.Context
	workflowID string
	hashes     [][]byte // distinct within the request
	raws       [][]byte
	ops        []int32 // operations each row covers (storage.Delta.Ops)
	bytes      int
	calls      int        // deltas the caller passed, duplicates included (Stats.DeltasAppended)
	opsCalled  int64      // operations those deltas cover (Stats.OpsAppended)
	done       chan error // buffered: the committer never blocks on it
}

// newAppendReq returns the request of an Append of deltas, each distinct
// delta once.
func newAppendReq(ctx context.Context, workflowID string, deltas []storage.Delta) *appendReq {
	r := &appendReq{ctx: ctx, workflowID: workflowID, calls: len(deltas), done: make(chan error, 1),
		hashes: make([][]byte, 0, len(deltas)), raws: make([][]byte, 0, len(deltas)), ops: make([]int32, 0, len(deltas))}
	seen := make(map[[sha256.Size]byte]bool, len(deltas))
	for _, d := range deltas {
		r.opsCalled += int64(d.Ops())
		h := d.Hash()
		if seen[h] {
			continue
		}
		seen[h] = true
		r.hashes = append(r.hashes, h[:])
		r.raws = append(r.raws, d.Bytes())
		r.ops = append(r.ops, int32(min(d.Ops(), math.MaxInt32)))
		r.bytes += len(d.Bytes())
	}
	return r
}

// committer owns the queue of appends and the goroutine that writes them.
type committer struct {
	s      *Store
	queue  chan *appendReq
	stop   chan struct{}
	exited chan struct{}
}

func newCommitter(s *Store) *committer {
	c := &committer{s: s, queue: make(chan *appendReq, maxGroupDeltas), stop: make(chan struct{}), exited: make(chan struct{})}
	go c.run()
	return c
}

// submit queues r and waits for its outcome or for r.ctx. A caller that
// gives up early gets ctx's error; its deltas may still commit, which is
// harmless (the caller's own retry finds them stored).
func (c *committer) submit(r *appendReq) error {
	select {
	case c.queue <- r:
	case <-r.ctx.Done():
		return r.ctx.Err()
	case <-c.stop:
		return storage.ErrClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// close stops the committer after the transaction in flight, failing what
// is still queued with ErrClosed.
func (c *committer) close() {
	close(c.stop)
	<-c.exited
}

func (c *committer) run() {
	defer close(c.exited)
	var group []*appendReq
	for {
		group = group[:0]
		select {
		case r := <-c.queue:
			group = append(group, r)
		case <-c.stop:
			c.drain()
			return
		}
		deltas, bytes := len(group[0].raws), group[0].bytes
	fill:
		for deltas < maxGroupDeltas && bytes < maxGroupBytes {
			select {
			case r := <-c.queue:
				group = append(group, r)
				deltas += len(r.raws)
				bytes += r.bytes
			default:
				break fill
			}
		}
		c.write(group)
	}
}

func (c *committer) drain() {
	for {
		select {
		case r := <-c.queue:
			r.done <- storage.ErrClosed
		default:
			return
		}
	}
}

// write commits one group and answers every request in it.
func (c *committer) write(group []*appendReq) {
	// Requests whose caller already gave up are left out: nobody waits for
	// them and their caller retries.
	live := group[:0:0]
	for _, r := range group {
		if r.ctx.Err() == nil {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	ids := make([]string, 0, len(live))
	var wfs []string
	var hashes, raws [][]byte
	var ops []int32
	seen := make(map[string]map[[sha256.Size]byte]bool, len(live))
	for _, r := range live {
		if seen[r.workflowID] == nil {
			seen[r.workflowID] = make(map[[sha256.Size]byte]bool, len(r.hashes))
			ids = append(ids, r.workflowID)
		}
		for i, h := range r.hashes {
			k := [sha256.Size]byte(h)
			if seen[r.workflowID][k] {
				continue // two rooms cannot share a workflow, but a re-sent batch can
			}
			seen[r.workflowID][k] = true
			wfs = append(wfs, r.workflowID)
			hashes = append(hashes, h)
			raws = append(raws, r.raws[i])
			ops = append(ops, r.ops[i])
		}
	}
	slices.Sort(ids)

	// The transaction outlives any one caller's context: it serves them
	// all. StatementTimeout and MaxAttempts bound it.
	ctx := context.Background()
	var deleted map[string]bool
	var inserted int64
	err := c.s.retry(ctx, "append", func(ctx context.Context) error {
		deleted, inserted = map[string]bool{}, 0
		b := &pgx.Batch{}
		b.BeginTx(pgx.TxOptions{})
		b.Queue(lockManySharedSQL, workflowLockClass, ids)
		b.Queue(deletedManySQL, ids).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					return err
				}
				deleted[id] = true
			}
			return rows.Err()
		})
		b.Queue(insertManySQL, wfs, hashes, raws, ops).Exec(func(ct pgconn.CommandTag) error {
			inserted = ct.RowsAffected()
			return nil
		})
		return c.s.commit(ctx, b, func() (bool, error) { return true, nil })
	})
	if err != nil {
		err = fmt.Errorf("postgres: append: %w", err)
		for _, r := range live {
			r.done <- err
		}
		return
	}
	var all int64
	for _, r := range raws {
		all += int64(len(r))
	}
	st := &c.s.stats
	st.Transactions.Add(1)
	st.Statements.Add(3)
	st.DeltasStored.Add(inserted)
	if len(raws) > 0 {
		// Re-sent rows are not inserted; count the average size for them
		// (exact per-row sizes would need RETURNING, which costs more than
		// it tells).
		st.BytesWritten.Add(all * inserted / int64(len(raws)))
	}
	for _, r := range live {
		if deleted[r.workflowID] {
			r.done <- deletedErr(r.workflowID)
			continue
		}
		st.Appends.Add(1)
		st.DeltasAppended.Add(int64(r.calls))
		st.OpsAppended.Add(r.opsCalled)
		r.done <- nil
	}
}
