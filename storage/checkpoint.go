package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// ErrNoCheckpoint is returned by CheckpointStore.LoadCheckpoint for an id
// the workflow has no checkpoint under (never made, or dropped by
// retention).
var ErrNoCheckpoint = errors.New("storage: no such checkpoint")

// ErrInvalidCheckpoint is returned by CheckpointStore.SaveCheckpoint for a
// checkpoint CheckCheckpoint refuses; nothing is stored.
var ErrInvalidCheckpoint = errors.New("storage: invalid checkpoint")

// Checkpoint limits, checked by CheckCheckpoint.
const (
	MaxCheckpointNameLen = 128 // bytes of a checkpoint's name
	MaxCheckpointAuthors = 64  // authors listed on one checkpoint
)

// ChangeCounts is how many things of one kind a checkpoint added, removed
// and changed since the workflow's previous checkpoint.
type ChangeCounts struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Changed int `json:"changed"`
}

// ChangeTotals is how many of each the checkpoint holds.
type ChangeTotals struct {
	Blocks    int `json:"blocks"`
	Edges     int `json:"edges"`
	Variables int `json:"variables"`
}

// CheckpointSummary is what a checkpoint changed since the previous one
// of its workflow (the webhook summary's shape). Baseline is false for
// the first checkpoint kept: then only Totals is meaningful.
type CheckpointSummary struct {
	Baseline  bool         `json:"baseline"`
	Blocks    ChangeCounts `json:"blocks"`
	Edges     ChangeCounts `json:"edges"`
	Variables ChangeCounts `json:"variables"`
	Totals    ChangeTotals `json:"totals"`
}

// CheckpointMeta describes one stored checkpoint: everything but its
// document.
type CheckpointMeta struct {
	// ID names the checkpoint within its workflow. IDs grow: a later
	// checkpoint of a workflow has a larger id (in Postgres they are drawn
	// from one sequence, so they are not consecutive).
	ID int64 `json:"id"`
	// AtMs is when it was made (the making node's clock, Unix ms).
	AtMs int64 `json:"atMs"`
	// Name is empty for an automatic checkpoint; named ones ("deployed")
	// are made on request and kept by their own retention bound.
	Name string `json:"name,omitempty"`
	// Authors are the user ids whose edits it is the first checkpoint to
	// hold (for a named one: also the user who asked, when named).
	Authors []string `json:"authors"`
	// Summary counts what changed since the previous checkpoint.
	Summary CheckpointSummary `json:"summary"`
	// Bytes is the stored size of its document (compressed frame).
	Bytes int `json:"bytes"`
}

// NewCheckpoint is a checkpoint to store: its metadata and its document.
type NewCheckpoint struct {
	AtMs    int64
	Name    string
	Authors []string
	Summary CheckpointSummary
	// Doc is the workflow's document at the checkpoint. The store encodes
	// it (the snapshot frame: checksummed, compressed) and keeps no
	// reference; the caller must not change it during the call.
	Doc *workflow.Doc
}

// CheckCheckpoint returns an error wrapping ErrInvalidCheckpoint unless cp
// has a document, a time, a name of at most MaxCheckpointNameLen bytes of
// printable UTF-8, and at most MaxCheckpointAuthors non-empty author ids
// of at most MaxWorkflowIDLen bytes.
func CheckCheckpoint(cp NewCheckpoint) error {
	switch {
	case cp.Doc == nil:
		return fmt.Errorf("%w: no document", ErrInvalidCheckpoint)
	case cp.AtMs <= 0:
		return fmt.Errorf("%w: no time", ErrInvalidCheckpoint)
	case len(cp.Authors) > MaxCheckpointAuthors:
		return fmt.Errorf("%w: %d authors, limit %d", ErrInvalidCheckpoint, len(cp.Authors), MaxCheckpointAuthors)
	}
	if err := CheckCheckpointName(cp.Name); err != nil {
		return err
	}
	for _, a := range cp.Authors {
		if a == "" || len(a) > MaxWorkflowIDLen || !utf8.ValidString(a) {
			return fmt.Errorf("%w: author id %q", ErrInvalidCheckpoint, a)
		}
	}
	return nil
}

