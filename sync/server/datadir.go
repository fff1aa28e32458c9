package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/bolt"
)

// The operator's tools on a data directory (`flowsync inspect`, `export`,
// `import`): they open the embedded store's file themselves, so they run
// while no server holds it (bbolt lets one process at a time open a file).

// Export formats.
const (
	FormatJSON   = "json"   // the workflow's view: blocks, edges, loops, parallels, variables
	FormatBinary = "binary" // the CRDT document (workflow.Encode): what Import takes back
)

// openDataDir opens the embedded store in dir, read-only unless write.
func openDataDir(dir string, write bool) (*bolt.Store, error) {
	path := filepath.Join(dir, BoltFile)
	s, err := bolt.Open(bolt.Config{Path: path, ReadOnly: !write, OpenTimeout: time.Second})
	if errors.Is(err, bolt.ErrLocked) {
		return nil, fmt.Errorf("flowsync: %w. Stop the flowsync server using --data-dir %s first (or work on a copy of the file)", err, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("flowsync: --data-dir %s: %w", dir, err)
	}
	return s, nil
}

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
	// Error says why the stored state does not load (a failed checksum or
	// decode); the other fields are what the file holds.
	Error string `json:"error,omitempty"`
}

// Inventory is what Inspect reports.
type Inventory struct {
	Path      string            `json:"path"`
	Workflows []WorkflowSummary `json:"workflows"`
	Deleted   []bolt.Tombstone  `json:"deleted"`
}

// Inspect lists the workflows of the embedded store in dir: sizes, log
// rows, snapshot version, blocks and last change. Every workflow is
// loaded, so its checksums are verified: one that fails says so in Error
// (and Inspect returns an error after listing everything).
func Inspect(ctx context.Context, dir string) (*Inventory, error) {
	s, err := openDataDir(dir, false)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	infos, tombs, err := s.Workflows(ctx)
	if err != nil {
		return nil, err
	}
	inv := &Inventory{Path: s.Path(), Workflows: make([]WorkflowSummary, 0, len(infos)), Deleted: tombs}
	if inv.Deleted == nil {
		inv.Deleted = []bolt.Tombstone{}
	}
	var bad int
	for _, in := range infos {
		ws := WorkflowSummary{ID: in.ID, Bytes: in.Bytes(), LogRows: in.LogRows, SnapshotVersion: in.SnapshotVersion}
		doc, err := s.Load(ctx, in.ID)
		if err != nil {
			ws.Error = err.Error()
			bad++
		} else {
			ws.Blocks = len(doc.View().Blocks)
			if latest := doc.Latest(); latest.Wall != 0 {
				ws.LastChange = time.UnixMilli(latest.Wall).UTC().Format(time.RFC3339Nano)
			}
		}
		inv.Workflows = append(inv.Workflows, ws)
	}
	if bad > 0 {
		return inv, fmt.Errorf("flowsync: %d of %d workflows do not load (see their error)", bad, len(infos))
	}
	return inv, nil
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

// Export writes workflow id of the embedded store in dir to w, in format
// (FormatJSON or FormatBinary). Loading it verifies its checksums. A
// deleted workflow is storage.ErrDeleted, one never created nor written
// ErrNoWorkflow.
func Export(ctx context.Context, w io.Writer, dir, id, format string) error {
	if format != FormatJSON && format != FormatBinary {
		return fmt.Errorf("flowsync: --format %q is not json or binary", format)
	}
	s, err := openDataDir(dir, false)
	if err != nil {
		return err
	}
	defer s.Close()
	doc, err := s.Load(ctx, id)
	if err != nil {
		return fmt.Errorf("flowsync: workflow %q: %w", id, err)
	}
	if ok, err := s.Exists(ctx, id); err != nil || !ok {
		return errors.Join(fmt.Errorf("%w: %q", ErrNoWorkflow, id), err)
	}
	if format == FormatBinary {
		_, err = w.Write(doc.Encode())
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(map[string]any{"workflowId": id, "view": doc.View()})
}

// Import joins the document in r (FormatBinary, as Export writes it) into
// workflow id of the embedded store in dir, creating the workflow if
// needed. A join, never a replace: what the store holds stays, so
// importing into a live copy loses nothing, and importing twice changes
// nothing. Bytes that do not decode are storage.ErrCorrupt, and nothing is
// written; a deleted workflow is storage.ErrDeleted.
func Import(ctx context.Context, r io.Reader, dir, id string) error {
	b, err := io.ReadAll(io.LimitReader(r, int64(workflow.DocLimits.MaxBytes)+1))
	if err != nil {
		return err
	}
	if len(b) > workflow.DocLimits.MaxBytes {
		return fmt.Errorf("flowsync: %w: over %d bytes", storage.ErrCorrupt, workflow.DocLimits.MaxBytes)
	}
	doc, err := workflow.Decode(b, workflow.DocLimits)
	if err != nil {
		return fmt.Errorf("flowsync: %w: %w", storage.ErrCorrupt, err)
	}
	if err := storage.CheckWorkflowID(id); err != nil {
		return err
	}
	s, err := openDataDir(dir, true)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Create(ctx, id); err != nil {
		return fmt.Errorf("flowsync: workflow %q: %w", id, err)
	}
	if _, err := s.Snapshot(ctx, id, doc); err != nil {
		return fmt.Errorf("flowsync: workflow %q: %w", id, err)
	}
	return nil
}
