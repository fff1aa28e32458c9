package storecodec

import (
	"sync/atomic"

	"github.com/flowsync/flowsync/storage"
)

// Counters is the atomic form of storage.Stats that a store updates as it
// commits.
type Counters struct {
	Appends, DeltasAppended, OpsAppended, DeltasStored atomic.Int64
	BytesWritten                                       atomic.Int64
	Snapshots, SnapshotBytes, Conflicts, LogTrimmed    atomic.Int64
	Transactions, Statements, Retries                  atomic.Int64
}

// Stats returns a copy of the counters.
func (c *Counters) Stats() storage.Stats {
	return storage.Stats{
		Appends:        c.Appends.Load(),
		DeltasAppended: c.DeltasAppended.Load(),
		OpsAppended:    c.OpsAppended.Load(),
		DeltasStored:   c.DeltasStored.Load(),
		BytesWritten:   c.BytesWritten.Load(),
		Snapshots:      c.Snapshots.Load(),
		SnapshotBytes:  c.SnapshotBytes.Load(),
		Conflicts:      c.Conflicts.Load(),
		LogTrimmed:     c.LogTrimmed.Load(),
		Transactions:   c.Transactions.Load(),
		Statements:     c.Statements.Load(),
		Retries:        c.Retries.Load(),
	}
}
