package storage

import "context"

// Catalog is implemented by stores that know which workflows exist: the
// server's option to refuse joins of workflows nobody created
// (UNKNOWN_WORKFLOW) needs it. A workflow exists once it was created with
// Create or anything was stored for it (Append, Snapshot), until it is
// deleted. Without the option nothing needs it: a workflow never written
// loads as an empty document (see Store).
type Catalog interface {
	// Create records that workflowID exists, with an empty document when
	// nothing is stored for it yet. Creating a workflow that exists is not
	// an error and changes nothing. It returns ErrDeleted for a deleted
	// workflow (deleted stays deleted) and ErrInvalidID for an unusable id.
	Create(ctx context.Context, workflowID string) error
	// Exists reports whether workflowID was created or written and not
	// deleted. A deleted workflow does not exist (and no error is
	// returned: Load says ErrDeleted).
	Exists(ctx context.Context, workflowID string) (bool, error)
}
