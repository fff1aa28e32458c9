package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
)

// The operator's tools (`flowsync inspect`, `export`, `import`) on a data
// directory or a Postgres database (Source, toolsource.go). They open the
// store themselves: a data directory while no server holds it (bbolt lets
// one process at a time open a file), a Postgres database while servers
// run on it.

// Export and import formats.
const (
	FormatJSON   = "json"   // the workflow's view: blocks, edges, loops, parallels, variables, order
	FormatBinary = "binary" // the CRDT document (workflow.Encode): what Import takes back as a join
	// FormatReference is the reference system's workflow state: blocks
	// (with positions and sub-blocks), edges, loops, parallels and
	// variables. Importing one is an edit that replaces the content
	// (reference.go).
	FormatReference = "reference"
)

// WorkflowSummary is one workflow of Inspect.
type WorkflowSummary struct {
	ID              string `json:"workflowId"`
	Bytes           int    `json:"bytes"` // stored: snapshot and log rows
	LogRows         int    `json:"logRows"`
	SnapshotVersion uint64 `json:"snapshotVersion"`
	Blocks          int    `json:"blocks"`
	// LastChange is the time of the latest value the document holds (a
	// removal leaves no value, so a delete is not seen); empty when the
	// document holds none.
	LastChange string `json:"lastChange,omitempty"`
	// Error says why the stored state does not load or is damaged (a failed
	// checksum or decode); the other fields are what the store holds.
	Error string `json:"error,omitempty"`
}

// Inventory is what Inspect reports.
type Inventory struct {
	Store     string            `json:"store"` // StoreBolt or StorePostgres
	Path      string            `json:"path"`  // the file, or the URL without its password
	Workflows []WorkflowSummary `json:"workflows"`
	Deleted   []Tombstone       `json:"deleted"`
}

// Inspect lists the workflows of src: sizes, log rows, snapshot version,
// blocks and last change. Every workflow is loaded, so its checksums are
// verified (and, on Postgres, every log row's key against its bytes): one
// that fails says so in Error, and Inspect returns an error after listing
// everything.
func Inspect(ctx context.Context, src Source) (*Inventory, error) {
	o, err := openSource(ctx, src, false)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	infos, tombs, err := o.list(ctx)
	if err != nil {
		return nil, err
	}
	inv := &Inventory{Store: o.kind, Path: o.where, Workflows: make([]WorkflowSummary, 0, len(infos)), Deleted: tombs}
	if inv.Deleted == nil {
		inv.Deleted = []Tombstone{}
	}
	var bad int
	for _, in := range infos {
		ws := WorkflowSummary{ID: in.ID, Bytes: in.Bytes, LogRows: in.LogRows, SnapshotVersion: in.SnapshotVersion}
		doc, err := o.store.Load(ctx, in.ID)
		switch {
		case errors.Is(err, storage.ErrDeleted):
			continue // deleted between the listing and the load (Postgres, live)
		case err != nil:
			ws.Error = err.Error()
		default:
			ws.Blocks = len(doc.View().Blocks)
			if latest := doc.Latest(); latest.Wall != 0 {
				ws.LastChange = time.UnixMilli(latest.Wall).UTC().Format(time.RFC3339Nano)
			}
		}
		if in.Damage != "" {
			ws.Error = joinMsg(ws.Error, in.Damage)
		}
		if ws.Error != "" {
			bad++
		}
		inv.Workflows = append(inv.Workflows, ws)
	}
	if err := ctx.Err(); err != nil {
		return inv, err
	}
	if bad > 0 {
		return inv, fmt.Errorf("flowsync: %d of %d workflows do not load or are damaged (see their error)", bad, len(inv.Workflows))
	}
	return inv, nil
}

