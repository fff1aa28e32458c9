package webhook

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// killChildEnv makes the test binary run killChild instead of the tests:
// "<queue path> <receiver URL>".
const killChildEnv = "FLOWSYNC_WEBHOOK_KILL_CHILD"

const killEvents = 25

func TestMain(m *testing.M) {
	if v := os.Getenv(killChildEnv); v != "" {
		killChild(v)
		return
	}
	os.Exit(m.Run())
}

// killChild queues killEvents lifecycle events and opens a debounce window
// for users "dora" and "eve", says "ready" once all are in the file, and
// waits to be killed.
func killChild(arg string) {
	path, url, _ := strings.Cut(arg, " ")
	d, err := Open(Config{URLs: []string{url}, Secret: testSecret, QueuePath: path, Quiet: time.Hour,
		RetryBase: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	for range killEvents {
		if err := d.Lifecycle("wf", TypeUpdated, ""); err != nil {
			fmt.Println("lifecycle:", err)
			os.Exit(2)
		}
	}
	d.Notify("edited", []string{"dora", "eve"})
	for {
		_, wins, err := d.q.loadAll()
		if err == nil && slices.Equal(wins["edited"].Users, []string{"dora", "eve"}) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Println("ready")
	select {}
}

// A process killed with SIGKILL while its receiver is down loses nothing
// it queued: the next process on the same file delivers every event, the
// ones attempted before the kill under the ids they had, and reports the
// open window.
func TestNothingLostAcrossKill9(t *testing.T) {
	var up atomic.Bool
	rc := newReceiver(t, func(int) int {
		if up.Load() {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	path := filepath.Join(t.TempDir(), "webhooks.db")
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path+" "+rc.srv.URL)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child: %q %v", line, err)
	}
	// Let the child make failed attempts (and rewrite records) when it dies.
	waitFor(t, "failed attempts in the child", func() bool { return len(rc.deliveries()) >= killEvents })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	before := map[string]bool{}
	for _, g := range rc.deliveries() {
		before[g.id] = true
	}

	up.Store(true)
	cfg := testConfig(t, path, rc.srv.URL)
	open(t, cfg)
	waitFor(t, "every event after the restart", func() bool {
		return value(cfg.Metrics.Deliveries.WithLabelValues("ok")) == killEvents+1
	})
	var updated []string
	var changed int
	for _, g := range rc.deliveries()[len(before):] {
		switch {
		case g.typ == TypeUpdated:
			updated = append(updated, g.id)
		case g.typ == TypeChanged && slices.Equal(g.ev.Users, []string{"dora", "eve"}):
			changed++
		}
	}
	slices.Sort(updated)
	if len(slices.Compact(updated)) != killEvents || changed != 1 {
		t.Fatalf("after the kill: %d distinct updated events (want %d), %d change events (want 1)", len(updated), killEvents, changed)
	}
	for id := range before {
		if !slices.Contains(updated, id) {
			t.Fatalf("event %s, attempted before the kill, was not delivered after it (or under another id)", id)
		}
	}
}

// Close with a context that ends cancels a hanging attempt and keeps its
// record for the next Open.
func TestCloseCancelsHangingAttempt(t *testing.T) {
	release := make(chan struct{})
	var up atomic.Bool
	rc := newReceiver(t, func(int) int {
		if !up.Load() {
			<-release
		}
		return http.StatusOK
	})
	defer close(release)
	path := filepath.Join(t.TempDir(), "webhooks.db")
	cfg := testConfig(t, path, rc.srv.URL)
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Lifecycle("wf", TypeLocked, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the attempt to start", func() bool { return rc.n.Load() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	up.Store(true)
	cfg2 := testConfig(t, path, rc.srv.URL)
	open(t, cfg2)
	waitFor(t, "the delivery after reopening", func() bool { return value(cfg2.Metrics.Deliveries.WithLabelValues("ok")) == 1 })
}
