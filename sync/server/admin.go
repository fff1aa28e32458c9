package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// The admin API: the application's backend drives flowsync through it (see
// README "Admin API"). Every route is under /admin/v1/, authenticated by a
// shared secret, and answers JSON; errors are {code, message, retryable}
// with the codes of sync/protocol.

// MinAdminSecretBytes is the shortest admin secret NewAdminHandler accepts.
const MinAdminSecretBytes = 32

// AdminConfig configures the admin API. Zero fields mean their defaults.
type AdminConfig struct {
	// Secret is the shared secret, sent as "Authorization: Bearer <secret>"
	// or "X-Api-Key: <secret>". At least MinAdminSecretBytes. Required.
	Secret []byte
	// OperationTimeout bounds the wait for each operation's Applied or
	// Nack, and then for the Durable of the applied ones. Default: 10 s.
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

// RoomJoiner is how the admin API applies operations: it joins the room as
// a system member and submits them like a thin client (*rooms.Registry).
type RoomJoiner interface {
	Join(ctx context.Context, workflowID string, m rooms.Member, opts rooms.JoinOptions) (*rooms.Room, [][]byte, error)
}

// RoleChanger changes a user's roles on live sessions (*session.Handler).
type RoleChanger interface {
	SetRole(ctx context.Context, userID, workflowID string, role protocol.Role) (int, error)
	SetGrants(ctx context.Context, userID string, g session.Grants) (int, error)
}

// RoomInfo is one live room in GET /admin/v1/rooms.
type RoomInfo struct {
	WorkflowID string                 `json:"workflowId"`
	Locked     bool                   `json:"locked"`
	Members    []protocol.RosterEntry `json:"members"`
}

// AdminDeps are what the admin API acts on. Rooms, View, Roles, Locks and
// ListRooms are required; Event and Delete default to nothing (routes
// answer 503).
type AdminDeps struct {
	// Rooms applies operations (POST .../operations).
	Rooms RoomJoiner
	// View returns a workflow's current view: the live room's document or
	// the stored one (RegistryView).
	View func(ctx context.Context, workflowID string) (*workflow.View, error)
	// Event sends a lifecycle event to the workflow's live room; it
	// reports whether a room was live (RegistryEvent).
	Event func(workflowID string, kind protocol.EventKind, msg string) bool
	// Delete deletes a workflow (rooms.Registry.DeleteWorkflow).
	Delete func(ctx context.Context, workflowID string) error
	// Roles changes roles on live sessions.
	Roles RoleChanger
	// Locks holds the locked workflows that rooms.LockAdmission enforces.
	Locks *rooms.WorkflowLocks
	// ListRooms lists the live rooms with their members.
	ListRooms func(ctx context.Context) ([]RoomInfo, error)
}

type adminHandler struct {
	cfg    AdminConfig
	deps   AdminDeps
	logger *slog.Logger
	mux    *http.ServeMux
}

// NewAdminHandler returns the admin API's handler; mount it at "/admin/".
// It returns an error when the secret is too short or a required
// dependency is missing.
func NewAdminHandler(cfg AdminConfig, deps AdminDeps) (http.Handler, error) {
	if len(cfg.Secret) < MinAdminSecretBytes {
		return nil, fmt.Errorf("flowsync: the admin secret must be at least %d bytes (--admin-secret-file)", MinAdminSecretBytes)
	}
	switch {
	case deps.Rooms == nil, deps.View == nil, deps.Roles == nil, deps.Locks == nil, deps.ListRooms == nil:
		return nil, errors.New("flowsync: NewAdminHandler needs Rooms, View, Roles, Locks and ListRooms")
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
	h.mux.HandleFunc("POST /admin/v1/workflows/{id}/operations", h.postOperations)
	h.mux.HandleFunc("POST /admin/v1/workflows/{id}/events", h.postEvent)
	h.mux.HandleFunc("POST /admin/v1/workflows/{id}/lock", h.lock(true))
	h.mux.HandleFunc("POST /admin/v1/workflows/{id}/unlock", h.lock(false))
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

// authorized compares the presented secret in constant time.
func (h *adminHandler) authorized(r *http.Request) bool {
	got := r.Header.Get("X-Api-Key")
	if a := r.Header.Get("Authorization"); got == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		got = a[7:]
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), h.cfg.Secret) == 1
}

// ---- errors --------------------------------------------------------------

// apiError is the JSON error body.
type apiError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

func writeError(w http.ResponseWriter, status int, code protocol.Code, msg string) {
	writeJSON(w, status, apiError{Code: code.String(), Message: msg, Retryable: code.Retryable()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// statusFor maps a protocol code to the HTTP status of the admin API.
func statusFor(c protocol.Code) int {
	switch c {
	case protocol.CodeAuthenticationFailed, protocol.CodeAuthenticationRequired:
		return http.StatusUnauthorized
	case protocol.CodePermissionDenied, protocol.CodeAccessDenied:
		return http.StatusForbidden
	case protocol.CodeUnknownWorkflow, protocol.CodeWorkflowDeleted, protocol.CodeUnknownEntity:
		return http.StatusNotFound
	case protocol.CodeWorkflowLocked, protocol.CodeBlockLocked:
		return http.StatusLocked
	case protocol.CodeConflict, protocol.CodePreconditionFailed, protocol.CodeNoEffect:
		return http.StatusConflict
	case protocol.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	if c.Retryable() {
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// failed answers err with its code (rooms.ErrorCode) and status.
func (h *adminHandler) failed(w http.ResponseWriter, r *http.Request, err error) {
	code := rooms.ErrorCode(err)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		code = protocol.CodeOverloaded
	}
	msg := err.Error()
	var pe *protocol.Error
	if errors.As(err, &pe) {
		msg = pe.Message
	}
	switch {
	case code == protocol.CodeInternal:
		h.logger.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	case code.Retryable():
		// Store and transport errors stay in the log, not the answer.
		h.logger.Warn("admin request failed; retryable", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "temporarily unavailable: " + code.String()
	}
	writeError(w, statusFor(code), code, msg)
}

// ---- input ---------------------------------------------------------------

// validID checks a workflow or user id from the path: 1–256 bytes of
// UTF-8, no control characters, no path separators or dot segments, so an
// id can never reach a log line, a store key or a URL as something else.
func validID(id string) error {
	switch {
	case id == "" || len(id) > protocol.MaxIDBytes:
		return fmt.Errorf("id must be 1 to %d bytes", protocol.MaxIDBytes)
	case !utf8.ValidString(id):
		return errors.New("id is not valid UTF-8")
	case id == "." || id == "..":
		return errors.New("id is a dot segment")
	}
	for _, r := range id {
		if unicode.IsControl(r) || r == '/' || r == '\\' {
			return errors.New("id holds a control character or a path separator")
		}
	}
	return nil
}

func (h *adminHandler) pathID(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	id := r.PathValue(name)
	if err := validID(id); err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, name+": "+err.Error())
		return "", false
	}
	return id, true
}

// readJSON decodes the body into v; an empty body leaves v as is when
// optional.
func (h *adminHandler) readJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	dec.UseNumber()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) && optional {
		return true
	}
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON value")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, protocol.CodeTooLarge, fmt.Sprintf("body over %d bytes", tooBig.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "body: "+err.Error())
		return false
	}
	return true
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

// ---- audit ---------------------------------------------------------------

// audit writes one audit record. attrs must never hold tokens or document
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

// ---- routes --------------------------------------------------------------

func (h *adminHandler) getWorkflow(w http.ResponseWriter, r *http.Request) {
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	v, err := h.deps.View(r.Context(), id)
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
	if h.deps.Delete == nil {
		writeError(w, http.StatusServiceUnavailable, protocol.CodeOverloaded, "delete is not configured")
		return false
	}
	if err := h.deps.Delete(r.Context(), id); err != nil {
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
	if h.deps.Event == nil {
		writeError(w, http.StatusServiceUnavailable, protocol.CodeOverloaded, "events are not configured")
		return
	}
	live := h.deps.Event(id, kind, body.Message)
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

func (h *adminHandler) getRooms(w http.ResponseWriter, r *http.Request) {
	rs, err := h.deps.ListRooms(r.Context())
	if err != nil {
		h.failed(w, r, err)
		return
	}
	for i := range rs {
		rs[i].Locked = h.deps.Locks.IsLocked(rs[i].WorkflowID)
		if rs[i].Members == nil {
			rs[i].Members = []protocol.RosterEntry{}
		}
	}
	if rs == nil {
		rs = []RoomInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rooms": rs})
}

// ---- operations ----------------------------------------------------------

// OperationInput is one operation of POST .../operations, in the
// vocabulary of the system flowsync replaces (workflow.ParseOp), so the
// application's backend sends what it sent before.
type OperationInput struct {
	Operation string         `json:"operation"`
	Target    string         `json:"target"`
	Payload   map[string]any `json:"payload"`
}

// OperationResult is the outcome of one operation.
type OperationResult struct {
	Index int `json:"index"`
	// Status is "applied", "refused", "timeout" (no answer in time: it may
	// still apply) or "skipped" (not sent: an earlier one failed).
	Status  string `json:"status"`
	Durable bool   `json:"durable,omitempty"`
	*apiError
}

func (h *adminHandler) postOperations(w http.ResponseWriter, r *http.Request) {
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	var body struct {
		Actor      *Actor           `json:"actor"`
		Role       string           `json:"role"`
		Operations []OperationInput `json:"operations"`
	}
	if !h.readJSON(w, r, &body, false) {
		return
	}
	switch {
	case len(body.Operations) == 0:
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "no operations")
		return
	case len(body.Operations) > h.cfg.MaxOperations:
		writeError(w, http.StatusRequestEntityTooLarge, protocol.CodeTooLarge, fmt.Sprintf("more than %d operations", h.cfg.MaxOperations))
		return
	}
	if a := body.Actor; a != nil {
		if err := validID(a.UserID); err != nil {
			writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "actor.userId: "+err.Error())
			return
		}
		if len(a.Name) > protocol.MaxTextBytes {
			writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "actor.name is too long")
			return
		}
	}
	// The system acts as admin; a user as write unless the backend says
	// admin (it vouches for the user's role).
	role := protocol.RoleAdmin
	if body.Actor != nil {
		role = protocol.RoleWrite
		switch body.Role {
		case "", "write":
		case "admin":
			role = protocol.RoleAdmin
		default:
			writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, `role must be "write" or "admin"`)
			return
		}
	}
	// Parse every operation first: a malformed request changes nothing.
	ops := make([]workflow.Op, len(body.Operations))
	for i, in := range body.Operations {
		op, err := workflow.ParseOp(in.Operation, in.Target, normalizeNumbers(in.Payload).(map[string]any))
		if err != nil {
			code := protocol.CodeFor(err)
			writeError(w, statusFor(code), code, fmt.Sprintf("operations[%d]: %v", i, err))
			return
		}
		ops[i] = op
	}
	m := newSystemMember(body.Actor, role, len(ops))
	rm, _, err := h.deps.Rooms.Join(r.Context(), id, m, rooms.JoinOptions{})
	if err != nil {
		h.failed(w, r, err)
		return
	}
	defer rm.Leave(m)

	results := make([]OperationResult, len(ops))
	var applied []string
	var fail *apiError
	status := http.StatusOK
	for i, op := range ops {
		results[i].Index = i
		if fail != nil {
			results[i].Status = "skipped"
			continue
		}
		opID := m.opID(i)
		rm.SubmitOperation(m, opID, op)
		ans, err := m.await(r.Context(), opID, h.cfg.OperationTimeout)
		switch {
		case err != nil:
			results[i].Status = "timeout"
			fail = &apiError{Code: protocol.CodeOverloaded.String(), Message: "no answer from the room in time; the operation may still apply", Retryable: true}
			results[i].apiError = fail
			status = http.StatusServiceUnavailable
		case ans.nack != nil:
			results[i].Status = "refused"
			fail = &apiError{Code: ans.nack.Code.String(), Message: ans.nack.Message, Retryable: ans.nack.Retryable}
			results[i].apiError = fail
			status = statusFor(ans.nack.Code)
		default:
			results[i].Status = "applied"
			applied = append(applied, opID)
		}
	}
	durable := m.awaitDurable(r.Context(), applied, h.cfg.OperationTimeout)
	for i := range results {
		if results[i].Status == "applied" {
			results[i].Durable = durable[m.opID(i)]
		}
	}
	out := map[string]any{"workflowId": id, "results": results}
	if fail != nil {
		out["code"], out["message"], out["retryable"] = fail.Code, fail.Message, fail.Retryable
	}
	writeJSON(w, status, out)
}

// normalizeNumbers turns json.Number into int64 or float64, the shapes
// workflow.ParseOp reads.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
		if x == nil {
			return map[string]any{}
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
		return x
	case nil:
		return map[string]any(nil)
	}
	return v
}

// ---- the system member -----------------------------------------------------

// systemMember is the admin API's rooms.Member: it joins the room for one
// request, submits operations like a thin client and collects the answers.
// Enqueue never blocks and never reports a full queue: it keeps only the
// answers to its own operations (a bounded number) and drops every other
// frame.
type systemMember struct {
	sid string
	id  rooms.Identity

	answers chan answer // Applied/Nack, one per operation
	durable chan []string
	closed  chan struct{}
	closing sync.Once
}

type answer struct {
	opID string
	nack *protocol.Nack
}

func newSystemMember(a *Actor, role protocol.Role, maxOps int) *systemMember {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := rooms.Identity{UserID: "system", Name: "System", Role: role}
	if a != nil {
		id.UserID, id.Name = a.UserID, a.Name
	}
	return &systemMember{
		sid:     "admin-" + hex.EncodeToString(b[:]),
		id:      id,
		answers: make(chan answer, 1),
		durable: make(chan []string, maxOps), // at most one Durable per operation
		closed:  make(chan struct{}),
	}
}

func (m *systemMember) opID(i int) string                { return m.sid + "-" + strconv.Itoa(i) }
func (m *systemMember) SessionID() string                { return m.sid }
func (m *systemMember) Identity() rooms.Identity         { return m.id }
func (m *systemMember) Close(protocol.CloseCode, string) { m.closeOnce() }

func (m *systemMember) closeOnce() { m.closing.Do(func() { close(m.closed) }) }

// Enqueue keeps the answers to this member's operations and drops the
// rest; it never blocks (the sends are non-blocking).
func (m *systemMember) Enqueue(frame []byte) bool {
	f, err := protocol.Decode(frame, protocol.Limits{MaxFrameBytes: len(frame) + 1})
	if err != nil {
		return true
	}
	switch f := f.(type) {
	case *protocol.Applied:
		if strings.HasPrefix(f.OpID, m.sid) {
			select {
			case m.answers <- answer{opID: f.OpID}:
			default:
			}
		}
	case *protocol.Nack:
		if strings.HasPrefix(f.OpID, m.sid) {
			select {
			case m.answers <- answer{opID: f.OpID, nack: f}:
			default:
			}
		}
	case *protocol.Durable:
		select {
		case m.durable <- f.OpIDs:
		default:
		}
	case *protocol.Event:
		if f.Kind == protocol.EventWorkflowDeleted || f.Kind == protocol.EventAccessRevoked {
			m.closeOnce()
		}
	}
	return true
}

// await waits for the Applied or Nack of opID. Operations are submitted one
// at a time, so the next answer is opID's.
func (m *systemMember) await(ctx context.Context, opID string, timeout time.Duration) (answer, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case a := <-m.answers:
			if a.opID == opID {
				return a, nil
			}
		case <-m.closed:
			return answer{}, errors.New("closed by the room")
		case <-t.C:
			return answer{}, context.DeadlineExceeded
		case <-ctx.Done():
			return answer{}, ctx.Err()
		}
	}
}

