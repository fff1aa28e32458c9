package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/flowsync/flowsync/sync/protocol"
)

// exportWorkflow is GET /admin/v1/workflows/{id}/export?format=…: what
// `flowsync export` writes, from the live document (the room's, loaded if
// needed) instead of the store, so it holds edits not yet written and
// needs no stopped server.
func (h *adminHandler) exportWorkflow(w http.ResponseWriter, r *http.Request) {
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = FormatJSON
	}
	if format != FormatJSON && format != FormatBinary && format != FormatReference {
		writeError(w, http.StatusBadRequest, protocol.CodeInvalidOperation, "format must be json, binary or reference")
		return
	}
	exists, err := h.deps.Rooms.Exists(r.Context(), id)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	if !exists {
		writeError(w, http.StatusNotFound, protocol.CodeUnknownWorkflow, "no workflow "+strconv.Quote(id)+": never created nor written")
		return
	}
	doc, err := h.deps.Rooms.Document(r.Context(), id)
	if err != nil {
		h.failed(w, r, err)
		return
	}
	// Encoded in full before the status is sent, so a failure is still an
	// error answer.
	var buf bytes.Buffer
	switch format {
	case FormatBinary:
		buf.Write(doc.Encode())
		w.Header().Set("Content-Type", "application/octet-stream")
	case FormatReference:
		err = writeReference(&buf, doc.View())
		w.Header().Set("Content-Type", "application/json")
	default:
		err = json.NewEncoder(&buf).Encode(map[string]any{"workflowId": id, "view": doc.View()})
		w.Header().Set("Content-Type", "application/json")
	}
	if err != nil {
		h.failed(w, r, err)
		return
	}
	w.Header().Set("Content-Disposition", "attachment; filename="+strconv.Quote(id+exportExt(format)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func exportExt(format string) string {
	if format == FormatBinary {
		return ".fsdoc"
	}
	return ".json"
}
