package faults

import (
	"context"
	"path/filepath"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/bolt"
	"github.com/flowsync/flowsync/storage/postgres"
	"github.com/flowsync/flowsync/sync/server"
)

// Store is where a node (or the nodes of a store group) keep documents,
// opened directly by the checker: a bolt directory (readable only while
// no node holds the file) or a Postgres URL (a schema of its own).
type Store struct {
	Name        string
	DataDir     string
	PostgresURL string
}

// Load opens the store, loads wf and closes it. It returns
// storage.ErrDeleted for a deleted workflow.
func (s Store) Load(wf string) (*workflow.Doc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var st storage.Store
	var err error
	if s.PostgresURL != "" {
		st, err = postgres.Open(ctx, postgres.Config{URL: s.PostgresURL, MaxConns: 2})
	} else {
		st, err = bolt.Open(bolt.Config{Path: filepath.Join(s.DataDir, server.BoltFile), OpenTimeout: 10 * time.Second})
	}
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Load(ctx, wf)
}
