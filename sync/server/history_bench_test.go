package server_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowsync/flowsync/internal/testutil"
)

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A restore of a 1,000-block workflow end to end (BENCHMARKS.md
// "Checkpoints"): the admin request (before-checkpoint, operations, the
// room's merge, relay and store write, the durable wait) until an
// editor connected to the room holds the restored document. CPU time is
// the whole process's: server and editor.
//
//	go test ./sync/server -run '^$' -bench Restore1000 -benchtime 10x
func BenchmarkRestore1000(b *testing.B) {
	n := startHistoryNode(b)
	for batch := range 10 {
		var items []string
		for i := batch * 100; i < (batch+1)*100; i++ {
			items = append(items, fmt.Sprintf(`{"operation": "add", "target": "block", "payload": {"id": "blk-%04d", "type": "agent", "name": "Agent %d", "position": {"x": %d, "y": %d}, "subBlocks": {"model": {"id": "model", "type": "combobox", "value": "gpt-4o"}, "systemPrompt": {"id": "systemPrompt", "type": "long-input", "value": "You are agent %d."}}}}`, i, i, i%50*250, i/50*150, i))
		}
		n.ok("POST", "/workflows/wf/operations", ops(user, items...))
	}
	cp := n.ok("POST", "/workflows/wf/checkpoints", `{"name": "base"}`)
	url := "ws" + strings.TrimPrefix(n.hs.URL, "http") + "/v1/sync"
	ed := startEditor(b, "ann", "wf", url, nil)
	ed.waitLive(b)
	has := func(id string) bool { _, ok := ed.c.View().Blocks[id]; return ok }
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		n.ok("POST", "/workflows/wf/operations", ops(user, `{"operation": "remove", "target": "block", "payload": {"id": "blk-0001"}}`))
		testutil.WaitFor(b, "the removal at the editor", func() bool { return !has("blk-0001") })
		b.StartTimer()
		start := processCPU()
		n.ok("POST", "/workflows/wf/restore", fmt.Sprintf(`{"checkpoint": %d}`, id(cp, "checkpoint")))
		testutil.WaitFor(b, "the restore at the editor", func() bool { return has("blk-0001") })
		cpu += processCPU() - start
	}
	b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
}