// CheckCheckpointName returns an error wrapping ErrInvalidCheckpoint
// unless name is at most MaxCheckpointNameLen bytes of printable UTF-8
// (empty: an automatic checkpoint).
func CheckCheckpointName(name string) error {
	switch {
	case len(name) > MaxCheckpointNameLen:
		return fmt.Errorf("%w: name of %d bytes, limit %d", ErrInvalidCheckpoint, len(name), MaxCheckpointNameLen)
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }):
		return fmt.Errorf("%w: name is not printable UTF-8", ErrInvalidCheckpoint)
	}
	return nil
}

// Retention bounds the checkpoints a workflow keeps. Automatic and named
// checkpoints are bounded separately: a stream of automatic ones never
// pushes out the "deployed" checkpoint a revert needs. The zero value
// keeps everything.
type Retention struct {
	// MaxAuto keeps the newest MaxAuto automatic checkpoints; 0: no bound.
	MaxAuto int
	// MaxAge drops automatic checkpoints older than MaxAge before the
	// checkpoint being saved; 0: no bound. Named ones never age out.
	MaxAge time.Duration
	// MaxNamed keeps the newest MaxNamed named checkpoints; 0: no bound.
	MaxNamed int
}

// Drop returns the ids of metas (any order) that r does not keep once a
// checkpoint made at nowMs is stored. The newest checkpoint (largest id)
// is always kept: a save never drops what it saved.
func (r Retention) Drop(metas []CheckpointMeta, nowMs int64) []int64 {
	sorted := slices.Clone(metas)
	slices.SortFunc(sorted, func(a, b CheckpointMeta) int { return cmp.Compare(b.ID, a.ID) }) // newest first
	var drop []int64
	var auto, named int
	for i, m := range sorted {
		if i == 0 {
			if m.Name == "" {
				auto++
			} else {
				named++
			}
			continue
		}
		if m.Name != "" {
			if named++; r.MaxNamed > 0 && named > r.MaxNamed {
				drop = append(drop, m.ID)
			}
			continue
		}
		auto++
		switch {
		case r.MaxAuto > 0 && auto > r.MaxAuto:
			drop = append(drop, m.ID)
		case r.MaxAge > 0 && nowMs-m.AtMs > r.MaxAge.Milliseconds():
			drop = append(drop, m.ID)
		}
	}
	slices.Sort(drop)
	return drop
}

// CheckpointStore is implemented by stores that keep checkpoints: copies
// of a workflow's document at points in its history, which the admin API
// lists, shows, compares and restores. They are kept apart from the
// document (no client sees them) and go when the workflow is deleted.
//
// SaveCheckpoint is atomic: the new checkpoint and the retention it
// applies commit together or not at all, so a crash during it (kill -9,
// power loss) leaves the set of checkpoints as it was before, or as it is
// after — never a checkpoint without its document, nor one dropped whose
// replacement was not stored.
type CheckpointStore interface {
	// SaveCheckpoint stores cp as the workflow's newest checkpoint, drops
	// those keep no longer keeps (Retention.Drop, with cp's time), and
	// returns the new checkpoint's metadata. It returns ErrDeleted for a
	// deleted workflow, ErrInvalidID, and ErrInvalidCheckpoint for a
	// checkpoint CheckCheckpoint refuses.
	SaveCheckpoint(ctx context.Context, workflowID string, cp NewCheckpoint, keep Retention) (CheckpointMeta, error)
	// ListCheckpoints returns the workflow's checkpoints, oldest first
	// (none for a workflow never checkpointed or deleted).
	ListCheckpoints(ctx context.Context, workflowID string) ([]CheckpointMeta, error)
	// LoadCheckpoint returns one checkpoint and its document (the caller
	// owns it). It returns ErrNoCheckpoint for an id the workflow does not
	// have, and ErrCorrupt for a stored document that does not decode.
	LoadCheckpoint(ctx context.Context, workflowID string, id int64) (CheckpointMeta, *workflow.Doc, error)
}
