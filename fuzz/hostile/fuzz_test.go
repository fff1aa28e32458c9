package hostile

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// stallBound is how long the room may take to answer one step of the
// attack (or one honest edit). The room's own target is 10 ms per frame
// (see the room benchmarks); the bound leaves room for a loaded 2-core
// machine under -race while still catching work that grows quadratically
// with a frame's size, which takes seconds at the sizes the generators
// reach.
// Under the race detector every bound is timeScale times longer.
var stallBound = flag.Duration("stall-bound", timeScale*250*time.Millisecond, "longest the room may take to answer one hostile step")

// stallAttempts is how many times an input that only stalled, and by less
// than retryBelow, is run before it counts as a finding: a real blow-up
// stalls every time, a scheduler hiccup on a shared machine does not.
// Longer stalls are not retried, so that an exec stays well inside the
// 10 s after which the fuzzer counts an input as a hang. Retries wait
// stallPause first, so a burst of load does not cover every attempt.
const (
	stallAttempts = 3
	retryBelow    = timeScale * time.Second
	stallPause    = time.Second
)

// execBudget is the time one exec aims to stay within, retries included;
// the fuzzer counts an input that takes 10 s as a hang.
const execBudget = timeScale * 7 * time.Second

// answerWithin is how long a step or an honest edit may go unanswered
// before the room counts as hung.
const answerWithin = timeScale * 3 * time.Second

// maxSteps bounds the steps of one attack, so that an exec stays short.
const maxSteps = 8

const wf = "wf-hostile"

// FuzzHostileRoom feeds an attacker's frames, chosen and mutated by the
// fuzzer, to a live room with two honest members, then checks that the
// room kept answering, that the honest members can still edit, and that
// they and a late joiner end with the server's document, which stays
// loadable. See the package comment for the checks.
func FuzzHostileRoom(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	survey := os.Getenv("FLOWSYNC_HOSTILE_SURVEY")
	f.Fuzz(func(t *testing.T, data []byte) {
		var out outcome
		start := time.Now()
		for attempt := range stallAttempts {
			if attempt > 0 {
				if time.Since(start)+stallPause+retryBelow > execBudget {
					break // no time left for a whole run
				}
				// A burst of other work on a shared machine can last longer
				// than one run; a blow-up in the room does not go away
				// with a pause.
				time.Sleep(stallPause)
			}
			out = runRoom(t, data)
			if len(out.faults) > 0 || len(out.stalls) == 0 || out.worst >= retryBelow {
				break
			}
		}
		if testing.Verbose() {
			t.Logf("attacker's answers: %v", out.answers)
		}
		found := append(out.faults, out.stalls...)
		if len(found) == 0 {
			return
		}
		if survey != "" {
			record(t, survey, data, found)
			return
		}
		t.Fatalf("input %x:\n%s", data, strings.Join(found, "\n"))
	})
}

