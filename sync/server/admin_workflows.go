package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/webhook"
)

// The routes on one workflow (but its operations, admin_operations.go), and
// the room list.

func (h *adminHandler) getWorkflow(w http.ResponseWriter, r *http.Request) {
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	// A workflow nobody created nor wrote is 404, not an empty view (and
	// no room is loaded for it).
	exists, err := h.deps.Rooms.Exists(r.Context(), id)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	if !exists {
		writeError(w, http.StatusNotFound, protocol.CodeUnknownWorkflow, "no workflow "+strconv.Quote(id)+": never created nor written")
		return
	}
	v, err := h.deps.Rooms.View(r.Context(), id)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	locked, err := h.deps.Locks.IsLocked(r.Context(), id)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"workflowId": id,
		"locked":     locked,
		"view":       v,
	})
}

// putWorkflow creates the workflow (idempotent): with --require-existing-
// workflows, only created (or written) workflows can be joined.
func (h *adminHandler) putWorkflow(w http.ResponseWriter, r *http.Request) {
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	if err := h.deps.Rooms.CreateWorkflow(r.Context(), id); err != nil {
		if errors.Is(err, rooms.ErrNoCatalog) {
			writeError(w, http.StatusNotImplemented, protocol.CodeInvalidOperation, "this store does not record which workflows exist")
			return
		}
		h.failed(w, r, err)
		return
	}
	h.audit(r.Context(), "workflow.create", id, nil)
	writeJSON(w, http.StatusOK, map[string]any{"workflowId": id, "exists": true})
}

func (h *adminHandler) deleteWorkflow(w http.ResponseWriter, r *http.Request) {
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	if h.doDelete(w, r, id, nil) {
		writeJSON(w, http.StatusOK, map[string]any{"workflowId": id, "deleted": true})
	}
}

func (h *adminHandler) doDelete(w http.ResponseWriter, r *http.Request, id string, actor *Actor) bool {
	if err := h.deps.Rooms.DeleteWorkflow(r.Context(), id); err != nil {
		h.failed(w, r, err)
		return false
	}
	h.audit(r.Context(), "workflow.delete", id, actor)
	h.lifecycle(id, webhook.TypeDeleted, actor)
	return true
}

var eventKinds = map[string]protocol.EventKind{
	"deleted":  protocol.EventWorkflowDeleted,
	"updated":  protocol.EventWorkflowUpdated,
	"reverted": protocol.EventWorkflowReverted,
	"deployed": protocol.EventWorkflowDeployed,
}

func (h *adminHandler) postEvent(w http.ResponseWriter, r *http.Request) {
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	var body struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
	}
	if !h.readJSON(w, r, &body, false) {
		return
	}
	kind, known := eventKinds[body.Kind]
	if !known {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "kind must be deleted, updated, reverted or deployed")
		return
	}
	if len(body.Message) > protocol.MaxTextBytes {
		writeError(w, http.StatusBadRequest, protocol.CodeTooLarge, "message over "+strconv.Itoa(protocol.MaxTextBytes)+" bytes")
		return
	}
	if kind == protocol.EventWorkflowDeleted {
		// As the reference's /api/workflow-deleted: the room's members are
		// told and closed, and the document goes (DELETE does the same).
		if h.doDelete(w, r, id, nil) {
			writeJSON(w, http.StatusOK, map[string]any{"workflowId": id, "deleted": true})
		}
		return
	}
	out := map[string]any{"workflowId": id}
	if kind == protocol.EventWorkflowDeployed && h.deps.History != nil {
		// What was deployed is kept as the checkpoint "deployed", before
		// anyone is told: "revert to deployed" restores the newest one.
		// A failure fails the request (the application retries it).
		meta, ok := h.deployedCheckpoint(w, r, id)
		if !ok {
			return
		}
		if meta != nil {
			out["checkpoint"] = meta
		}
	}
	// A workflow with no live room has no member to tell: none is loaded
	// for the event.
	_, live := h.deps.Rooms.SendEvent(r.Context(), id, kind, body.Message)
	switch kind {
	case protocol.EventWorkflowUpdated:
		h.lifecycle(id, webhook.TypeUpdated, nil)
	case protocol.EventWorkflowReverted:
		h.lifecycle(id, webhook.TypeReverted, nil)
	}
	out["delivered"] = live
	writeJSON(w, http.StatusOK, out)
}

