package server

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// The route that changes users' roles on the live sessions.

func (h *adminHandler) putRoles(w http.ResponseWriter, r *http.Request) {
	user, ok := h.pathID(w, r, "userId")
	if !ok {
		return
	}
	var body struct {
		WorkflowID *string `json:"workflowId"`
		Role       *string `json:"role"`
		Grants     *struct {
			All       string            `json:"all"`
			Workflows map[string]string `json:"workflows"`
		} `json:"grants"`
	}
	if !h.readJSON(w, r, &body, false) {
		return
	}
	role := func(s string) protocol.Role {
		if s == "none" {
			return ""
		}
		return protocol.Role(s)
	}
	var (
		n      int
		err    error
		action string
		attrs  []slog.Attr
	)
	switch {
	case body.Grants != nil && body.WorkflowID == nil && body.Role == nil:
		g := session.Grants{All: role(body.Grants.All)}
		for wf, rl := range body.Grants.Workflows {
			if g.Workflows == nil {
				g.Workflows = make(map[string]protocol.Role, len(body.Grants.Workflows))
			}
			g.Workflows[wf] = role(rl)
		}
		n, err = h.deps.Roles.SetGrants(r.Context(), user, g)
		action = "user.grants"
		attrs = []slog.Attr{slog.String("all", string(g.All)), slog.Int("workflows", len(g.Workflows))}
	case body.Grants == nil && body.WorkflowID != nil && body.Role != nil:
		if err := validID(*body.WorkflowID); err != nil && *body.WorkflowID != session.Wildcard {
			writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "workflowId: "+err.Error())
			return
		}
		n, err = h.deps.Roles.SetRole(r.Context(), user, *body.WorkflowID, role(*body.Role))
		action = "user.role"
		attrs = []slog.Attr{slog.String("role", string(role(*body.Role)))}
	default:
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, `send {"workflowId", "role"} or {"grants"}`)
		return
	}
	if errors.Is(err, session.ErrInvalidGrants) {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, err.Error())
		return
	}
	if err != nil {
		h.failed(w, r, err)
		return
	}
	wf := "*"
	if body.WorkflowID != nil {
		wf = *body.WorkflowID
	}
	h.audit(r.Context(), action, wf, nil, append(attrs, slog.String("user", user), slog.Int("sessions", n))...)
	writeJSON(w, http.StatusOK, map[string]any{"userId": user, "sessions": n})
}
