package postgres

import (
	"context"
	"sync/atomic"
)

// Vacuuming the log.
//
// Snapshots delete the log rows they joined, so the log is a queue: each
// row lives seconds, and its space is reusable only after a vacuum.
// Autovacuum visits a database once per autovacuum_naptime (60 s by
// default) at best, and on a busy server its few workers may come later
// still; meanwhile the table grows by every row written. Batch rows made
// that growth a write's worth per row instead of an operation's, and the
// store closes the rest itself: once snapshots have trimmed vacuumAfter
// rows since the last vacuum, it runs VACUUM on the log in the background.
// The table is its live rows plus a few thousand dead ones, so that
// vacuum reads a few megabytes; it skips the table when another vacuum
// holds it (SKIP_LOCKED), nodes sharing the database each vacuum after
// their own trims, and a failure only waits for the next threshold (the
// server's autovacuum still runs too: migration 0006 gives the log a
// fixed threshold).

// vacuumAfter is how many trimmed rows start a vacuum of the log.
const vacuumAfter = 2000

const vacuumLogSQL = `VACUUM (SKIP_LOCKED) flowsync_log`

// vacuumer counts trimmed rows and runs one vacuum at a time.
type vacuumer struct {
	trimmed atomic.Int64
	running atomic.Bool
	runs    atomic.Int64 // vacuums that completed
}

// trimmedRows notes n rows trimmed by a committed snapshot and starts a
// vacuum in the background when the threshold is passed and none runs.
func (s *Store) trimmedRows(n int64) {
	v := &s.vacuum
	if v.trimmed.Add(n) < vacuumAfter || !v.running.CompareAndSwap(false, true) {
		return
	}
	v.trimmed.Store(0)
	// Close sets closed, then takes bgMu and waits for bg: a vacuum
	// either registers before that or does not start.
	s.bgMu.Lock()
	if s.closed.Load() {
		s.bgMu.Unlock()
		v.running.Store(false)
		return
	}
	s.bg.Add(1)
	s.bgMu.Unlock()
	go func() {
		defer s.bg.Done()
		defer v.running.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StatementTimeout)
		defer cancel()
		// VACUUM cannot run in a transaction block: Exec without
		// arguments sends it as a simple query on its own.
		if _, err := s.pool.Exec(ctx, vacuumLogSQL); err != nil {
			if !s.closed.Load() {
				s.log.Warn("postgres: vacuum of the log failed; the next trims retry it", "err", err)
			}
			return
		}
		v.runs.Add(1)
	}()
}
