package session_test

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/rooms"
	"github.com/flowsync/flowsync/sync/protocol"
	"github.com/flowsync/flowsync/sync/session"
)

// ackLog is what a client learned from the acknowledgement frames it read,
// in order.
type ackLog struct {
	applied, durable []string
	order            []string // "a:op", "d:op", "n:op" as they were learned
	frames           map[protocol.FrameType]int
}

func (l *ackLog) read(t *testing.T, c *client, done func(*ackLog) bool) {
	t.Helper()
	if l.frames == nil {
		l.frames = map[protocol.FrameType]int{}
	}
	for !done(l) {
		f, err := c.next()
		if err != nil {
			t.Fatalf("reading acks: %v (so far %v)", err, l.order)
		}
		c.absorb(f)
		l.frames[f.Type()]++
		switch f := f.(type) {
		case *protocol.Applied:
			l.applied = append(l.applied, f.OpID)
			l.order = append(l.order, "a:"+f.OpID)
		case *protocol.Durable:
			for _, id := range f.OpIDs {
				l.durable = append(l.durable, id)
				l.order = append(l.order, "d:"+id)
			}
		case *protocol.Acks:
			for _, id := range f.Applied {
				l.applied = append(l.applied, id)
				l.order = append(l.order, "a:"+id)
			}
			for _, id := range f.Durable {
				l.durable = append(l.durable, id)
				l.order = append(l.order, "d:"+id)
			}
		case *protocol.Nack:
			l.order = append(l.order, "n:"+f.OpID)
		}
	}
}

// check fails unless every op of ops was applied exactly once, in order,
// and made durable exactly once, after it was applied.
func (l *ackLog) check(t *testing.T, ops []string) {
	t.Helper()
	if !slices.Equal(l.applied, ops) {
		t.Fatalf("applied %v, want %v", l.applied, ops)
	}
	if got := slices.Sorted(slices.Values(l.durable)); !slices.Equal(got, slices.Sorted(slices.Values(ops))) {
		t.Fatalf("durable %v, want each of %v once", l.durable, ops)
	}
	for _, op := range ops {
		if slices.Index(l.order, "d:"+op) < slices.Index(l.order, "a:"+op) {
			t.Fatalf("%s durable before applied: %v", op, l.order)
		}
	}
}

// sendEdits sends n deltas, each adding a block of its own, without
// waiting for answers, and returns their op ids.
func sendEdits(c *client, n int) []string {
	ops := make([]string, n)
	for i := range ops {
		id := fmt.Sprintf("b%s-%d", c.replica, c.ops)
		ops[i] = c.sendDelta("wf", c.edit(addBlock(id, "Agent "+id)))
	}
	return ops
}

// TestAcksOldClient: a client that does not ask for the acks capability
// is told none is granted and gets an Applied per submission and Durable
// frames, never an Acks.
func TestAcksOldClient(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:A", "rep-a")
	if len(a.caps) != 0 {
		t.Fatalf("Welcome.caps = %v for a client that asked for none", a.caps)
	}
	a.join("wf", "")
	ops := sendEdits(a, 40)
	var l ackLog
	l.read(t, a, func(l *ackLog) bool { return len(l.durable) >= len(ops) })
	l.check(t, ops)
	if l.frames[protocol.FrameAcks] != 0 || l.frames[protocol.FrameApplied] != len(ops) || l.frames[protocol.FrameDurable] == 0 {
		t.Fatalf("frames %v: want %d Applied, some Durable, no Acks", l.frames, len(ops))
	}
}

