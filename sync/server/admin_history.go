package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/history"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/webhook"
)

// The checkpoint routes: a workflow's version history (package history).
// Checkpoints live in the store, so every node of a cluster sharing it
// lists the same ones; a restore runs through the workflow's room like
// any application request.

// Checkpoints is what the admin API asks of the history
// (*history.Manager).
type Checkpoints interface {
	Create(ctx context.Context, workflowID, name, actor string) (storage.CheckpointMeta, error)
	List(ctx context.Context, workflowID string) ([]storage.CheckpointMeta, error)
	Load(ctx context.Context, workflowID string, id int64) (storage.CheckpointMeta, *workflow.Doc, error)
	DiffOf(ctx context.Context, workflowID string, from, to int64) (history.Diff, error)
	Restore(ctx context.Context, workflowID string, id int64, actor string) (history.Restored, error)
}

// DeployedCheckpoint is the name of the checkpoint a "deployed" event
// makes; restoring the newest one is "revert to deployed".
const DeployedCheckpoint = "deployed"

// historyTarget checks the workflow id and that the workflow exists and
// checkpoints are on; it answers the request otherwise.
func (h *adminHandler) historyTarget(w http.ResponseWriter, r *http.Request) (string, bool) {
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return "", false
	}
	if h.deps.History == nil {
		writeError(w, http.StatusNotImplemented, protocol.CodeInvalidOperation, "checkpoints are off on this server")
		return "", false
	}
	exists, err := h.deps.Rooms.Exists(r.Context(), id)
	if err != nil {
		h.failed(w, r, err)
		return "", false
	}
	if !exists {
		writeError(w, http.StatusNotFound, protocol.CodeUnknownWorkflow, "no workflow "+strconv.Quote(id)+": never created nor written")
		return "", false
	}
	return id, true
}

// historyFailed answers an error of the history.
func (h *adminHandler) historyFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, storage.ErrNoCheckpoint):
		writeError(w, http.StatusNotFound, protocol.CodeUnknownEntity, errorMessage(err))
	case errors.Is(err, storage.ErrInvalidCheckpoint):
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, errorMessage(err))
	case errors.Is(err, history.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, protocol.CodeOverloaded, "shutting down")
	default:
		h.failed(w, r, err)
	}
}

// checkpointID parses a checkpoint id: a positive integer, or "live" (the
// live document) when live is allowed.
func checkpointID(s string, live bool) (int64, error) {
	if live && s == "live" {
		return history.Live, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		if live {
			return 0, fmt.Errorf("%q is not a checkpoint id (a positive integer) nor \"live\"", s)
		}
		return 0, fmt.Errorf("%q is not a checkpoint id (a positive integer)", s)
	}
	return n, nil
}

func (h *adminHandler) listCheckpoints(w http.ResponseWriter, r *http.Request) {
	id, ok := h.historyTarget(w, r)
	if !ok {
		return
	}
	metas, err := h.deps.History.List(r.Context(), id)
	if err != nil {
		h.historyFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"workflowId": id, "checkpoints": metas})
}

func (h *adminHandler) createCheckpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := h.historyTarget(w, r)
	if !ok {
		return
	}
	var body struct {
		Name  string `json:"name"`
		Actor *Actor `json:"actor"`
	}
	if !h.readJSON(w, r, &body, false) {
		return
	}
	if body.Name == "" {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "name is required")
		return
	}
	if !validActor(w, body.Actor) {
		return
	}
	meta, err := h.deps.History.Create(r.Context(), id, body.Name, actorUser(body.Actor))
	if err != nil {
		h.historyFailed(w, r, err)
		return
	}
	h.audit(r.Context(), "checkpoint.create", id, body.Actor, slog.Int64("checkpoint", meta.ID), slog.String("name", meta.Name))
	writeJSON(w, http.StatusOK, map[string]any{"workflowId": id, "checkpoint": meta})
}

func (h *adminHandler) getCheckpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := h.historyTarget(w, r)
	if !ok {
		return
	}
	cp, err := checkpointID(r.PathValue("cp"), false)
	if err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, err.Error())
		return
	}
	meta, doc, err := h.deps.History.Load(r.Context(), id, cp)
	if err != nil {
		h.historyFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"workflowId": id, "checkpoint": meta, "view": doc.View()})
}

func (h *adminHandler) diffCheckpoints(w http.ResponseWriter, r *http.Request) {
	id, ok := h.historyTarget(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	if q.Get("from") == "" {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "from is required (a checkpoint id or \"live\")")
		return
	}
	to := q.Get("to")
	if to == "" {
		to = "live"
	}
	from, err := checkpointID(q.Get("from"), true)
	if err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "from: "+err.Error())
		return
	}
	toID, err := checkpointID(to, true)
	if err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "to: "+err.Error())
		return
	}
	d, err := h.deps.History.DiffOf(r.Context(), id, from, toID)
	if err != nil {
		h.historyFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"workflowId": id, "from": q.Get("from"), "to": to, "diff": d})
}

func (h *adminHandler) restoreCheckpoint(w http.ResponseWriter, r *http.Request) {
	id, ok := h.historyTarget(w, r)
	if !ok {
		return
	}
	var body struct {
		Checkpoint int64  `json:"checkpoint"`
		Name       string `json:"name"`
		Actor      *Actor `json:"actor"`
	}
	if !h.readJSON(w, r, &body, false) {
		return
	}
	if (body.Checkpoint != 0) == (body.Name != "") || body.Checkpoint < 0 {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "give one of checkpoint (an id) or name (the newest checkpoint of that name)")
		return
	}
	if !validActor(w, body.Actor) {
		return
	}
	cp := body.Checkpoint
	if body.Name != "" {
		metas, err := h.deps.History.List(r.Context(), id)
		if err != nil {
			h.historyFailed(w, r, err)
			return
		}
		for _, m := range metas {
			if m.Name == body.Name {
				cp = m.ID // oldest first: the last match is the newest
			}
		}
		if cp == 0 {
			writeError(w, http.StatusNotFound, protocol.CodeUnknownEntity, "no checkpoint named "+strconv.Quote(body.Name))
			return
		}
	}
	res, err := h.deps.History.Restore(r.Context(), id, cp, actorUser(body.Actor))
	if err != nil {
		h.historyFailed(w, r, err)
		return
	}
	h.audit(r.Context(), "workflow.restore", id, body.Actor, slog.Int64("checkpoint", cp), slog.Int64("before", res.Before.ID),
		slog.Int("operations", res.Operations))
	h.lifecycle(id, webhook.TypeRestored, body.Actor)
	// The restore reached the editors as an edit; the event tells them why.
	h.deps.Rooms.SendEvent(r.Context(), id, protocol.EventWorkflowReverted, "restored checkpoint "+strconv.FormatInt(cp, 10))
	writeJSON(w, http.StatusOK, map[string]any{"workflowId": id, "restored": res.Checkpoint, "before": res.Before, "operations": res.Operations})
}

// validActor checks an optional actor of a request body.
func validActor(w http.ResponseWriter, a *Actor) bool {
	if a == nil {
		return true
	}
	if err := validID(a.UserID); err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "actor.userId: "+err.Error())
		return false
	}
	return true
}

// actorUser is the actor's user id, empty for none (the system).
func actorUser(a *Actor) string {
	if a == nil {
		return ""
	}
	return a.UserID
}