func joinMsg(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// WriteTable writes inv for a terminal.
func (inv *Inventory) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "# %s: %d workflows, %d deleted\n", inv.Path, len(inv.Workflows), len(inv.Deleted))
	fmt.Fprintln(tw, "WORKFLOW\tBYTES\tLOG ROWS\tSNAPSHOT\tBLOCKS\tLAST CHANGE\t")
	for _, ws := range inv.Workflows {
		last := ws.LastChange
		if ws.Error != "" {
			last = "ERROR: " + ws.Error
		} else if last == "" {
			last = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t\n", ws.ID, ws.Bytes, ws.LogRows, ws.SnapshotVersion, ws.Blocks, last)
	}
	for _, t := range inv.Deleted {
		fmt.Fprintf(tw, "%s\t-\t-\t-\t-\tdeleted %s\t\n", t.ID, t.DeletedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

// ErrNoWorkflow: Export of a workflow the store does not hold.
var ErrNoWorkflow = errors.New("flowsync: no such workflow in the store")

// Export writes workflow id of src to w, in format (FormatJSON,
// FormatBinary or FormatReference). Loading it verifies its checksums. A
// deleted workflow is storage.ErrDeleted, one never created nor written
// ErrNoWorkflow.
func Export(ctx context.Context, w io.Writer, src Source, id, format string) error {
	if format != FormatJSON && format != FormatBinary && format != FormatReference {
		return fmt.Errorf("flowsync: --format %q is not json, binary or reference", format)
	}
	o, err := openSource(ctx, src, false)
	if err != nil {
		return err
	}
	defer o.Close()
	doc, err := o.store.Load(ctx, id)
	if err != nil {
		return fmt.Errorf("flowsync: workflow %q: %w", id, err)
	}
	if ok, err := o.store.Exists(ctx, id); err != nil || !ok {
		return errors.Join(fmt.Errorf("%w: %q", ErrNoWorkflow, id), err)
	}
	switch format {
	case FormatBinary:
		_, err = w.Write(doc.Encode())
		return err
	case FormatReference:
		return writeReference(w, doc.View())
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"workflowId": id, "view": doc.View()})
}

// Import writes the document in r into workflow id of src, creating the
// workflow if needed; a deleted workflow is storage.ErrDeleted (deleted
// stays deleted). Input that does not decode is refused (a binary one with
// storage.ErrCorrupt, a reference one with workflow.ErrInvalid) and
// nothing is written.
//
// FormatBinary (what Export writes) is a join, never a replace: what the
// store holds stays, so importing into a live copy loses nothing, and
// importing twice changes nothing. FormatReference is an edit that
// replaces the content (importReference).
//
// Both write through the store's Snapshot, which joins with what is
// stored (on Postgres under its version fence, so it composes with
// servers snapshotting the same workflow). A clustered server's open room
// merges the result on its next periodic store reload; a room of a server
// without a cluster shows it when it next loads the workflow.
func Import(ctx context.Context, r io.Reader, src Source, id, format string) error {
	if format != FormatBinary && format != FormatReference {
		return fmt.Errorf("flowsync: --format %q is not binary or reference", format)
	}
	limit := workflow.DocLimits.MaxBytes
	if format == FormatReference {
		limit = maxReferenceBytes
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return err
	}
	if len(b) > limit {
		return fmt.Errorf("flowsync: %w: the input is over %d bytes", storage.ErrCorrupt, limit)
	}
	if err := storage.CheckWorkflowID(id); err != nil {
		return err
	}
	var state map[string]any
	var doc *workflow.Doc
	if format == FormatReference {
		if state, err = parseReference(b); err != nil {
			return err
		}
	} else if doc, err = workflow.Decode(b, workflow.DocLimits); err != nil {
		return fmt.Errorf("flowsync: %w: %w", storage.ErrCorrupt, err)
	}
	o, err := openSource(ctx, src, true)
	if err != nil {
		return err
	}
	defer o.Close()
	if format == FormatReference {
		// The edit is made before anything is written, so a state it
		// refuses leaves no workflow behind.
		if doc, err = referenceEdit(ctx, o.store, id, state); err != nil {
			return fmt.Errorf("flowsync: workflow %q: %w", id, err)
		}
	}
	if err := o.store.Create(ctx, id); err != nil {
		return fmt.Errorf("flowsync: workflow %q: %w", id, err)
	}
	if _, err := o.store.Snapshot(ctx, id, doc); err != nil {
		return fmt.Errorf("flowsync: workflow %q: %w", id, err)
	}
	return nil
}