// TestAcksCoalesced: a client that asks for acks gets them as Acks frames
// only, each op applied once in order and durable once after it was
// applied, and nothing of another session's acks.
func TestAcksCoalesced(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:A", "rep-a", "later", protocol.CapabilityAcks)
	if !slices.Equal(a.caps, []string{protocol.CapabilityAcks}) {
		t.Fatalf("Welcome.caps = %v, want [acks] (unknown names ignored)", a.caps)
	}
	b := e.connect(t, "ub:B", "rep-b", protocol.CapabilityAcks)
	a.join("wf", "")
	b.join("wf", "")
	opsA := sendEdits(a, 60)
	opsB := sendEdits(b, 60)
	var la, lb ackLog
	la.read(t, a, func(l *ackLog) bool { return len(l.durable) >= len(opsA) })
	lb.read(t, b, func(l *ackLog) bool { return len(l.durable) >= len(opsB) })
	la.check(t, opsA)
	lb.check(t, opsB)
	for _, l := range []*ackLog{&la, &lb} {
		if l.frames[protocol.FrameApplied] != 0 || l.frames[protocol.FrameDurable] != 0 || l.frames[protocol.FrameAcks] == 0 {
			t.Fatalf("frames %v: want Acks only", l.frames)
		}
	}
	t.Logf("A: %d Acks frames for %d ops; B: %d", la.frames[protocol.FrameAcks], len(opsA), lb.frames[protocol.FrameAcks])
}

