package bolt_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/bolt"
	"github.com/flowsync/flowsync/storage/storagetest"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(storagetest.CheckpointCrashEnv); path != "" {
		s, err := bolt.Open(bolt.Config{Path: path})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		storagetest.CheckpointCrashChild(s)
		return
	}
	os.Exit(m.Run())
}

// A process killed (SIGKILL) while it saves checkpoints leaves the set of
// the save before the kill or of the save after it, never a mix: each
// save and the retention it applies are one fsynced bbolt transaction.
func TestCheckpointKill9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowsync.db")
	rounds := 12
	if testing.Short() {
		rounds = 3
	}
	storagetest.RunCheckpointCrash(t, path, rounds, testutil.Seed(t, 0), func() storage.Store { return open(t, path) })
}