// deployedCheckpoint makes the "deployed" checkpoint of an existing
// workflow (nil for one that does not exist); false when it answered an
// error.
func (h *adminHandler) deployedCheckpoint(w http.ResponseWriter, r *http.Request, id string) (*storage.CheckpointMeta, bool) {
	exists, err := h.deps.Rooms.Exists(r.Context(), id)
	if err != nil {
		h.failed(w, r, err)
		return nil, false
	}
	if !exists {
		return nil, true
	}
	meta, err := h.deps.History.Create(r.Context(), id, DeployedCheckpoint, "")
	if err != nil {
		h.historyFailed(w, r, err)
		return nil, false
	}
	h.audit(r.Context(), "checkpoint.create", id, nil, slog.Int64("checkpoint", meta.ID), slog.String("name", meta.Name))
	return &meta, true
}

func (h *adminHandler) lock(lock bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := h.pathID(w, r, "id")
		if !ok {
			return
		}
		var body struct {
			Actor *Actor `json:"actor"`
		}
		if !h.readJSON(w, r, &body, true) {
			return
		}
		action := "workflow.lock"
		if !lock {
			action = "workflow.unlock"
		}
		changed, err := h.deps.Locks.SetLocked(r.Context(), id, lock)
		if err != nil {
			h.failed(w, r, err)
			return
		}
		if changed {
			h.audit(r.Context(), action, id, body.Actor)
			typ := webhook.TypeUnlocked
			if lock {
				typ = webhook.TypeLocked
			}
			h.lifecycle(id, typ, body.Actor)
		}
		writeJSON(w, http.StatusOK, map[string]any{"workflowId": id, "locked": lock, "changed": changed})
	}
}

// RoomInfo is one live room in GET /admin/v1/rooms.
type RoomInfo struct {
	WorkflowID string       `json:"workflowId"`
	Locked     bool         `json:"locked"`
	Members    []MemberInfo `json:"members"`
}

// MemberInfo is one roster entry of a room in GET /admin/v1/rooms: what
// the room's editors see of each other, in the API's JSON spelling.
type MemberInfo struct {
	SessionID      string     `json:"sessionId"`
	TabSessionID   string     `json:"tabSessionId,omitempty"`
	UserID         string     `json:"userId"`
	Name           string     `json:"name"`
	Avatar         string     `json:"avatar,omitempty"`
	Role           string     `json:"role"`
	JoinedAtMs     int64      `json:"joinedAtMs"`
	LastActivityMs int64      `json:"lastActivityMs"`
	Cursor         *PointInfo `json:"cursor"`    // null: not on the canvas
	Selection      *SelInfo   `json:"selection"` // null: nothing selected
}

// PointInfo is a cursor position in canvas coordinates.
type PointInfo struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// SelInfo is a selection: type block or edge, and the id.
type SelInfo struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func memberInfo(e protocol.RosterEntry) MemberInfo {
	m := MemberInfo{SessionID: e.SessionID, TabSessionID: e.TabSessionID, UserID: e.UserID, Name: e.Name,
		Avatar: e.Avatar, Role: string(e.Role), JoinedAtMs: e.JoinedAtMs, LastActivityMs: e.LastActivityMs}
	if e.Cursor != nil {
		m.Cursor = &PointInfo{X: e.Cursor.X, Y: e.Cursor.Y}
	}
	if !e.Selection.IsZero() {
		m.Selection = &SelInfo{Type: string(e.Selection.Type), ID: e.Selection.ID}
	}
	return m
}

func (h *adminHandler) getRooms(w http.ResponseWriter, r *http.Request) {
	ids := h.deps.Rooms.LiveWorkflows()
	rs := make([]RoomInfo, 0, len(ids))
	for _, id := range ids {
		members, live := h.deps.Rooms.Roster(r.Context(), id)
		if !live {
			if err := r.Context().Err(); err != nil {
				h.failed(w, r, err)
				return
			}
			continue // gone meanwhile
		}
		infos := make([]MemberInfo, 0, len(members))
		for _, e := range members {
			infos = append(infos, memberInfo(e))
		}
		locked, err := h.deps.Locks.IsLocked(r.Context(), id)
		if err != nil {
			h.failed(w, r, err)
			return
		}
		rs = append(rs, RoomInfo{WorkflowID: id, Locked: locked, Members: infos})
	}
	writeJSON(w, http.StatusOK, map[string]any{"rooms": rs})
}

// lifecycle queues a webhook event of typ, when webhooks are on. The
// change itself is done: a full or failing queue is logged (and metered)
// rather than failing the request.
func (h *adminHandler) lifecycle(id, typ string, actor *Actor) {
	if h.deps.Events == nil {
		return
	}
	var who string
	if actor != nil {
		who = actor.UserID
	}
	if err := h.deps.Events.Lifecycle(id, typ, who); err != nil {
		h.logger.Error("webhook event not queued", "workflow", id, "type", typ, "err", err)
	}
}
