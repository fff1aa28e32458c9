package server

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
)

// MinAdminSecretBytes is the shortest admin secret NewAdminHandler accepts.
const MinAdminSecretBytes = 32

// authorized compares the presented secret in constant time.
func (h *adminHandler) authorized(r *http.Request) bool {
	got := r.Header.Get("X-Api-Key")
	if a := r.Header.Get("Authorization"); got == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		got = a[7:]
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), h.cfg.Secret) == 1
}

// Actor is on whose behalf a change is made; nil is the system.
type Actor struct {
	UserID string `json:"userId"`
	Name   string `json:"name"`
}

func (a *Actor) id() string {
	if a == nil || a.UserID == "" {
		return "system"
	}
	return a.UserID
}

// audit writes one audit record of the API's own actions (the rooms audit
// the changes operations make). attrs must never hold tokens or document
// contents (values of sub-blocks or variables): ids and names of actions
// only.
func (h *adminHandler) audit(ctx context.Context, action, workflowID string, actor *Actor, attrs ...slog.Attr) {
	base := []slog.Attr{
		slog.Bool("audit", true),
		slog.String("action", action),
		slog.String("workflow", workflowID),
		slog.String("actor", actor.id()),
		slog.String("via", "admin-api"),
	}
	h.logger.LogAttrs(ctx, slog.LevelInfo, "audit", append(base, attrs...)...)
}