// awaitDurable waits until every op of ids is durable, or the timeout;
// it returns which are.
func (m *systemMember) awaitDurable(ctx context.Context, ids []string, timeout time.Duration) map[string]bool {
	got := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return got
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case d := <-m.durable:
			for _, id := range d {
				got[id] = true
			}
			if len(got) >= len(ids) {
				return got
			}
		case <-m.closed:
			return got
		case <-t.C:
			return got
		case <-ctx.Done():
			return got
		}
	}
}

// ---- wiring helpers --------------------------------------------------------

// RegistryView returns AdminDeps.View over a registry and its store: the
// live room's document when the workflow is loaded, else the stored one.
func RegistryView(reg *rooms.Registry, store storage.Store) func(context.Context, string) (*workflow.View, error) {
	return func(ctx context.Context, id string) (*workflow.View, error) {
		if rm := reg.Room(id); rm != nil {
			if doc, err := rm.Snapshot(ctx); err == nil {
				return doc.View(), nil
			} else if !errors.Is(err, rooms.ErrClosed) {
				return nil, err
			}
		}
		doc, err := store.Load(ctx, id)
		if err != nil {
			if errors.Is(err, storage.ErrDeleted) {
				return nil, err
			}
			return nil, errors.Join(rooms.ErrLoad, err)
		}
		return doc.View(), nil
	}
}

