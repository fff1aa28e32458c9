package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/webhook"
)

// WebhookFile is the queue file's name inside the data dir when
// WebhookConfig.QueuePath is empty.
const WebhookFile = "webhooks.db"

// WebhookConfig turns on outbound webhooks (package webhook) when URLs is
// not empty. The zero value is off.
type WebhookConfig struct {
	// URLs receive every event. Secret signs them (at least
	// webhook.MinSecretBytes).
	URLs   []string
	Secret []byte
	// QueuePath is the queue file; default DataDir/WebhookFile (also with
	// the Postgres store: the queue is this node's, on its own disk).
	QueuePath string
	// Workflows limits events to these ids; empty: all.
	Workflows []string
	// Quiet, MaxDelay and IncludeView: see webhook.Config.
	Quiet, MaxDelay time.Duration
	IncludeView     bool
	// MaxQueue, MaxAttempts and MaxAge bound the queue and the retries.
	MaxQueue, MaxAttempts int
	MaxAge                time.Duration
}

func (c WebhookConfig) enabled() bool { return len(c.URLs) > 0 }

// WebhookEvents is what the admin API tells of lifecycle changes; nil
// when webhooks are off.
type WebhookEvents interface {
	Lifecycle(workflowID, typ, actor string) error
}

// openWebhooks opens the dispatcher; view is read lazily because the
// registry it calls is built after the rooms config that reports to the
// dispatcher.
func openWebhooks(c WebhookConfig, dataDir string, view func(context.Context, string) (*workflow.View, error), logger *slog.Logger, reg prometheus.Registerer) (*webhook.Dispatcher, error) {
	path := c.QueuePath
	if path == "" {
		if dataDir == "" {
			dataDir = DefaultDataDir
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("flowsync: webhook queue directory: %w", err)
		}
		path = filepath.Join(dataDir, WebhookFile)
	}
	return webhook.Open(webhook.Config{
		URLs: c.URLs, Secret: c.Secret, QueuePath: path, Workflows: c.Workflows,
		Quiet: c.Quiet, MaxDelay: c.MaxDelay, IncludeView: c.IncludeView, View: view,
		MaxQueue: c.MaxQueue, MaxAttempts: c.MaxAttempts, MaxAge: c.MaxAge,
		Metrics: webhook.NewMetrics(reg), Logger: logger,
	})
}
