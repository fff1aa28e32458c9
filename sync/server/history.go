package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/history"
	"github.com/flowsync/flowsync/sync/protocol"
)

// HistoryConfig configures checkpoints (package history). The zero value
// is on, with the defaults of history.Config; every store of this
// repository keeps checkpoints.
type HistoryConfig struct {
	// Off turns checkpoints off: no automatic ones, and the admin API's
	// checkpoint routes answer 501.
	Off bool
	// Quiet and Interval: see history.Config (negative Interval: named
	// checkpoints only).
	Quiet, Interval time.Duration
	// MaxAuto, MaxAge and MaxNamed bound what each workflow keeps (zero:
	// the defaults; negative: no bound).
	MaxAuto, MaxNamed int
	MaxAge            time.Duration
	// RestoreTimeout bounds a restore's wait for the room to apply it and
	// for the store to make it durable (a 5,000-block restore is several
	// megabytes). Default: DefaultAdminOperationTimeout.
	RestoreTimeout time.Duration
}

// openHistory starts the checkpoint manager on store, or returns nil when
// it is off or the store keeps no checkpoints. reg is read lazily: the
// registry is built after the rooms config that reports to the manager.
func openHistory(c HistoryConfig, store storage.Store, reg func() *rooms.Registry, timeout time.Duration, logger *slog.Logger, metrics prometheus.Registerer) (*history.Manager, error) {
	cs, ok := store.(storage.CheckpointStore)
	if c.Off || !ok {
		return nil, nil
	}
	return history.New(history.Config{
		Store:    cs,
		Document: func(ctx context.Context, id string) (*workflow.Doc, error) { return reg().Document(ctx, id) },
		Apply: func(ctx context.Context, id, user string, ops []workflow.Op) error {
			return applyDurably(ctx, reg(), id, user, ops, timeout)
		},
		Quiet: c.Quiet, Interval: c.Interval,
		Retention: storage.Retention{MaxAuto: c.MaxAuto, MaxAge: c.MaxAge, MaxNamed: c.MaxNamed},
		Logger:    logger,
		Metrics:   history.NewMetrics(metrics),
	})
}

// applyDurably runs ops through the workflow's room as an admin on behalf
// of user, and waits (at most timeout) for them to be durable. The first
// refusal is the error (its code is the protocol's: a locked workflow is
// WORKFLOW_LOCKED).
func applyDurably(ctx context.Context, reg *rooms.Registry, id, user string, ops []workflow.Op, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	as := rooms.Identity{UserID: user, Name: user, Role: protocol.RoleAdmin}
	var waits []<-chan error
	for done := 0; done < len(ops); {
		applied, err := reg.Apply(ctx, id, as, ops[done:])
		if err != nil {
			return err
		}
		waits = append(waits, applied.Durable)
		done += len(applied.Results)
		if n := len(applied.Results); n > 0 {
			if res := applied.Results[n-1]; !res.Applied() {
				if !errors.Is(res.Err, workflow.ErrNoEffect) {
					return fmt.Errorf("operation %d of %d (%s): %w", done, len(ops), ops[done-1].Name(), res.Err)
				}
				// Already as wanted (a variable someone set meanwhile):
				// go on with the next.
			}
		} else {
			return fmt.Errorf("rooms: Apply ran none of %d operations", len(ops)-done)
		}
	}
	for _, durable := range waits {
		select {
		case err := <-durable:
			if err != nil {
				return err
			}
		case <-ctx.Done():
			return fmt.Errorf("applied, not yet durable: %w", ctx.Err())
		}
	}
	return nil
}
