package client

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/internal/testutil"
	"github.com/flowsync/flowsync/sync/protocol"
)

func withDir(dir string) func(*Config) {
	return func(cfg *Config) { cfg.Dir = dir }
}

// openOffline opens a Client that is never run (no server), to inspect
// what a directory holds.
func openOffline(t *testing.T, dir, replica string) *Client {
	t.Helper()
	c, err := New(Config{URL: "ws://127.0.0.1:1/v1/sync", ReplicaID: replica, WorkflowID: "wf-1", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A client restarted on the same directory resumes: same replica id (here
// a UUID the first run chose), same document, and it sends the edits the
// first run never got acknowledged as durable.
func TestDirResumesAndSendsWhatWasNeverDurable(t *testing.T) {
	f := newFakeServer(t)
	dir := t.TempDir()
	f.set(func(f *fakeServer) { f.holdDurable = true })
	a := startClient(t, f, "", withDir(dir))
	a.waitLive(t)
	replica := a.ReplicaID()
	if _, err := crdtUUID(replica); err != nil {
		t.Fatalf("replica id of a fresh directory = %q, want a UUID", replica)
	}
	for i := range 3 {
		mustApply(t, a.Client, addBlock(fmt.Sprint("durable", i), fmt.Sprint("Durable ", i)))
	}
	testutil.WaitFor(t, "applied", func() bool { return a.Status().Unacked == 0 })
	f.releaseDurable()
	testutil.WaitFor(t, "durable", func() bool { return a.Pending() == 0 })
	f.set(func(f *fakeServer) { f.refuseDials = true })
	f.dropAll(protocol.CloseGoingAway)
	testutil.WaitFor(t, "offline", func() bool { return a.Status().State != StateLive })
	for i := range 10 {
		mustApply(t, a.Client, addBlock(fmt.Sprint("offline", i), fmt.Sprint("Offline ", i)))
	}
	want := a.Doc()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	resent := 0 // frames carrying an edit the first run saw durable
	f.set(func(f *fakeServer) {
		f.refuseDials = false
		f.nack = func(_ string, d *workflow.Doc) *protocol.Nack {
			for i := range 3 {
				if len(d.Store().Get(workflow.Key{Kind: workflow.KindBlock, ID: fmt.Sprint("durable", i)})) > 0 {
					resent++
				}
			}
			return nil
		}
	})
	b := startClient(t, f, "another-id-that-is-ignored", withDir(dir))
	if got := b.ReplicaID(); got != replica {
		t.Fatalf("restarted replica id = %q, want %q", got, replica)
	}
	if !b.Doc().Equal(want) {
		t.Fatal("restarted document differs from the one closed")
	}
	b.waitSaved(t)
	if !f.snapshot().Equal(b.Doc()) {
		t.Fatal("server and restarted client differ")
	}
	for i := range 10 {
		if f.snapshot().View().Blocks[fmt.Sprint("offline", i)] == nil {
			t.Fatalf("offline%d never reached the server", i)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if resent != 0 {
		t.Errorf("%d frames re-sent edits the server had made durable before the restart", resent)
	}
	for _, h := range f.hellos[1:] {
		if h.ReplicaID != replica {
			t.Errorf("hello after restart names %q", h.ReplicaID)
		}
	}
}

func crdtUUID(s string) (string, error) {
	if len(s) != 36 || strings.Count(s, "-") != 4 {
		return "", errors.New("not a UUID")
	}
	return s, nil
}

func TestDirHeldByAnotherClientFailsClearly(t *testing.T) {
	dir := t.TempDir()
	a := openOffline(t, dir, "alice")
	_, err := New(Config{URL: "ws://127.0.0.1:1/v1/sync", WorkflowID: "wf-1", Dir: dir, DirLockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrDirLocked) {
		t.Fatalf("second New = %v, want ErrDirLocked", err)
	}
	if msg := err.Error(); !strings.Contains(msg, fmt.Sprintf("process %d", os.Getpid())) || !strings.Contains(msg, DiskFileName) {
		t.Errorf("error %q does not say which file and which process holds it", msg)
	}
	a.Close()
	b, err := New(Config{URL: "ws://127.0.0.1:1/v1/sync", WorkflowID: "wf-1", Dir: dir})
	if err != nil {
		t.Fatalf("New after the holder closed: %v", err)
	}
	b.Close()
}

func TestDirRefusesAnotherWorkflowAndASecondDoc(t *testing.T) {
	dir := t.TempDir()
	seed := workflow.New()
	if _, err := seed.Apply(crdt.Timestamp{Wall: 1, Replica: "alice"}, addBlock("b1", "Seeded")); err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{URL: "ws://127.0.0.1:1/v1/sync", ReplicaID: "alice", WorkflowID: "wf-1", Dir: dir, Doc: seed.Clone()})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := New(Config{URL: "ws://127.0.0.1:1/v1/sync", WorkflowID: "wf-2", Dir: dir}); !errors.Is(err, ErrConfig) {
		t.Errorf("another workflow: %v, want ErrConfig", err)
	}
	if _, err := New(Config{URL: "ws://127.0.0.1:1/v1/sync", WorkflowID: "wf-1", Dir: dir, Doc: seed.Clone()}); !errors.Is(err, ErrConfig) {
		t.Errorf("Doc over a stored document: %v, want ErrConfig", err)
	}
	b := openOffline(t, dir, "")
	if !b.Doc().Equal(seed) || b.ReplicaID() != "alice" {
		t.Errorf("the seeded directory holds replica %q and a different document", b.ReplicaID())
	}
}

// The log is folded into a snapshot; what a restart reads is the same.
func TestDirSnapshotReplacesTheLog(t *testing.T) {
	old := snapshotLogItems
	snapshotLogItems = 5
	t.Cleanup(func() { snapshotLogItems = old })
	f := newFakeServer(t)
	dir := t.TempDir()
	a := startClient(t, f, "alice", withDir(dir))
	other := startClient(t, f, "bob", nil)
	a.waitLive(t)
	other.waitLive(t)
	for i := range 12 {
		mustApply(t, a.Client, addBlock(fmt.Sprint("a", i), fmt.Sprint("A ", i)))
		mustApply(t, other.Client, addBlock(fmt.Sprint("o", i), fmt.Sprint("O ", i)))
	}
	testutil.WaitFor(t, "converged", func() bool { return a.Doc().Equal(other.Doc()) && a.Pending() == 0 && other.Pending() == 0 })
	want := a.Doc()
	a.Close()
	c := openOffline(t, dir, "")
	c.mu.Lock()
	items := c.store.logItems
	c.mu.Unlock()
	if items >= 12 {
		t.Errorf("the log holds %d entries after 24 merged deltas with a bound of 5", items)
	}
	if !c.Doc().Equal(want) {
		t.Fatal("the document read back differs")
	}
}

// Apply returns only once its edit is stored: a process killed at any
// moment leaves every edit whose Apply returned in the directory, in the
// document and the outbox.
func TestDirEditsSurviveKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	seed := testutil.Seed(t, 0)
	rng := rand.New(rand.NewPCG(seed, 6))
	for round := range 3 {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestDirKillHelper$")
		cmd.Env = append(os.Environ(), "FLOWSYNC_CLIENT_KILL_DIR="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 20 + rng.IntN(100)
		sc := bufio.NewScanner(out)
		acked := -1
		for sc.Scan() {
			if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "applied ")); err == nil {
				acked = n
			}
			if acked+1 >= killAfter {
				break
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if acked < 0 {
			t.Fatalf("round %d: the helper applied nothing", round)
		}
		c := openOffline(t, dir, "")
		v := c.View()
		for i := 0; i <= acked; i++ {
			if v.Blocks[fmt.Sprint("k", i)] == nil {
				t.Fatalf("round %d: edit %d was acknowledged by Apply and lost by kill -9", round, i)
			}
		}
		if got := c.Pending(); got != len(v.Blocks) || got < acked+1 {
			t.Fatalf("round %d: %d outbox entries for %d blocks (%d acknowledged)", round, got, len(v.Blocks), acked+1)
		}
		c.Close()
	}
}

// TestDirKillHelper is the process TestDirEditsSurviveKill9 kills: it
// applies edits offline and prints the index of each one Apply returned.
func TestDirKillHelper(t *testing.T) {
	dir := os.Getenv("FLOWSYNC_CLIENT_KILL_DIR")
	if dir == "" {
		t.Skip("run by TestDirEditsSurviveKill9")
	}
	c, err := New(Config{URL: "ws://127.0.0.1:1/v1/sync", WorkflowID: "wf-1", Dir: dir})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		if _, err := c.Apply(addBlock(fmt.Sprint("k", i), fmt.Sprint("K ", i))); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Printf("applied %d\n", i)
	}
}
