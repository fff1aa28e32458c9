package postgres_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/postgres"
	"github.com/flowsync/flowsync/storage/postgres/pgtest"
	"github.com/flowsync/flowsync/storage/storagetest"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(storagetest.CheckpointCrashEnv); url != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s, err := postgres.Open(ctx, postgres.Config{URL: url, MaxConns: 2})
		cancel()
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		storagetest.CheckpointCrashChild(s)
		return
	}
	os.Exit(m.Run())
}

// A client killed (SIGKILL) while it saves checkpoints leaves the set of
// the save before the kill or of the save after it: the insert and the
// retention's delete are one transaction, which the server rolls back when
// the connection dies before COMMIT.
func TestCheckpointKill9(t *testing.T) {
	url := pgtest.Schema(t)
	rounds := 12
	if testing.Short() {
		rounds = 3
	}
	storagetest.RunCheckpointCrash(t, url, rounds, testutil.Seed(t, 0), func() storage.Store { return open(t, url) })
}
