package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
)

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
	msg := errorMessage(err)
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

// errorMessage is the message of err for a client, as a Nack carries it:
// a *protocol.Error's own message, else the error's text, at most
// protocol.MaxTextBytes.
func errorMessage(err error) string {
	msg := err.Error()
	var pe *protocol.Error
	if errors.As(err, &pe) {
		msg = pe.Message
	}
	if len(msg) > protocol.MaxTextBytes {
		msg = msg[:protocol.MaxTextBytes]
	}
	return msg
}

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
