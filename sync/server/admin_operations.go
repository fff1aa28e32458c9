package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
)

// POST /admin/v1/workflows/{id}/operations: operations in the reference's
// vocabulary, run by the room as a thin client's Operation frames are
// (rooms.Registry.Apply), on behalf of an actor that is no member.

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
	// still apply) or "skipped" (not run: an earlier one failed).
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
	as, ok := actorIdentity(w, body.Actor, body.Role)
	if !ok {
		return
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

	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.OperationTimeout)
	defer cancel()
	applied, err := h.deps.Rooms.Apply(ctx, id, as, ops)
	results := make([]OperationResult, len(ops))
	for i := range results {
		results[i] = OperationResult{Index: i, Status: "skipped"}
	}
	var fail *apiError
	status := http.StatusOK
	switch {
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		// The room did not answer in time (a slow load, a full inbox). It
		// runs nothing once the deadline has passed, but may have begun.
		fail = &apiError{Code: protocol.CodeOverloaded.String(), Message: "no answer from the room in time; the operations may still apply", Retryable: true}
		results[0].Status, results[0].apiError = "timeout", fail
		status = http.StatusServiceUnavailable
	case err != nil:
		h.failed(w, r, err)
		return
	default:
		for i, res := range applied.Results {
			if res.Applied() {
				results[i].Status = "applied"
				continue
			}
			fail = &apiError{Code: res.Code.String(), Message: errorMessage(res.Err), Retryable: res.Code.Retryable()}
			results[i].Status, results[i].apiError = "refused", fail
			status = statusFor(res.Code)
		}
		if h.awaitDurable(r, applied) {
			for i := range applied.Results {
				results[i].Durable = applied.Results[i].Applied()
			}
		}
	}
	out := map[string]any{"workflowId": id, "results": results}
	if fail != nil {
		out["code"], out["message"], out["retryable"] = fail.Code, fail.Message, fail.Retryable
	}
	writeJSON(w, status, out)
}

// actorIdentity is the identity the operations run as. The system acts as
// admin; a user as write unless the backend says admin (it vouches for the
// user's role).
func actorIdentity(w http.ResponseWriter, a *Actor, role string) (rooms.Identity, bool) {
	if a == nil {
		return rooms.Identity{UserID: "system", Name: "System", Role: protocol.RoleAdmin}, true
	}
	if err := validID(a.UserID); err != nil {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "actor.userId: "+err.Error())
		return rooms.Identity{}, false
	}
	if len(a.Name) > protocol.MaxTextBytes {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "actor.name is too long")
		return rooms.Identity{}, false
	}
	id := rooms.Identity{UserID: a.UserID, Name: a.Name, Role: protocol.RoleWrite}
	switch role {
	case "", "write":
	case "admin":
		id.Role = protocol.RoleAdmin
	default:
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, `role must be "write" or "admin"`)
		return rooms.Identity{}, false
	}
	return id, true
}

// awaitDurable waits, at most OperationTimeout, for the applied operations
// to be durable, and reports whether they are. Not durable is no failure
// of the request: the operations are applied, and the answer says whether
// they are durable yet.
func (h *adminHandler) awaitDurable(r *http.Request, applied *rooms.Applied) bool {
	t := time.NewTimer(h.cfg.OperationTimeout)
	defer t.Stop()
	select {
	case err := <-applied.Durable:
		if err != nil {
			h.logger.Warn("admin operations applied but not made durable", "path", r.URL.Path, "err", err)
		}
		return err == nil
	case <-t.C:
		return false
	case <-r.Context().Done():
		return false
	}
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
