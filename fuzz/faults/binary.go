package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// Binary builds cmd/flowsync once per process (without the race detector:
// the server is the system under test, not the harness) and returns its
// path.
func Binary() (string, error) {
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "flowsync-faults-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "flowsync")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/flowsync/flowsync/cmd/flowsync")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build cmd/flowsync: %w\n%s", err, out)
		}
	})
	return binPath, buildErr
}

// RemoveBinary deletes the built binary; TestMain calls it after the tests.
func RemoveBinary() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}