// TestAcksNackOrder: the acks gathered before a Nack reach the client
// before it, so a client still learns its answers in submission order.
func TestAcksNackOrder(t *testing.T) {
	e := newEnv(t, nil)
	a := e.connect(t, "ua:A", "rep-a", protocol.CapabilityAcks)
	a.join("wf", "")
	// Another replica's edit: the room refuses it (FORGED_DOT), in turn
	// with A's other submissions.
	other := workflow.New()
	forged, err := other.Apply(crdt.NewClock("rep-x").Now(e.wall0), addBlock("x", "X"))
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	want := []string{}
	for i := range 30 {
		if i%7 == 3 {
			op := fmt.Sprintf("bad-%d", i)
			a.send(&protocol.Delta{WorkflowID: "wf", OpID: op, Delta: forged.Encode()})
			want = append(want, "n:"+op)
			continue
		}
		op := a.sendDelta("wf", a.edit(addBlock(fmt.Sprintf("b%d", i), fmt.Sprintf("Agent %d", i))))
		ops = append(ops, op)
		want = append(want, "a:"+op)
	}
	var l ackLog
	l.read(t, a, func(l *ackLog) bool { return len(l.durable) >= len(ops) })
	l.check(t, ops)
	var got []string
	for _, o := range l.order {
		if o[0] != 'd' {
			got = append(got, o)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("answers in order %v, want %v", got, want)
	}
}

// TestAcksNotDurableEarly: with the store holding its writes, an Acks
// lists the ops applied but none durable; each becomes durable only after
// a write that covers it commits.
func TestAcksNotDurableEarly(t *testing.T) {
	e := newEnv(t, nil)
	e.store.appends = make(chan struct{})
	a := e.connect(t, "ua:A", "rep-a", protocol.CapabilityAcks)
	a.join("wf", "")
	ops := sendEdits(a, 10)
	var l ackLog
	l.read(t, a, func(l *ackLog) bool { return len(l.applied) >= len(ops) })
	if len(l.durable) != 0 {
		t.Fatalf("durable %v before any write committed", l.durable)
	}
	// Let writes through one at a time: what is durable only grows, and
	// only by ops a committed write held.
	for len(l.durable) < len(ops) {
		e.store.appends <- struct{}{}
		n := len(l.durable)
		l.read(t, a, func(l *ackLog) bool { return len(l.durable) > n })
	}
	l.check(t, ops)
}

// TestFlushKeepsOrder: whether the writer writes at once or lingers, a
// member receives the room's relays in the order the room numbered them,
// none missing, and its own acks in submission order, while edits arrive
// in bursts and one at a time.
func TestFlushKeepsOrder(t *testing.T) {
	e := newEnv(t, func(s *session.Config, _ *rooms.Config) { s.FramesPerSecond = -1 })
	a := e.connect(t, "ua:A", "rep-a", protocol.CapabilityAcks)
	b := e.connect(t, "ub:B", "rep-b")
	a.join("wf", "")
	j := b.join("wf", "")
	var ops []string
	var l ackLog
	for burst := range 12 {
		// Bursts of growing size, and single edits between them.
		ops = append(ops, sendEdits(a, 1+burst*burst)...)
		l.read(t, a, func(l *ackLog) bool { return len(l.applied) >= len(ops) })
	}
	if !slices.Equal(l.applied, ops) {
		t.Fatalf("A's ops applied in order %v, want %v", l.applied, ops)
	}
	next := j.Seq + 1
	for next <= j.Seq+uint64(len(ops)) {
		f := b.expect(protocol.FrameRemoteDelta).(*protocol.RemoteDelta)
		if f.Seq != next {
			t.Fatalf("relay seq %d, want %d", f.Seq, next)
		}
		next++
		if len(b.doc.View().Blocks) == len(ops) {
			break
		}
	}
	if n := len(b.doc.View().Blocks); n != len(ops) {
		t.Fatalf("B holds %d blocks, want %d", n, len(ops))
	}
}

// An editor alone at a low rate is answered with one socket write per edit:
// the Applied ids wait (up to twice FlushInterval) for the Durable of the
// same edit, and one Acks carries both. Before the hold, the Applied went
// out as soon as the room answered and the Durable in a second write once
// the store had committed (here each commit waits until the Applied was
// handed to the writer), where a bare relay also writes two.
func TestAcksOneWritePerSparseEdit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, nil) // FlushInterval 10 ms, MinWriteInterval 10 ms
		a := e.connect(t, "ua:A", "rep-a", protocol.CapabilityAcks)
		a.join("wf", "")
		a.sendDelta("wf", a.edit(addBlock("b", "B")))
		awaitDurable(a, "op-1")
		advance(2 * time.Second) // every held Stable written, the writer ended

		const edits = 10
		e.store.appends = make(chan struct{}) // each commit waits for the test
		n0, _ := batches(t, e.metrics)
		var log ackLog
		for i := range edits {
			op := a.sendDelta("wf", a.edit(workflow.UpdatePosition{ID: "b", Position: workflow.Position{X: float64(i), Y: 2}}))
			synctest.Wait() // merged, answered; the store write waits
			e.store.appends <- struct{}{}
			log.read(t, a, func(l *ackLog) bool { return slices.Contains(l.durable, op) })
			advance(time.Second) // sparse: the next edit finds the connection quiet
		}
		n1, _ := batches(t, e.metrics)
		t.Logf("%d edits: %d socket writes, frames %v", edits, n1-n0, log.frames)
		if len(log.applied) != edits {
			t.Errorf("%d ops applied, want %d", len(log.applied), edits)
		}
		if got := n1 - n0; got != edits {
			t.Errorf("%d socket writes for %d sparse edits, want one each", got, edits)
		}
	})
}

// The hold of Applied ids is bounded: with the store not committing, they
// go out on their own twice FlushInterval after the room answered.
func TestAcksAppliedHoldBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newBubbleEnv(t, nil) // FlushInterval 10 ms
		a := e.connect(t, "ua:A", "rep-a", protocol.CapabilityAcks)
		a.join("wf", "")
		a.sendDelta("wf", a.edit(addBlock("b", "B")))
		awaitDurable(a, "op-1")
		advance(2 * time.Second)

		e.store.appends = make(chan struct{}) // no commit until the test says
		op := a.sendDelta("wf", a.edit(workflow.UpdatePosition{ID: "b", Position: workflow.Position{X: 1, Y: 2}}))
		synctest.Wait()
		start := time.Now()
		var log ackLog
		log.read(t, a, func(l *ackLog) bool { return slices.Contains(l.applied, op) })
		if held := time.Since(start); held > 20*time.Millisecond || len(log.durable) > 0 {
			t.Errorf("Applied after %v (durable %v), want within 20 ms and before any Durable", held, log.durable)
		}
		e.store.appends <- struct{}{}
		log.read(t, a, func(l *ackLog) bool { return slices.Contains(l.durable, op) })
	})
}
