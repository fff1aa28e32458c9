package rooms

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowsync/flowsync/crdt"
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

// Exists reports whether workflowID ever existed: the store's catalog has
// it (created, or a snapshot or log row stored), or its live room holds
// edits not yet stored. A workflow nobody created nor wrote does not exist,
// even while a room for it is live (a join of an unknown id without
// Config.RequireExisting loads an empty room). It returns an error
// wrapping storage.ErrDeleted for a deleted workflow, and true when the
// store keeps no catalog (it cannot tell; a load gives what there is).
// Nothing is loaded.
func (r *Registry) Exists(ctx context.Context, workflowID string) (bool, error) {
	if r.Deleted(workflowID) {
		return false, fmt.Errorf("rooms: %q: %w", workflowID, storage.ErrDeleted)
	}
	c, ok := r.store.(storage.Catalog)
	if !ok {
		return true, nil
	}
	known, err := c.Exists(ctx, workflowID)
	if err != nil || known {
		return known, err
	}
	if rm := r.liveRoom(workflowID); rm != nil {
		ev := contextEvent{reply: make(chan *crdt.Context, 1)}
		if cc, ok := ask(ctx, rm, ev, ev.reply); ok && cc != nil && !cc.IsEmpty() {
			return true, nil
		}
	}
	// The catalog says no for a deleted workflow too: a load tells them
	// apart (it reads no room's state, and loads nothing for a workflow
	// never written).
	if _, err := r.store.Load(ctx, workflowID); err != nil {
		return false, err
	}
	return false, nil
}
