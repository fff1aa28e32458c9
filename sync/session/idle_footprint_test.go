package session_test

import "testing"

// Bounds on what an idle connection holds on the server, measured as
// BenchmarkIdleConnections measures it (clients in a child process; the
// server's live heap, goroutine stacks and goroutines after the joins,
// over the connections): 1,000 connections in 100 rooms (400 in 40 under
// the race detector), ten per room as in the load generator's idle
// scenario. The bounds are counts of bytes, not times, so load does not
// move them; BENCHMARKS.md ("Idle memory, snapshot trims and decode
// allocations") has the figures at 10,000 connections and the server's
// resident memory.
//
// The stack bound is what a connection's one waiting goroutine (2 KiB,
// the smallest stack) and its share of its room's goroutine (4 KiB) leave
// room for: a room goroutine parked under more than about 1.2 KiB of
// frames keeps an 8 KiB stack (the runtime halves a parked stack only
// while its frames and an 800-byte reserve take less than a quarter of
// it), which this bound refuses.
func TestIdleFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	const (
		maxHeap  = 5 << 10 // live heap bytes per connection (4.4 KiB measured)
		maxStack = 3584    // stack bytes per connection (3.2 KiB measured; 3.7 KiB with rooms on 8 KiB stacks)
	)
	conns, rooms := 1000, 100
	heapBound := maxHeap
	if raceDetector {
		// The race detector makes the joins several times slower (and
		// the package's run long): fewer connections, and no stack bound.
		// The heap bound gets 1 KiB more: the process's fixed heap is
		// shared by 400 connections instead of 1,000, and a fresh-check
		// run measured 5,183 B per connection under -race.
		conns, rooms = 400, 40
		heapBound = maxHeap + 1<<10
	}
	r := measureIdle(t, conns, rooms, "")
	n := float64(conns)
	heap, stack, g := r.heap/n, r.stack/n, r.goroutines/n
	t.Logf("per connection: live heap %.0f B, stack %.0f B, goroutines %.3f (heap in use %.0f B)", heap, stack, g, r.heapInuse/n)
	if heap > float64(heapBound) {
		t.Errorf("live heap per idle connection %.0f B, want ≤ %d", heap, heapBound)
	}
	if !raceDetector && stack > maxStack {
		t.Errorf("goroutine stack per idle connection %.0f B, want ≤ %d", stack, maxStack)
	}
	// The connection's reader, its share of its room's loop, and a few
	// goroutines of the process's own.
	if maxG := float64(conns+rooms+4) / n; g > maxG {
		t.Errorf("%.3f goroutines per idle connection, want ≤ %.3f", g, maxG)
	}
}
