package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/bolt"
	"github.com/flowsync/flowsync/sync/server"
)

// seedDataDir writes a store as a server leaves it: "logged" with two
// deltas in its log, "snapped" with a snapshot, "empty" created without
// content, "gone" deleted. It returns the time of the last edit.
func seedDataDir(t *testing.T, dir string) time.Time {
	t.Helper()
	s, err := bolt.Open(bolt.Config{Path: filepath.Join(dir, server.BoltFile)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return seedStore(t, s)
}

// catalogStore is a store with its catalog, as both persistent stores are.
type catalogStore interface {
	storage.Store
	storage.Catalog
}

// seedStore writes the workflows of seedDataDir into s.
func seedStore(t *testing.T, s catalogStore) time.Time {
	t.Helper()
	ctx := context.Background()
	clock := crdt.NewClock("r1")
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	add := func(id string, blocks ...string) *workflow.Doc {
		doc := workflow.New()
		for _, b := range blocks {
			d, err := doc.Apply(clock.Now(at.UnixMilli()), workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: b, Type: "agent", Name: b}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Append(ctx, id, []storage.Delta{storage.NewDelta(d.Encode())}); err != nil {
				t.Fatal(err)
			}
		}
		return doc
	}
	add("logged", "a", "b")
	if _, err := s.Snapshot(ctx, "snapped", add("snapped", "c")); err != nil {
		t.Fatal(err)
	}
	add("gone", "d")
	if err := s.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	return at
}

// Inspect lists every workflow of a data directory with its stored size,
// log rows, snapshot version, blocks and last change, and the deleted
// ones; the table says the same.
func TestInspectDataDir(t *testing.T) {
	dir := t.TempDir()
	at := seedDataDir(t, dir)
	inv, err := server.Inspect(context.Background(), server.Source{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]server.WorkflowSummary{}
	for _, w := range inv.Workflows {
		got[w.ID] = w
	}
	want := at.Format(time.RFC3339Nano)
	if w := got["logged"]; len(inv.Workflows) != 3 || w.LogRows != 2 || w.Blocks != 2 || w.Bytes == 0 || w.SnapshotVersion != 0 || w.LastChange != want {
		t.Fatalf("logged: %+v (of %+v)", w, inv.Workflows)
	}
	if w := got["snapped"]; w.LogRows != 0 || w.SnapshotVersion != 1 || w.Blocks != 1 || w.Bytes == 0 || w.LastChange != want {
		t.Fatalf("snapped: %+v", w)
	}
	if w := got["empty"]; w.Bytes != 0 || w.Blocks != 0 || w.LastChange != "" || w.Error != "" {
		t.Fatalf("empty: %+v", w)
	}
	if len(inv.Deleted) != 1 || inv.Deleted[0].ID != "gone" || inv.Deleted[0].DeletedAt.IsZero() {
		t.Fatalf("deleted: %+v", inv.Deleted)
	}
	var table bytes.Buffer
	if err := inv.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"3 workflows, 1 deleted", "LAST CHANGE", "logged", want, "gone", "deleted"} {
		if !strings.Contains(table.String(), s) {
			t.Errorf("table without %q:\n%s", s, table.String())
		}
	}
}

// A stored snapshot that fails its checksum is reported on its workflow,
// the others still listed, and Inspect fails.
func TestInspectReportsCorruptWorkflow(t *testing.T) {
	dir := t.TempDir()
	seedDataDir(t, dir)
	db, err := bbolt.Open(filepath.Join(dir, server.BoltFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		wf := tx.Bucket([]byte("workflows")).Bucket([]byte("snapped"))
		snap := append([]byte(nil), wf.Get([]byte("snapshot"))...)
		snap[len(snap)-1] ^= 0xff
		return wf.Put([]byte("snapshot"), snap)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	inv, err := server.Inspect(context.Background(), server.Source{DataDir: dir})
	if err == nil || inv == nil || len(inv.Workflows) != 3 {
		t.Fatalf("Inspect of a damaged store: %v, %+v", err, inv)
	}
	for _, w := range inv.Workflows {
		if (w.Error != "") != (w.ID == "snapped") {
			t.Errorf("%s: error %q", w.ID, w.Error)
		}
	}
	if err := server.Export(context.Background(), &bytes.Buffer{}, server.Source{DataDir: dir}, "snapped", server.FormatJSON); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("export of the damaged workflow: %v", err)
	}
}

// A log row whose bytes changed at rest no longer matches its key (the
// SHA-256 of the bytes written): Inspect reports it on its workflow even
// when the bytes still decode, and fails.
func TestInspectReportsDamagedLogRow(t *testing.T) {
	dir := t.TempDir()
	seedDataDir(t, dir)
	db, err := bbolt.Open(filepath.Join(dir, server.BoltFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		log := tx.Bucket([]byte("workflows")).Bucket([]byte("logged")).Bucket([]byte("log"))
		k, v := log.Cursor().First()
		v = append([]byte(nil), v...)
		v[len(v)-1] ^= 0x01
		return log.Put(append([]byte(nil), k...), v)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	inv, err := server.Inspect(context.Background(), server.Source{DataDir: dir})
	if err == nil || inv == nil || len(inv.Workflows) != 3 {
		t.Fatalf("Inspect of a damaged store: %v, %+v", err, inv)
	}
	for _, w := range inv.Workflows {
		if damaged := strings.Contains(w.Error, "1 of 2 log rows do not match their SHA-256 key"); damaged != (w.ID == "logged") {
			t.Errorf("%s: error %q", w.ID, w.Error)
		}
	}
}

// Export writes the view as JSON or the document as bytes; the bytes
// imported into another data directory give the same view, and importing
// again changes nothing. Unknown, deleted and undecodable cases are typed
// errors that write nothing.
func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	seedDataDir(t, dir)
	var view bytes.Buffer
	if err := server.Export(ctx, &view, server.Source{DataDir: dir}, "logged", server.FormatJSON); err != nil {
		t.Fatal(err)
	}
	var v struct {
		WorkflowID string `json:"workflowId"`
		View       struct {
			Blocks map[string]json.RawMessage `json:"blocks"`
		} `json:"view"`
	}
	if err := json.Unmarshal(view.Bytes(), &v); err != nil || v.WorkflowID != "logged" || len(v.View.Blocks) != 2 {
		t.Fatalf("JSON export %s: %v", view.String(), err)
	}
	var bin bytes.Buffer
	if err := server.Export(ctx, &bin, server.Source{DataDir: dir}, "logged", server.FormatBinary); err != nil {
		t.Fatal(err)
	}
	restored := t.TempDir()
	for range 2 {
		if err := server.Import(ctx, bytes.NewReader(bin.Bytes()), server.Source{DataDir: restored}, "logged", server.FormatBinary); err != nil {
			t.Fatal(err)
		}
	}
	var again bytes.Buffer
	if err := server.Export(ctx, &again, server.Source{DataDir: restored}, "logged", server.FormatJSON); err != nil {
		t.Fatal(err)
	}
	if again.String() != view.String() {
		t.Fatalf("restored view differs:\n%s\nwant\n%s", again.String(), view.String())
	}

	if err := server.Export(ctx, &bytes.Buffer{}, server.Source{DataDir: dir}, "never", server.FormatJSON); !errors.Is(err, server.ErrNoWorkflow) {
		t.Fatalf("unknown workflow: %v", err)
	}
	if err := server.Export(ctx, &bytes.Buffer{}, server.Source{DataDir: dir}, "gone", server.FormatBinary); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("deleted workflow: %v", err)
	}
	if err := server.Export(ctx, &bytes.Buffer{}, server.Source{DataDir: dir}, "logged", "xml"); err == nil {
		t.Fatal("format xml accepted")
	}
	if err := server.Import(ctx, strings.NewReader("not a document"), server.Source{DataDir: restored}, "other", server.FormatBinary); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("garbage import: %v", err)
	}
	if err := server.Export(ctx, &bytes.Buffer{}, server.Source{DataDir: restored}, "other", server.FormatJSON); !errors.Is(err, server.ErrNoWorkflow) {
		t.Fatalf("a refused import left workflow other behind: %v", err)
	}
	if err := server.Import(ctx, bytes.NewReader(bin.Bytes()), server.Source{DataDir: dir}, "gone", server.FormatBinary); !errors.Is(err, storage.ErrDeleted) {
		t.Fatalf("import into a deleted workflow: %v", err)
	}
}

// The tools refuse a data directory a server holds, saying what to do, and
// a directory without a store.
func TestDataDirToolsRefuseHeldOrMissingStore(t *testing.T) {
	dir := t.TempDir()
	seedDataDir(t, dir)
	held, err := bolt.Open(bolt.Config{Path: filepath.Join(dir, server.BoltFile)})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_, err = server.Inspect(context.Background(), server.Source{DataDir: dir})
	if !errors.Is(err, bolt.ErrLocked) || !strings.Contains(err.Error(), "Stop the flowsync server") {
		t.Fatalf("inspect of a held store: %v", err)
	}
	empty := t.TempDir()
	if _, err := server.Inspect(context.Background(), server.Source{DataDir: empty}); err == nil {
		t.Fatal("inspect of a directory without a store succeeded")
	}
	if matches, _ := filepath.Glob(filepath.Join(empty, "*")); len(matches) != 0 {
		t.Fatalf("a read-only tool created %v", matches)
	}
}
