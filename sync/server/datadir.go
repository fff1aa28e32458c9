package server

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/flowsync/flowsync/storage/bolt"
)

// openDataDir opens the embedded store in dir for a tool, read-only unless
// write. bbolt lets one process at a time open the file: a running server
// holding it makes this fail after a second, saying what to do.
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
