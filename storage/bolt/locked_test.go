package bolt_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/storage/bolt"
)

// A second open of a file another handle holds (as a second process would
// be: bbolt's flock conflicts between handles of one process too) fails
// after OpenTimeout with ErrLocked, naming the file, the holder when the
// system says, and what to do.
func TestOpenLockedFileSaysWhoAndWhat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flowsync.db")
	first := open(t, path)
	defer first.Close()
	start := time.Now()
	s, err := bolt.Open(bolt.Config{Path: path, OpenTimeout: 100 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("a second open of a locked file succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("waited %v for the lock, want about the 100 ms OpenTimeout", d)
	}
	var le *bolt.LockedError
	if !errors.Is(err, bolt.ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("err = %v (%T), want ErrLocked", err, err)
	}
	msg := err.Error()
	t.Logf("took %v: %s", time.Since(start), msg)
	for _, want := range []string{path, "another process", "stop that process", "another file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if runtime.GOOS == "linux" {
		if _, err := os.Stat("/proc/locks"); err == nil {
			if want := fmt.Sprintf("pid %d", os.Getpid()); !strings.Contains(msg, want) {
				t.Errorf("error %q does not name the holder, %s", msg, want)
			}
		}
	}
	// Once the holder closes, the file opens.
	first.Close()
	again, err := bolt.Open(bolt.Config{Path: path, OpenTimeout: time.Second})
	if err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
	again.Close()
}
