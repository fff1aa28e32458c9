package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/session"
)

// maxSecretFileBytes caps a secret file: a secret is a line, not a
// document.
const maxSecretFileBytes = 4 << 10

// ReadSecretFile reads a secret (the JWT key of --jwt-secret-file, the admin
// secret of --admin-secret-file) from path, without surrounding whitespace
// (a trailing newline, say). It fails for a missing, empty or oversized
// file. The error names the path, never the contents.
func ReadSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("flowsync: secret file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("flowsync: secret file %s: %w", path, err)
	}
	if len(b) > maxSecretFileBytes {
		return nil, fmt.Errorf("flowsync: secret file %s is over %d bytes", path, maxSecretFileBytes)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("flowsync: secret file " + path + " is empty")
	}
	return b, nil
}

// RegistryAdminDeps wires the admin API to a node's registry, store,
// session handler and workflow locks.
func RegistryAdminDeps(reg *rooms.Registry, store storage.Store, sessions *session.Handler, locks *rooms.WorkflowLocks) AdminDeps {
	return AdminDeps{
		Rooms:     reg,
		View:      RegistryView(reg, store),
		Event:     RegistryEvent(reg),
		Delete:    reg.DeleteWorkflow,
		Roles:     sessions,
		Locks:     locks,
		ListRooms: RegistryRooms(reg, nil),
	}
}
