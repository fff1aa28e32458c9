// Package workers runs short tasks on reused goroutines, so that work
// which needs a grown stack (decoding, encoding, hashing) does not grow and
// copy a fresh goroutine's 2 KiB stack every time. It must never bound or
// queue the tasks: every Go runs its task at once, on a parked worker or
// on a new goroutine.
package workers

import (
	"sync"
	"time"
)

// Why: the server runs its short-lived work — a session's burst of reads,
// a session writer's run, a room's store write — on goroutines that end
// when the work does, so that an idle connection or room holds no
// goroutine beyond the one waiting for it. A fresh goroutine starts with
// the smallest stack (2 KiB), and decoding a delta, encoding an Acks frame
// or hashing a log row needs 4–8 KiB: every such task grew its stack,
// copying it once or twice (a CPU profile of the load generator's
// 100-client row had 10% of the server in runtime.newstack and copystack,
// under workflow.decodeBody, protocol.AppendFrame and sha256). A Pool runs
// the tasks on goroutines that stay after a task, parked for the pool's idle
// timeout, so the next task — of any connection or room — finds a stack already
// grown. Parked workers are few (at most the pool's maxIdle; as many as
// ran at once recently) and end after the idle timeout without work.

// Defaults of New.
const (
	// DefaultIdleTimeout is how long a parked worker waits for a task
	// before it ends.
	DefaultIdleTimeout = time.Second
	// DefaultMaxIdle is how many workers a pool keeps parked at most. A
	// server of 1,000 connections runs hundreds of tasks at once (writers
	// linger for held frames): with 128 the load generator's 1,000/100/5
	// row started 10,000-14,000 goroutines in a run, with 1,024 about
	// 5,000 (an estimated 2,000 the connections' own). Parked, a worker holds
	// its stack (up to 8 KiB) for at most DefaultIdleTimeout.
	DefaultMaxIdle = 1024
)

// Pool runs tasks on reused goroutines. Its zero value is not usable: see
// New.
type Pool struct {
	// Static after construction.
	idleTimeout time.Duration
	maxIdle     int

	mu     sync.Mutex
	idle   []*worker // guarded by mu: parked workers, the most recently parked last
	closed bool      // guarded by mu: no worker parks any more
}

// worker is one pooled goroutine's mailbox: whoever takes it out of the
// pool's idle list sends it exactly one task (nil: end), so the one-slot
// buffer never blocks the sender.
type worker struct {
	task chan func()
}

// New returns a pool whose parked workers end after idleTimeout without a
// task, and which keeps at most maxIdle of them parked (a worker that
// would be one more ends instead). Zero means the default.
func New(idleTimeout time.Duration, maxIdle int) *Pool {
	if idleTimeout <= 0 {
		idleTimeout = DefaultIdleTimeout
	}
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdle
	}
	return &Pool{idleTimeout: idleTimeout, maxIdle: maxIdle}
}

// Go runs f on a parked worker, or on a new goroutine when none is parked.
// It never blocks on f. After Close, f runs on a goroutine of its own that
// ends with it.
func (p *Pool) Go(f func()) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.task <- f
		return
	}
	p.mu.Unlock()
	go p.work(f)
}

// work is a worker's goroutine: it runs f, then parks for the next task
// until the pool is closed, holds maxIdle parked workers, or idleTimeout
// passes without a task.
func (p *Pool) work(f func()) {
	w := &worker{task: make(chan func(), 1)}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for f != nil {
		f()
		if !p.park(w) {
			return
		}
		if timer == nil {
			timer = time.NewTimer(p.idleTimeout)
		} else {
			timer.Reset(p.idleTimeout)
		}
		select {
		case f = <-w.task:
		case <-timer.C:
			if p.unpark(w) {
				return
			}
			// Taken out of the idle list as the timer fired: the
			// taker's task is on its way.
			f = <-w.task
		}
	}
}

// park puts w on the idle list; false when it must end instead.
func (p *Pool) park(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle) >= p.maxIdle {
		return false
	}
	p.idle = append(p.idle, w)
	return true
}

// unpark takes w off the idle list if it is still there (nobody took it).
func (p *Pool) unpark(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.idle {
		if x == w {
			copy(p.idle[i:], p.idle[i+1:])
			p.idle[len(p.idle)-1] = nil
			p.idle = p.idle[:len(p.idle)-1]
			return true
		}
	}
	return false
}

// Close ends the parked workers and makes running ones end after their
// task; later tasks run on goroutines of their own.
func (p *Pool) Close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	p.mu.Unlock()
	for _, w := range idle {
		w.task <- nil
	}
}
