package faults

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
	"github.com/flowsync/flowsync/sync/client"
	"github.com/flowsync/flowsync/sync/protocol"
)

// World is what the checker looks at after the faults healed.
type World struct {
	Nodes   []*Node
	Editors []*Editor
	// Stores are every store that must end up holding each live
	// workflow (one per store group).
	Stores []Store
	// Deleted are the workflows deleted during the run.
	Deleted map[string]bool
	// Strict turns on the checks of the client's deleted state that today's
	// client fails (Apply refused and the outbox dropped after a deletion it
	// learned from a refused join).
	Strict bool
}

// Check is a run's verdict: the figures of the summary line and every
// finding, each saying precisely what diverged.
type Check struct {
	Scenario string
	Seed     uint64
	Kills    int
	Cuts     int

	Ops          int // edits the editors applied
	DurableAcked int // deltas the server acknowledged as durable
	Replicas     int // documents compared
	Convergence  time.Duration

	Lost      []string // durable-acked deltas a store lacks
	Unstored  []string // edits of live editors missing from a store after healing
	Divergent []string // replicas still different at the deadline
	Refusals  []string // honest edits (or joins) refused for good
	Deletion  []string // deleted workflows not seen as deleted everywhere
	Stuck     []string // editors not live with an empty outbox at the deadline
}

// Failed reports whether any finding was recorded.
func (c *Check) Failed() bool {
	return len(c.Lost)+len(c.Unstored)+len(c.Divergent)+len(c.Refusals)+len(c.Deletion)+len(c.Stuck) > 0
}

// Summary is the one-line result with every figure.
func (c *Check) Summary() string {
	return fmt.Sprintf("faults: scenario=%s seed=%d kills=%d cuts=%d ops=%d durable-acked=%d lost=%d unstored=%d replicas=%d divergent=%d refused=%d deletion-problems=%d stuck=%d convergence=%v",
		c.Scenario, c.Seed, c.Kills, c.Cuts, c.Ops, c.DurableAcked, len(c.Lost), len(c.Unstored), c.Replicas,
		len(c.Divergent), len(c.Refusals), len(c.Deletion), len(c.Stuck), c.Convergence.Round(time.Millisecond))
}

// Report logs the summary and fails t with every finding.
func (c *Check) Report(t testing.TB) {
	t.Helper()
	t.Log(c.Summary())
	for _, f := range []struct {
		what string
		list []string
	}{
		{"durable-acked edit lost", c.Lost}, {"edit never stored", c.Unstored}, {"replicas diverge", c.Divergent},
		{"honest edit refused", c.Refusals}, {"deletion", c.Deletion}, {"editor stuck", c.Stuck},
	} {
		for i, s := range f.list {
			if i == 10 {
				t.Errorf("%s: … %d more", f.what, len(f.list)-10)
				break
			}
			t.Errorf("%s: %s", f.what, s)
		}
	}
}

// Refusals lists the refusals an editor's tap saw that an honest client
// must never get: a Nack that will not be retried, or an Error that ends
// the session's room, except WORKFLOW_DELETED for a deleted workflow.
func Refusals(e *Editor, deleted bool) []string {
	var out []string
	for _, r := range e.Tap.Refusals() {
		if r.Retryable || (deleted && r.Code == protocol.CodeWorkflowDeleted) {
			continue
		}
		out = append(out, fmt.Sprintf("%s got %s", e.Name, r))
	}
	return out
}

// Acks are the deltas each editor's server acknowledged as durable, taken
// at one moment.
type Acks map[*Editor][]Ack

// TakeAcks collects the editors' durable acks so far. Take them before
// reading a store that running nodes write to: an ack that arrives during
// the read may be for a commit the read's snapshot predates.
func TakeAcks(editors []*Editor) Acks {
	a := make(Acks, len(editors))
	for _, e := range editors {
		a[e] = e.Tap.Durable()
	}
	return a
}

// OwnDots returns the dots of replica in ctx: the edits a delta of that
// replica's session carries. Other replicas' dots in its context name
// values it replaced, which the server may leave out when it cannot vouch
// for them; they are not the sender's edits.
func OwnDots(ctx *crdt.Context, replica crdt.ReplicaID) *crdt.Context {
	own := crdt.NewContext()
	for _, r := range ctx.Ranges(replica) {
		own.AddRange(replica, r)
	}
	return own
}

