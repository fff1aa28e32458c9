package workers

import (
	"bytes"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// running counts this package's worker goroutines, from a full stack dump.
func running() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return bytes.Count(buf, []byte("workers.(*Pool).work("))
}

func (p *Pool) parked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Tasks run one after another share one goroutine: it parks between them.
func TestSequentialTasksShareAWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(time.Second, 4)
		defer p.Close()
		ran := 0
		for range 10 {
			p.Go(func() { ran++ })
			synctest.Wait()
			if got := running(); got != 1 {
				t.Fatalf("%d workers after a task, want 1 (parked)", got)
			}
		}
		if ran != 10 {
			t.Fatalf("%d tasks ran, want 10", ran)
		}
	})
}

// Go never waits for a busy worker: tasks that block each other run at
// once, each on a goroutine of its own.
func TestGoDoesNotQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(time.Second, 2)
		defer p.Close()
		release := make(chan struct{})
		var wg sync.WaitGroup
		const n = 5
		for range n {
			wg.Add(1)
			p.Go(func() {
				defer wg.Done()
				<-release
			})
		}
		synctest.Wait()
		if got := running(); got != n {
			t.Fatalf("%d workers for %d blocked tasks, want %d", got, n, n)
		}
		close(release)
		wg.Wait()
		synctest.Wait()
		// At most maxIdle stay parked; the others ended.
		if got, parked := running(), p.parked(); got != 2 || parked != 2 {
			t.Fatalf("%d workers, %d parked after the tasks, want 2 and 2 (maxIdle)", got, parked)
		}
	})
}

// A parked worker ends after the idle timeout without a task.
func TestIdleWorkersEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(time.Second, 4)
		defer p.Close()
		p.Go(func() {})
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if got := running(); got != 1 {
			t.Fatalf("%d workers before the idle timeout, want 1", got)
		}
		p.Go(func() {}) // resets its idle time
		time.Sleep(999 * time.Millisecond)
		synctest.Wait()
		if got := running(); got != 1 {
			t.Fatalf("%d workers 999 ms after its last task, want 1", got)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if got, parked := running(), p.parked(); got != 0 || parked != 0 {
			t.Fatalf("%d workers (%d parked) after the idle timeout, want none", got, parked)
		}
		// The pool still runs tasks.
		done := false
		p.Go(func() { done = true })
		synctest.Wait()
		if !done {
			t.Fatal("a task after the workers ended did not run")
		}
	})
}

// Close ends the parked workers at once and a running one after its task;
// tasks after Close still run, on goroutines that do not stay.
func TestCloseEndsWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(time.Hour, 4)
		release := make(chan struct{})
		p.Go(func() {})
		synctest.Wait()
		p.Go(func() { <-release }) // takes the parked worker
		p.Go(func() {})
		synctest.Wait()
		if got := running(); got != 2 {
			t.Fatalf("%d workers, want 2 (one busy, one parked)", got)
		}
		p.Close()
		synctest.Wait()
		if got := running(); got != 1 {
			t.Fatalf("%d workers after Close, want 1 (the busy one)", got)
		}
		close(release)
		synctest.Wait()
		if got := running(); got != 0 {
			t.Fatalf("%d workers after the last task, want none", got)
		}
		done := false
		p.Go(func() { done = true })
		synctest.Wait()
		if !done || running() != 0 {
			t.Fatalf("after Close: task ran %v, %d workers left", done, running())
		}
	})
}

// A worker whose idle timer fires just as Go takes it out of the idle list
// runs the task rather than ending (the task is never lost).
func TestTaskRacingTheIdleTimeout(t *testing.T) {
	for range 200 {
		p := New(time.Microsecond, 4)
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			p.Go(wg.Done)
		}
		wg.Wait() // every task ran (a lost one would hang here)
		p.Close()
	}
}
