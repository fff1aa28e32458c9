package memory_test

import (
	"testing"

	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/storage/memory"
	"github.com/flowsync/flowsync/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func() storage.Store { return memory.New() })
}