// CheckDurable lists the durable-acked deltas of the editors of wf whose
// own edits stored lacks.
func CheckDurable(storeName string, stored *workflow.Doc, acks Acks, wf string) (acked int, lost []string) {
	eds := make([]*Editor, 0, len(acks))
	for e := range acks {
		eds = append(eds, e)
	}
	slices.SortFunc(eds, func(a, b *Editor) int { return strings.Compare(a.Name, b.Name) })
	for _, e := range eds {
		if e.Workflow != wf {
			continue
		}
		n := 0
		var first string
		for _, a := range acks[e] {
			acked++
			own := OwnDots(a.Context, a.Replica)
			if !stored.Context().Covers(own) {
				n++
				if first == "" {
					first = fmt.Sprintf("op %s on connection %d: missing dots %s of %s",
						a.OpID, a.Conn, dots(own.Missing(stored.Context())), dots(own))
				}
			}
		}
		if n > 0 {
			lost = append(lost, fmt.Sprintf("%s lacks %d delta(s) %s's server acknowledged as durable (first: %s)", storeName, n, e.Name, first))
		}
	}
	return acked, lost
}

// checkStored lists the edits of the editors of wf that stored lacks.
func checkStored(storeName string, stored *workflow.Doc, editors []*Editor, wf string, status map[*Editor]client.Status) []string {
	var out []string
	for _, e := range editors {
		if e.Workflow != wf {
			continue
		}
		n, total := 0, 0
		var first string
		for _, op := range e.Edits() {
			total++
			own := OwnDots(op.Delta.Context(), op.Replica)
			if !stored.Context().Covers(own) {
				n++
				if first == "" {
					first = dots(own.Missing(stored.Context()))
				}
			}
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%s lacks %d of %s's %d edits (first missing dots %s; %s said %q before the nodes were stopped)", storeName, n, e.Name, total, first, e.Name, status[e]))
		}
	}
	return out
}

// Workflows returns the workflows the editors edit, sorted.
func (w *World) Workflows() []string {
	var wfs []string
	for _, e := range w.Editors {
		if !slices.Contains(wfs, e.Workflow) {
			wfs = append(wfs, e.Workflow)
		}
	}
	slices.Sort(wfs)
	return wfs
}

// replicas returns every copy of wf the checker compares: each editor's
// document and each running node's as a fresh reader sees it.
func (w *World) replicas(wf string) (names []string, docs []*workflow.Doc, problems []string) {
	for _, e := range w.Editors {
		if e.Workflow == wf {
			names, docs = append(names, e.Name), append(docs, e.C.Doc())
		}
	}
	for _, n := range w.Nodes {
		if !n.Up() {
			continue
		}
		d, err := ReadDoc(n.URL(), wf, 5*time.Second)
		if err != nil {
			problems = append(problems, fmt.Sprintf("a fresh reader on %s: %v", n.Config.Name, err))
			continue
		}
		names, docs = append(names, "fresh reader on "+n.Config.Name), append(docs, d)
	}
	return names, docs, problems
}

