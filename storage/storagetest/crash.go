package storagetest

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
)

// The checkpoint crash test: a child process saves checkpoints of one
// workflow without pause (each named by its time, AtMs 1, 2, 3, …, with
// retention keeping the newest crashKeep, so every save also deletes
// one), and the parent kills it with SIGKILL at a random save, then
// reopens the store and checks that the set is the one before a save or
// the one after it: crashKeep checkpoints, consecutive, each with its own
// document.

// CheckpointCrashEnv is the environment variable that makes a test binary
// run the child (see RunCheckpointCrash) instead of its tests; its value
// is the store's location, for the package's TestMain to open.
const CheckpointCrashEnv = "FLOWSYNC_CHECKPOINT_CRASH_CHILD"

const (
	crashWorkflow = "crash-wf"
	crashKeep     = 3
	crashBlocks   = 300 // a document of a few tens of KB: a write worth interrupting
)

var crashRetention = storage.Retention{MaxAuto: crashKeep}

// crashDoc is the checkpoint's document at time n: crashBlocks blocks,
// the first named after n, so a checkpoint's document tells which save it
// came from.
func crashDoc(base *workflow.Doc, n int64) (*workflow.Doc, error) {
	doc := base.Clone()
	clock := crdt.NewClock("crash")
	_, err := doc.Apply(clock.Now(1_700_000_000_000+n), workflow.UpdateName{ID: "b0", NewName: fmt.Sprintf("cp %d", n)})
	return doc, err
}

func crashBase() (*workflow.Doc, error) {
	doc := workflow.New()
	op := workflow.BatchAddBlocks{}
	for i := range crashBlocks {
		op.Blocks = append(op.Blocks, workflow.BlockInput{ID: fmt.Sprintf("b%d", i), Type: "agent", Name: fmt.Sprintf("Agent %d", i),
			Position:  &workflow.Position{X: float64(i), Y: float64(i % 7)},
			SubBlocks: map[string]workflow.SubBlockInput{"prompt": {ID: "prompt", Type: "long-input", Value: fmt.Sprintf("You are agent %d.", i)}}})
	}
	_, err := doc.Apply(crdt.NewClock("builder").Now(1_700_000_000_000), op)
	return doc, err
}

// CheckpointCrashChild is the child: it saves checkpoints to s, after the
// newest stored, printing "saved <n>" after each, until it is killed. It
// exits 2 on an error.
func CheckpointCrashChild(s storage.Store) {
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	cs := s.(storage.CheckpointStore)
	ctx := context.Background()
	base, err := crashBase()
	if err != nil {
		fail(err)
	}
	metas, err := cs.ListCheckpoints(ctx, crashWorkflow)
	if err != nil {
		fail(err)
	}
	var n int64
	if len(metas) > 0 {
		n = metas[len(metas)-1].AtMs
	}
	for {
		n++
		fmt.Println("begin", n)
		doc, err := crashDoc(base, n)
		if err != nil {
			fail(err)
		}
		if _, err := cs.SaveCheckpoint(ctx, crashWorkflow, storage.NewCheckpoint{AtMs: n, Authors: []string{"crash"}, Doc: doc}, crashRetention); err != nil {
			fail(err)
		}
		fmt.Println("saved", n)
	}
}

// RunCheckpointCrash runs rounds of the crash test on the store at
// location (the value of CheckpointCrashEnv for the child); open opens it
// in this process after each kill. The seed of the kill points comes from
// testutil's convention: FLOWSYNC_SEED, printed.
func RunCheckpointCrash(t *testing.T, location string, rounds int, seed uint64, open func() storage.Store) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	midSave := 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run", "^$")
		cmd.Env = append(os.Environ(), CheckpointCrashEnv+"="+location)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		var begun, saved int64
		// read reads one line; false at the end of the output.
		read := func() (verb string, ok bool) {
			if !lines.Scan() {
				return "", false
			}
			verb, num, _ := strings.Cut(lines.Text(), " ")
			n, err := strconv.ParseInt(num, 10, 64)
			switch {
			case err == nil && verb == "begin":
				begun = n
			case err == nil && verb == "saved":
				saved = n
			default:
				t.Errorf("round %d: child said %q", round, lines.Text())
			}
			return verb, true
		}
		// Let it report a few saves, then kill it at a random moment of the
		// next ones (a save takes a few milliseconds: encode, write, fsync).
		for seen, target := 0, 1+rng.IntN(5); seen < target; {
			verb, ok := read()
			if !ok || t.Failed() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("round %d: the child stopped: %v", round, lines.Err())
			}
			if verb == "saved" {
				seen++
			}
		}
		time.Sleep(time.Duration(rng.IntN(15_000)) * time.Microsecond) // the kill point, not a wait
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for { // what it printed before it died
			if _, ok := read(); !ok {
				break
			}
		}
		_ = cmd.Wait()
		if begun > saved {
			midSave++
		}
		checkAfterCrash(t, round, open, saved, begun > saved)
	}
	t.Logf("%d of %d kills landed between a save's start and its report", midSave, rounds)
}

// checkAfterCrash checks the checkpoint set after a kill: the newest is the
// last save reported or the one after it (which may have committed before
// the kill), and the set is exactly what retention keeps after it.
func checkAfterCrash(t *testing.T, round int, open func() storage.Store, printed int64, mid bool) {
	t.Helper()
	s := open()
	defer s.Close()
	cs := s.(storage.CheckpointStore)
	ctx := context.Background()
	metas, err := cs.ListCheckpoints(ctx, crashWorkflow)
	if err != nil {
		t.Fatalf("round %d: list after the kill: %v", round, err)
	}
	if len(metas) == 0 {
		t.Fatalf("round %d: no checkpoint after %d saves", round, printed)
	}
	newest := metas[len(metas)-1].AtMs
	if newest != printed && (!mid || newest != printed+1) {
		t.Fatalf("round %d: newest checkpoint is %d; the child reported %d saved (mid-save: %v)", round, newest, printed, mid)
	}
	if want := min(newest, crashKeep); int64(len(metas)) != want {
		t.Fatalf("round %d: %d checkpoints after save %d, want %d: a save and its retention did not commit together", round, len(metas), newest, want)
	}
	for i, m := range metas {
		if m.AtMs != newest-int64(len(metas)-1-i) || (i > 0 && m.ID <= metas[i-1].ID) {
			t.Fatalf("round %d: checkpoints %+v are not the newest %d saves in order", round, metas, len(metas))
		}
		_, doc, err := cs.LoadCheckpoint(ctx, crashWorkflow, m.ID)
		if err != nil {
			t.Fatalf("round %d: checkpoint %d (save %d) does not load: %v", round, m.ID, m.AtMs, err)
		}
		if b := doc.View().Blocks["b0"]; b == nil || b.Name != fmt.Sprintf("cp %d", m.AtMs) {
			t.Fatalf("round %d: checkpoint of save %d holds another save's document", round, m.AtMs)
		}
	}
	t.Logf("round %d: killed after save %d reported; %d checkpoints, newest %d", round, printed, len(metas), newest)
}
