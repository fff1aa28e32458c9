package history

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
)

// Defaults of Config.
const (
	DefaultQuiet    = 2 * time.Minute
	DefaultInterval = 10 * time.Minute
	DefaultMaxAuto  = 100
	DefaultMaxAge   = 30 * 24 * time.Hour
	DefaultMaxNamed = 100
	DefaultTimeout  = 30 * time.Second
)

// Config configures a Manager. Store, Document and Apply are required;
// zero durations and counts mean their defaults.
type Config struct {
	// Store keeps the checkpoints.
	Store storage.CheckpointStore
	// Document returns a copy of the workflow's live document (the room's,
	// loaded if not live): rooms.Registry.Document.
	Document func(ctx context.Context, workflowID string) (*workflow.Doc, error)
	// Apply runs ops against the workflow's live document as one
	// application request on behalf of userID (an admin), and returns once
	// they are durable; a refusal or a failure is an error and nothing
	// more of ops is applied.
	Apply func(ctx context.Context, workflowID, userID string, ops []workflow.Op) error
	// Quiet is how long a workflow goes without an edit before an
	// automatic checkpoint. Default: DefaultQuiet.
	Quiet time.Duration
	// Interval is both the most automatic checkpoints a workflow gets
	// (one per Interval) and how long an edited workflow waits for one at
	// most (under constant editing, one per Interval). Default:
	// DefaultInterval. Negative: automatic checkpoints off (named ones
	// and restores still work).
	Interval time.Duration
	// Retention bounds what each workflow keeps. Zero fields: DefaultMaxAuto,
	// DefaultMaxAge, DefaultMaxNamed; negative: no bound.
	Retention storage.Retention
	// Timeout bounds one automatic checkpoint (reading the document and
	// storing it). Default: DefaultTimeout.
	Timeout time.Duration
	// Clock is the time source. Default: SystemClock.
	Clock Clock
	// Logger receives failures (ids and counts only). Default: discard.
	Logger *slog.Logger
	// Metrics records checkpoints and restores. Default: none.
	Metrics *Metrics
}

func (c Config) validate() error {
	if c.Store == nil || c.Document == nil || c.Apply == nil {
		return errors.New("history: Config needs Store, Document and Apply")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Quiet <= 0 {
		c.Quiet = DefaultQuiet
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	c.Retention.MaxAuto = bound(c.Retention.MaxAuto, DefaultMaxAuto)
	c.Retention.MaxNamed = bound(c.Retention.MaxNamed, DefaultMaxNamed)
	switch {
	case c.Retention.MaxAge == 0:
		c.Retention.MaxAge = DefaultMaxAge
	case c.Retention.MaxAge < 0:
		c.Retention.MaxAge = 0
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// bound is n with 0 meaning def and a negative value "no bound" (0 in
// storage.Retention).
func bound(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}