// compare returns how each document differs from the first.
func compare(names []string, docs []*workflow.Doc) []string {
	var out []string
	for i := 1; i < len(docs); i++ {
		if d := Diff(names[0], docs[0], names[i], docs[i]); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// Verify waits (until deadline after healedAt) for every editor of a live
// workflow to be live with an empty outbox and for every replica to be
// equal, then kills every node (what was acknowledged must survive that
// too) and compares each store with the converged documents. Deleted
// workflows must be deleted everywhere instead. It returns the verdict;
// Kills, Cuts, Scenario and Seed are the caller's to fill.
func (w *World) Verify(healedAt time.Time, deadline time.Duration) *Check {
	c := &Check{}
	end := healedAt.Add(deadline)
	final := make(map[string]*workflow.Doc)
	// Quiescence: outboxes empty, then equal documents.
	for _, e := range w.Editors {
		if w.Deleted[e.Workflow] {
			continue
		}
		for !e.Live() && time.Now().Before(end) && e.Running() {
			time.Sleep(20 * time.Millisecond)
		}
		if !e.Live() {
			c.Stuck = append(c.Stuck, fmt.Sprintf("%s: %v (run ended: %v)", e.Name, e.C.Status(), e.RunErr()))
		}
	}
	var converged time.Time
	for _, wf := range w.Workflows() {
		if w.Deleted[wf] {
			continue
		}
		var diffs []string
		for {
			names, docs, problems := w.replicas(wf)
			diffs = append(problems, compare(names, docs)...)
			if len(diffs) == 0 {
				c.Replicas += len(docs)
				final[wf] = docs[0]
				break
			}
			if time.Now().After(end) {
				c.Replicas += len(docs)
				if len(docs) > 0 {
					final[wf] = docs[0]
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, d := range diffs {
			c.Divergent = append(c.Divergent, wf+": "+d)
		}
		converged = time.Now()
	}
	if !converged.IsZero() {
		c.Convergence = converged.Sub(healedAt)
	}
	for wf := range w.Deleted {
		c.Deletion = append(c.Deletion, w.checkDeleted(wf, end)...)
	}
	for _, e := range w.Editors {
		c.Ops += len(e.Ops())
		c.Refusals = append(c.Refusals, Refusals(e, w.Deleted[e.Workflow])...)
	}
	// Stores, with every node down.
	status := make(map[*Editor]client.Status)
	for _, e := range w.Editors {
		status[e] = e.C.Status()
	}
	for _, n := range w.Nodes {
		n.Kill()
	}
	acks := TakeAcks(w.Editors)
	for _, wf := range w.Workflows() {
		ackedWF := 0
		for _, st := range w.Stores {
			stored, err := st.Load(wf)
			if w.Deleted[wf] {
				if !errors.Is(err, storage.ErrDeleted) {
					c.Deletion = append(c.Deletion, fmt.Sprintf("%s: store %s loads it (err %v) instead of answering deleted", wf, st.Name, err))
				}
				continue
			}
			if err != nil {
				c.Lost = append(c.Lost, fmt.Sprintf("%s: store %s: %v", wf, st.Name, err))
				continue
			}
			acked, lost := CheckDurable("store "+st.Name, stored, acks, wf)
			ackedWF = max(ackedWF, acked)
			c.Lost = append(c.Lost, lost...)
			c.Unstored = append(c.Unstored, checkStored("store "+st.Name, stored, w.Editors, wf, status)...)
			if ref := final[wf]; ref != nil {
				if d := Diff("the converged document", ref, "store "+st.Name, stored); d != "" {
					c.Divergent = append(c.Divergent, wf+": "+d)
				}
			}
		}
		c.DurableAcked += ackedWF
	}
	return c
}

// checkDeleted waits until every node refuses a fresh reader of wf with
// WORKFLOW_DELETED and every editor of wf learned the deletion (strict:
// and entered the deleted state: Apply refused, outbox dropped).
func (w *World) checkDeleted(wf string, end time.Time) []string {
	var out []string
	for _, n := range w.Nodes {
		if !n.Up() {
			continue
		}
		for {
			_, err := ReadDoc(n.URL(), wf, 3*time.Second)
			var pe *protocol.Error
			if errors.As(err, &pe) && pe.Code == protocol.CodeWorkflowDeleted {
				break
			}
			if time.Now().After(end) {
				out = append(out, fmt.Sprintf("%s: a fresh reader on %s gets %v instead of WORKFLOW_DELETED", wf, n.Config.Name, describeJoin(err)))
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, e := range w.Editors {
		if e.Workflow != wf {
			continue
		}
		for !e.HeardDeleted() && time.Now().Before(end) {
			time.Sleep(20 * time.Millisecond)
		}
		if !e.HeardDeleted() {
			out = append(out, fmt.Sprintf("%s: %s never learned of the deletion (%v, run: %v)", wf, e.Name, e.C.Status(), e.RunErr()))
			continue
		}
		if !w.Strict {
			continue
		}
		if _, err := e.C.Apply(workflow.AddVariable{ID: "after-delete-" + e.Name, VarName: "after-delete-" + e.Name}); !errors.Is(err, client.ErrWorkflowDeleted) {
			out = append(out, fmt.Sprintf("%s: %s learned of the deletion (run: %v) but Apply answers %v instead of ErrWorkflowDeleted", wf, e.Name, e.RunErr(), err))
		}
		if p := e.C.Pending(); p > 0 {
			out = append(out, fmt.Sprintf("%s: %s learned of the deletion but keeps %d edits in its outbox", wf, e.Name, p))
		}
	}
	return out
}

func describeJoin(err error) string {
	if err == nil {
		return "the document"
	}
	return strings.TrimPrefix(err.Error(), "client: ")
}