// RegistryEvent returns AdminDeps.Event over a registry: the event goes to
// the live room, if any.
func RegistryEvent(reg *rooms.Registry) func(string, protocol.EventKind, string) bool {
	return func(id string, kind protocol.EventKind, msg string) bool {
		rm := reg.Room(id)
		if rm == nil {
			return false
		}
		rm.Event(kind, msg)
		return true
	}
}

// RegistryRooms returns AdminDeps.ListRooms over a registry. members, when
// not nil, returns a live room's roster; without it rooms are listed with
// no members (the rooms package has no roster query yet: see Room.Roster
// in the admin API notes).
func RegistryRooms(reg *rooms.Registry, members func(ctx context.Context, workflowID string) ([]protocol.RosterEntry, error)) func(context.Context) ([]RoomInfo, error) {
	return func(ctx context.Context) ([]RoomInfo, error) {
		ids := reg.LiveWorkflows()
		out := make([]RoomInfo, 0, len(ids))
		for _, id := range ids {
			ri := RoomInfo{WorkflowID: id}
			if members != nil {
				ms, err := members(ctx, id)
				if errors.Is(err, rooms.ErrClosed) {
					continue // gone meanwhile
				}
				if err != nil {
					return nil, err
				}
				ri.Members = ms
			}
			out = append(out, ri)
		}
		return out, nil
	}
}
