package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
)

// The routes on one workflow (but its operations, admin_operations.go), and
// the room list.

func (h *adminHandler) getWorkflow(w http.ResponseWriter, r *http.Request) {
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	v, err := h.deps.Rooms.View(r.Context(), id)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"workflowId": id,
		"locked":     h.deps.Locks.IsLocked(id),
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
	h.deps.Locks.Unlock(id)
	h.audit(r.Context(), "workflow.delete", id, actor)
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
	// A workflow with no live room has no member to tell: none is loaded
	// for the event.
	_, live := h.deps.Rooms.SendEvent(r.Context(), id, kind, body.Message)
	writeJSON(w, http.StatusOK, map[string]any{"workflowId": id, "delivered": live})
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
		var changed bool
		action := "workflow.lock"
		if lock {
			changed = h.deps.Locks.Lock(id)
		} else {
			changed = h.deps.Locks.Unlock(id)
			action = "workflow.unlock"
		}
		if changed {
			h.audit(r.Context(), action, id, body.Actor)
		}
		writeJSON(w, http.StatusOK, map[string]any{"workflowId": id, "locked": lock, "changed": changed})
	}
}

// RoomInfo is one live room in GET /admin/v1/rooms.
type RoomInfo struct {
	WorkflowID string                 `json:"workflowId"`
	Locked     bool                   `json:"locked"`
	Members    []protocol.RosterEntry `json:"members"`
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
		if members == nil {
			members = []protocol.RosterEntry{}
		}
		rs = append(rs, RoomInfo{WorkflowID: id, Locked: h.deps.Locks.IsLocked(id), Members: members})
	}
	writeJSON(w, http.StatusOK, map[string]any{"rooms": rs})
}
