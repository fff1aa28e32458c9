package rooms

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowsync/flowsync/storage"
)

// ErrUnknownWorkflow: with Config.RequireExisting, the workflow was never
// created nor written (UNKNOWN_WORKFLOW).
var ErrUnknownWorkflow = errors.New("rooms: no such workflow")

// checkExists returns ErrUnknownWorkflow unless the store knows the room's
// workflow. Called by load, before the room takes any event.
func (rm *Room) checkExists(ctx context.Context) error {
	ok, err := rm.reg.store.(storage.Catalog).Exists(ctx, rm.id)
	switch {
	case err != nil:
		rm.metrics.storeError("load")
		rm.logger.Warn("checking that the workflow exists failed", "err", err)
		return errors.Join(ErrLoad, err)
	case !ok:
		return fmt.Errorf("%w: %q", ErrUnknownWorkflow, rm.id)
	}
	return nil
}

// CreateWorkflow records that workflowID exists (see Config.RequireExisting);
// creating one that exists changes nothing. It returns an error wrapping
// storage.ErrDeleted for a deleted workflow (deleted stays deleted), or
// ErrNoCatalog when the store cannot record it.
func (r *Registry) CreateWorkflow(ctx context.Context, workflowID string) error {
	c, ok := r.store.(storage.Catalog)
	if !ok {
		return ErrNoCatalog
	}
	return c.Create(ctx, workflowID)
}

// ErrNoCatalog: the store does not implement storage.Catalog.
var ErrNoCatalog = errors.New("rooms: the store does not record which workflows exist")
