//go:build unix

package server_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/flowsync/flowsync/storage/bolt"
	"github.com/flowsync/flowsync/storage/storagetest"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/server"
)

// BenchmarkColdJoinServer measures a cold join through the server: a
// bolt store holds a 10,000-block workflow as a snapshot plus 10,000 log
// rows (storagetest.PrepareColdLoad), no room has it loaded, and joiners
// dial, send Hello and Join with an empty context. Each iteration uses a
// workflow of its own, so every join loads from the store. Metrics:
//
//   - joined-ms: from the first joiner's Join to its Joined (the load,
//     the first catch-up encoding, the frames);
//   - full-ms: from that Join to the joiner's last CatchUp frame: the
//     full state received (not merged: that is the client's cost);
//   - last-full-ms (joiners=10): the ten Joins sent at once, the time
//     until the slowest of them has its last CatchUp;
//   - cpu-ms: the CPU time (user and system) the whole process spent from
//     the Joins to the last CatchUp: the server's load, encoding and
//     writes, and the joiners' reads. On a machine shared with other work
//     it varies far less than the wall times.
//
// Run it with
//
//	nice go test -run '^$' -bench ColdJoinServer -benchtime 3x ./sync/server
func BenchmarkColdJoinServer(b *testing.B) {
	for _, joiners := range []int{1, 10} {
		b.Run(fmt.Sprintf("joiners=%d", joiners), func(b *testing.B) { benchColdJoinServer(b, joiners) })
	}
}

func benchColdJoinServer(b *testing.B, joiners int) {
	store, err := bolt.Open(bolt.Config{Path: filepath.Join(b.TempDir(), server.BoltFile)})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(server.Config{Dev: true, ShutdownTimeout: 5 * time.Second, Store: server.StoreConfig{Use: store}}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			b.Error(err)
		}
	}()
	url := "ws://" + ln.Addr().String() + "/v1/sync"

	var joined, full, lastFull, cpu []time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		wf := fmt.Sprintf("big-%d", i)
		storagetest.PrepareColdLoad(b, store, wf, 10_000, 10_000)
		conns := make([]*websocket.Conn, joiners)
		for j := range conns {
			conns[j] = hello(b, url, fmt.Sprintf("u%d", j), fmt.Sprintf("r-%d-%d", i, j))
		}
		b.StartTimer()
		cpu0 := cpuTime(b)
		start := time.Now()
		times := make([][2]time.Duration, joiners)
		var wg sync.WaitGroup
		for j, c := range conns {
			wg.Go(func() { times[j] = joinAndCatchUp(b, c, wf, start) })
		}
		wg.Wait()
		b.StopTimer()
		cpu = append(cpu, cpuTime(b)-cpu0)
		joined = append(joined, times[0][0])
		full = append(full, times[0][1])
		var slowest time.Duration
		for _, t := range times {
			slowest = max(slowest, t[1])
		}
		lastFull = append(lastFull, slowest)
		for _, c := range conns {
			c.Close()
		}
		b.StartTimer()
	}
	report := func(ds []time.Duration, unit string) {
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1e3, unit)
	}
	report(cpu, "cpu-ms")
	if joiners == 1 {
		report(joined, "joined-ms")
		report(full, "full-ms")
	} else {
		report(lastFull, "last-full-ms")
	}
}

// hello dials the server and completes the Hello/Welcome exchange.
func hello(b *testing.B, url, user, replica string) *websocket.Conn {
	b.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	h, _ := protocol.Encode(&protocol.Hello{ProtocolVersion: protocol.ProtocolVersion, Token: user, ReplicaID: replica})
	if err := c.WriteMessage(websocket.BinaryMessage, h); err != nil {
		b.Fatal(err)
	}
	_, msg, err := c.ReadMessage()
	if err != nil {
		b.Fatal(err)
	}
	if f, err := protocol.Decode(msg, protocol.Limits{}); err != nil || f.Type() != protocol.FrameWelcome {
		b.Fatalf("first frame: %v %v", f, err)
	}
	return c
}

// joinAndCatchUp joins wf with an empty context and returns the time from
// start to Joined and to the last CatchUp.
func joinAndCatchUp(b *testing.B, c *websocket.Conn, wf string, start time.Time) (t [2]time.Duration) {
	j, _ := protocol.Encode(&protocol.Join{WorkflowID: wf})
	if err := c.WriteMessage(websocket.BinaryMessage, j); err != nil {
		b.Error(err)
		return t
	}
	chunks, bytes := -1, 0
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			b.Error(err)
			return t
		}
		f, err := protocol.Decode(msg, protocol.Limits{})
		if err != nil {
			b.Error(err)
			return t
		}
		switch f := f.(type) {
		case *protocol.Joined:
			t[0] = time.Since(start)
			chunks = int(f.CatchUpChunks)
			if chunks == 0 {
				b.Error("a cold join without catch-up")
				return t
			}
		case *protocol.CatchUp:
			bytes += len(f.Delta)
			if f.Last {
				t[1] = time.Since(start)
				if bytes < 1<<20 {
					b.Errorf("catch-up of %d bytes: not the whole document", bytes)
				}
				return t
			}
		case *protocol.Error:
			b.Errorf("error frame: %v", f)
			return t
		}
	}
}

// cpuTime returns the user and system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