// record records a failing input under dir instead of failing, once per
// kind of finding (its first line with the numbers taken out), so that one
// campaign lists every kind of defect instead of stopping at the first.
// Set FLOWSYNC_HOSTILE_SURVEY=dir to use it; the files are in the corpus
// format, so `go test -run FuzzHostileRoom/NAME` replays one once copied
// to testdata/fuzz/FuzzHostileRoom.
func record(t *testing.T, dir string, data []byte, found []string) {
	kind := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return -1
		}
		return r
	}, strings.SplitN(found[0], "\n", 2)[0])
	h := fnv.New64a()
	h.Write([]byte(kind))
	name := filepath.Join(dir, fmt.Sprintf("%016x", h.Sum64()))
	if _, err := os.Stat(name); err == nil {
		return
	}
	corpus := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
	note := fmt.Sprintf("%s\n", strings.Join(found, "\n"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(corpus), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name+".txt", []byte(note), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("new kind of finding, input written to %s: %s", name, kind)
}

// outcome is what one run found: stalls (a step answered slower than the
// bound) apart from every other fault.
type outcome struct {
	stalls  []string
	worst   time.Duration // the longest stall
	answers []string      // the attacker's answers, for -v
	faults  []string
}

func (o *outcome) stall(took time.Duration, format string, args ...any) {
	o.stalls = append(o.stalls, fmt.Sprintf(format, args...)+fmt.Sprintf(" took %v (bound %v)", took, *stallBound))
	o.worst = max(o.worst, took)
}

func (o *outcome) fault(format string, args ...any) {
	o.faults = append(o.faults, fmt.Sprintf(format, args...))
}

// runRoom runs one attack on a fresh server and reports what it found.
func runRoom(tb testing.TB, data []byte) (out outcome) {
	e := newEnv(tb)
	defer func() {
		if len(out.faults) > 0 || len(out.stalls) > 0 {
			// A room still busy with a blow-up would hold the shutdown
			// until it is done; the finding is made, so do not wait.
			e.closeWait = time.Second
			go e.close()
			return
		}
		_ = e.close()
	}()
	in := &input{b: data}
	a, b, err := setUp(e)
	if err != nil {
		out.fault("setting up the honest members: %v", err)
		return out
	}
	defer a.close()
	defer b.close()

	// The first byte configures the attacker: its role and whether it
	// merges what it is sent.
	cfg := in.byte()
	role := protocol.RoleWrite
	if cfg&3 == 3 {
		role = protocol.RoleRead
	}
	xp, err := e.connect("x", "mallory:"+string(role), "rep-x")
	if err != nil {
		out.fault("the attacker cannot connect: %v", err)
		return out
	}
	defer xp.close()
	if _, err := xp.join(wf); err != nil {
		out.fault("the attacker cannot join: %v", err)
		return out
	}
	// What the honest members do next, a stale attacker never merges: its
	// edits are concurrent with these.
	xp.stale = cfg&4 != 0
	if err := concurrentEdits(e, a, b); err != nil {
		out.fault("the honest members cannot edit after the attacker joined: %v", err)
		return out
	}
	x := &attacker{peer: xp, in: in, wf: wf, honest: []crdt.ReplicaID{a.replica, b.replica}}
	probeMAC := make([]byte, 32)
	attackStart := time.Now()
	for step := 0; step < maxSteps && !in.done() && x.closeCode == 0 && time.Since(attackStart) < execBudget/4; step++ {
		gen := int(data[min(in.i, len(data)-1)]) % numGenerators
		start := time.Now()
		x.step()
		// The probe: a Vouch with a receipt that cannot check, which the
		// room refuses after everything sent before it.
		op := fmt.Sprintf("probe-%d", step)
		x.peer.send(&protocol.Vouch{WorkflowID: wf, OpID: op, Delta: workflow.New().Encode(),
			Receipt: protocol.Receipt{KeyID: receiptKey.ID, MAC: probeMAC}})
		_, err := x.until(answerWithin, func(f protocol.Frame) bool {
			switch f := f.(type) {
			case *protocol.Nack:
				if f.OpID != op {
					out.answers = append(out.answers, f.Code.String())
				}
				return f.OpID == op
			case *protocol.Applied:
				if f.OpID != op {
					out.answers = append(out.answers, "applied")
				}
				return f.OpID == op
			case *protocol.Error:
				out.answers = append(out.answers, "error "+f.Code.String())
			case *protocol.Joined:
				out.answers = append(out.answers, "joined")
			}
			return false
		})
		took := time.Since(start)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			out.fault("step %d (generator %d): the room did not answer within %v", step, gen, answerWithin)
		case err != nil && x.closeCode == int(protocol.CloseInternalError):
			out.fault("step %d (generator %d): the attacker's session was closed with an internal error", step, gen)
		case err == nil && took > *stallBound:
			out.stall(took, "step %d (generator %d): the room's answer", step, gen)
		}
		if len(out.faults) > 0 || out.worst >= retryBelow {
			// Found; a room still busy would only make what follows
			// time out, and the exec must stay short.
			return out
		}
	}
	var panics dto.Metric
	if err := e.sessionMetrics.Panics.Write(&panics); err == nil && panics.GetCounter().GetValue() > 0 {
		out.fault("%v session readers panicked", panics.GetCounter().GetValue())
	}

	// The honest members edit after the attack, each on blocks of its own.
	for _, h := range []*peer{a, b} {
		id := "h-" + h.name
		raw, err := h.edit(workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{{ID: id, Type: "agent", Name: "by " + h.name,
			Position: &workflow.Position{X: 5, Y: 5}}}})
		if err != nil {
			out.fault("an honest edit cannot be made after the attack: %v", err)
			continue
		}
		nack, took, err := h.submit(wf, raw)
		switch {
		case err != nil:
			out.fault("%s's edit got no answer: %v", h.name, err)
		case nack != nil:
			out.fault("%s's edit was refused: %s (%s)", h.name, nack.Code, nack.Message)
		case took > *stallBound:
			out.stall(took, "%s's edit", h.name)
		}
	}
	if len(out.faults) > 0 {
		return out
	}

	// Everyone ends with the server's document.
	rm := e.reg.Room(wf)
	if rm == nil {
		out.fault("the room is gone")
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), answerWithin)
	defer cancel()
	server, err := rm.Snapshot(ctx)
	if err != nil {
		out.fault("the room does not answer a snapshot: %v", err)
		return out
	}
	want := server.Encode()
	for _, h := range []*peer{a, b} {
		if err := h.converge(want, answerWithin); err != nil {
			out.fault("%v", err)
		}
	}
	c, err := e.connect("c", "carol:write", "rep-c")
	if err != nil {
		out.fault("the late joiner cannot connect: %v", err)
		return out
	}
	defer c.close()
	if _, err := c.join(wf); err != nil {
		out.fault("the late joiner cannot join: %v", err)
	} else if got := c.doc.Encode(); !bytes.Equal(got, want) {
		out.fault("the late joiner's document (%d bytes) is not the server's (%d bytes)", len(got), len(want))
	}
	out.faults = append(out.faults, checkLoadable(want)...)
	view := server.View()
	for _, h := range []*peer{a, b} {
		if bv := view.Blocks["h-"+h.name]; bv == nil || bv.Name != "by "+h.name {
			out.fault("%s's block is missing from the server's view", h.name)
		}
	}
	for _, p := range []*peer{a, b, c, x.peer} {
		out.faults = append(out.faults, p.faults...)
	}
	for _, h := range []*peer{a, b} {
		if h.closeCode != 0 {
			out.fault("honest member %s was disconnected (close %d)", h.name, h.closeCode)
		}
		if role == protocol.RoleRead && h.dragsFrom[x.sid] > 0 {
			out.fault("a read-only member's Drag was relayed to %s", h.name)
		}
	}

	// And the store holds it: what a restart loads is the same document.
	// The clients hang up first, so the sessions end at once instead of
	// waiting out their close grace.
	for _, p := range []*peer{a, b, c, x.peer} {
		p.close()
	}
	if err := e.close(); err != nil {
		out.fault("the server does not shut down cleanly: %v", err)
		return out
	}
	stored, err := e.store.Load(context.Background(), wf)
	if err != nil {
		out.fault("the stored document does not load: %v", err)
	} else if got := stored.Encode(); !bytes.Equal(got, want) {
		out.fault("the stored document (%d bytes) is not the server's (%d bytes)", len(got), len(want))
	}
	return out
}

