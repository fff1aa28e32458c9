package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// The admin API: the application's backend drives flowsync through it (see
// docs/ADMIN_API.md). Every route is under /admin/v1/, authenticated by a
// shared secret (admin_auth.go), and answers JSON; errors are {code,
// message, retryable} with the codes of sync/protocol (admin_json.go). The
// routes are in admin_workflows.go, admin_operations.go, admin_export.go,
// admin_history.go and admin_access.go.
//
// The API is no member of any room: it asks the rooms through their typed
// requests (rooms.Registry.Apply, View, SendEvent, Roster), which the room
// loops answer like any other event, so nothing of it shows in a roster.

// AdminConfig configures the admin API. Zero fields mean their defaults.
type AdminConfig struct {
	// Secret is the shared secret, sent as "Authorization: Bearer <secret>"
	// or "X-Api-Key: <secret>". At least MinAdminSecretBytes. Required.
	Secret []byte
	// OperationTimeout bounds the wait for the room's answer to the
	// operations of one request (the room's load included), and then the
	// wait for them to be durable. Default: 10 s.
	OperationTimeout time.Duration
	// MaxBodyBytes caps a request body. Default: 4 MiB.
	MaxBodyBytes int64
	// MaxOperations caps the operations of one request. Default: 1000.
	MaxOperations int
	// Logger receives the audit records (audit=true) and errors. Never
	// given tokens, secrets or document contents. Default: discard.
	Logger *slog.Logger
}

// Defaults of AdminConfig.
const (
	DefaultAdminOperationTimeout = 10 * time.Second
	DefaultAdminMaxBodyBytes     = 4 << 20
	DefaultAdminMaxOperations    = 1000
)

// AdminRooms is what the admin API asks of the rooms (*rooms.Registry).
type AdminRooms interface {
	Apply(ctx context.Context, workflowID string, as rooms.Identity, ops []workflow.Op) (*rooms.Applied, error)
	View(ctx context.Context, workflowID string) (*workflow.View, error)
	Document(ctx context.Context, workflowID string) (*workflow.Doc, error)
	SendEvent(ctx context.Context, workflowID string, kind protocol.EventKind, msg string) (members int, live bool)
	Roster(ctx context.Context, workflowID string) ([]protocol.RosterEntry, bool)
	LiveWorkflows() []string
	Exists(ctx context.Context, workflowID string) (bool, error)
	DeleteWorkflow(ctx context.Context, workflowID string) error
	CreateWorkflow(ctx context.Context, workflowID string) error
}

// RoleChanger changes a user's roles on live sessions (*session.Handler).
type RoleChanger interface {
	SetRole(ctx context.Context, userID, workflowID string, role protocol.Role) (int, error)
	SetGrants(ctx context.Context, userID string, g session.Grants) (int, error)
}

// AdminDeps are what the admin API acts on; all are required.
type AdminDeps struct {
	// Rooms applies operations, reads views, sends events, lists the live
	// rooms and deletes workflows (through the cluster, when there is
	// one).
	Rooms AdminRooms
	// Roles changes roles on live sessions.
	Roles RoleChanger
	// Locks keeps the workflow locks that rooms.LockAdmission enforces
	// (*rooms.Registry: in the store, shared by the cluster).
	Locks WorkflowLocker
	// Events, when set, hears of deletes, lock changes and updated or
	// reverted events (the webhook dispatcher). Optional.
	Events WebhookEvents
	// History, when set, keeps checkpoints (the history manager): the
	// checkpoint routes answer 501 without it. Optional.
	History Checkpoints
}

// WorkflowLocker keeps workflow locks; *rooms.Registry implements it.
type WorkflowLocker interface {
	// SetLocked locks or unlocks a workflow and reports whether it was in
	// the other state before.
	SetLocked(ctx context.Context, workflowID string, locked bool) (bool, error)
	// IsLocked reports whether a workflow is locked.
	IsLocked(ctx context.Context, workflowID string) (bool, error)
}

// RegistryAdminDeps wires the admin API to a node's registry (which keeps
// the workflow locks) and session handler.
func RegistryAdminDeps(reg *rooms.Registry, sessions *session.Handler) AdminDeps {
	return AdminDeps{Rooms: reg, Roles: sessions, Locks: reg}
}

type adminHandler struct {
	cfg    AdminConfig
	deps   AdminDeps
	logger *slog.Logger
	mux    *http.ServeMux
}

// NewAdminHandler returns the admin API's handler; mount it at "/admin/".
// It returns an error when the secret is too short or a dependency is
// missing.
func NewAdminHandler(cfg AdminConfig, deps AdminDeps) (http.Handler, error) {
	if len(cfg.Secret) < MinAdminSecretBytes {
		return nil, fmt.Errorf("flowsync: the admin secret must be at least %d bytes (--admin-secret-file)", MinAdminSecretBytes)
	}
	if deps.Rooms == nil || deps.Roles == nil || deps.Locks == nil {
		return nil, errors.New("flowsync: NewAdminHandler needs Rooms, Roles and Locks")
	}
	if cfg.OperationTimeout <= 0 {
		cfg.OperationTimeout = DefaultAdminOperationTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultAdminMaxBodyBytes
	}
	if cfg.MaxOperations <= 0 {
		cfg.MaxOperations = DefaultAdminMaxOperations
	}
	cfg.Secret = append([]byte(nil), cfg.Secret...)
	h := &adminHandler{cfg: cfg, deps: deps, logger: cfg.Logger, mux: http.NewServeMux()}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	h.mux.HandleFunc("GET /admin/v1/workflows/{id}", h.getWorkflow)
	h.mux.HandleFunc("DELETE /admin/v1/workflows/{id}", h.deleteWorkflow)
	h.mux.HandleFunc("GET /admin/v1/workflows/{id}/export", h.exportWorkflow)
	h.mux.HandleFunc("PUT /admin/v1/workflows/{id}", h.putWorkflow)
	h.mux.HandleFunc("POST /admin/v1/workflows/{id}/operations", h.postOperations)
	h.mux.HandleFunc("POST /admin/v1/workflows/{id}/events", h.postEvent)
	h.mux.HandleFunc("POST /admin/v1/workflows/{id}/lock", h.lock(true))
	h.mux.HandleFunc("POST /admin/v1/workflows/{id}/unlock", h.lock(false))
	h.mux.HandleFunc("GET /admin/v1/workflows/{id}/checkpoints", h.listCheckpoints)
	h.mux.HandleFunc("POST /admin/v1/workflows/{id}/checkpoints", h.createCheckpoint)
	h.mux.HandleFunc("GET /admin/v1/workflows/{id}/checkpoints/{cp}", h.getCheckpoint)
	h.mux.HandleFunc("GET /admin/v1/workflows/{id}/diff", h.diffCheckpoints)
	h.mux.HandleFunc("POST /admin/v1/workflows/{id}/restore", h.restoreCheckpoint)
	h.mux.HandleFunc("PUT /admin/v1/users/{userId}/roles", h.putRoles)
	h.mux.HandleFunc("GET /admin/v1/rooms", h.getRooms)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{Code: "NOT_FOUND", Message: "no such route"})
	})
	return h, nil
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Robots-Tag", "noindex, nofollow")
	w.Header().Set("Cache-Control", "no-store")
	if !h.authorized(r) {
		writeError(w, http.StatusUnauthorized, protocol.CodeAuthenticationFailed, "missing or wrong admin secret")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
	h.mux.ServeHTTP(w, r)
}