// setUp connects the two honest members, who build a small document with
// containers for the attacker to fight over.
func setUp(e *env) (a, b *peer, err error) {
	if a, err = e.connect("a", "alice:write", "rep-a"); err != nil {
		return nil, nil, err
	}
	if b, err = e.connect("b", "bob:write", "rep-b"); err != nil {
		return nil, nil, err
	}
	for _, p := range []*peer{a, b} {
		if _, err := p.join(wf); err != nil {
			return nil, nil, err
		}
	}
	at := func(x float64) *workflow.Position { return &workflow.Position{X: x, Y: 100} }
	edits := []edit{
		{a, workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{
			{ID: "b1", Type: "agent", Name: "Agent 1", Position: at(0)},
			{ID: "loop1", Type: "loop", Name: "Loop 1", Position: at(200)},
			{ID: "par1", Type: "parallel", Name: "Parallel 1", Position: at(400)},
		}}},
		{b, workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{
			{ID: "b2", Type: "agent", Name: "Agent 2", Position: at(600), Data: map[string]any{"parentId": "loop1", "extent": "parent"}},
		}}},
	}
	return a, b, run(e, edits)
}

// concurrentEdits are the honest members' edits after the attacker joined:
// a move of one container into another and the add of an id the attacker
// also uses.
func concurrentEdits(e *env, a, b *peer) error {
	return run(e, []edit{
		{a, workflow.UpdateParent{ID: "loop1", ParentID: "par1", Extent: "parent"}},
		{b, workflow.BatchAddBlocks{Blocks: []workflow.BlockInput{
			{ID: "x1", Type: "agent", Name: "Agent x1", Position: &workflow.Position{X: 800, Y: 100}},
		}}},
	})
}

// edit is one honest edit.
type edit struct {
	p  *peer
	op workflow.Op
}

// run makes the edits one after the other.
func run(e *env, edits []edit) error {
	for _, ed := range edits {
		// Each sees the other's edits first, as a user would.
		if err := ed.p.catchUp(e); err != nil {
			return err
		}
		raw, err := ed.p.edit(ed.op)
		if err != nil {
			return err
		}
		nack, _, err := ed.p.submit(wf, raw)
		if err != nil {
			return err
		}
		if nack != nil {
			return fmt.Errorf("%s: %s refused: %s", ed.p.name, ed.op.Name(), nack.Code)
		}
	}
	return nil
}

// catchUp reads until the peer holds the room's document.
func (p *peer) catchUp(e *env) error {
	rm := e.reg.Room(wf)
	if rm == nil {
		return errors.New("the room is gone")
	}
	ctx, cancel := context.WithTimeout(context.Background(), answerWithin)
	defer cancel()
	d, err := rm.Snapshot(ctx)
	if err != nil {
		return err
	}
	return p.converge(d.Encode(), answerWithin)
}

// converge reads until the peer's document encodes to want.
func (p *peer) converge(want []byte, d time.Duration) error {
	deadline := time.Now().Add(d)
	for !bytes.Equal(p.doc.Encode(), want) {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%s's document (%d bytes) did not become the server's (%d bytes) within %v",
				p.name, len(p.doc.Encode()), len(want), d)
		}
		if _, err := p.next(left); errors.Is(err, errClosed) {
			return fmt.Errorf("%s was disconnected (close %d) before it had the server's document", p.name, p.closeCode)
		}
	}
	return nil
}
