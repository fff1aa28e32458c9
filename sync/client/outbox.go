package client

import (
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// entry is one local edit the server has not yet made durable. Entries stay
// one per edit whatever the frames they travel in, so that the server's
// answer can be per edit.
type entry struct {
	id    string
	seq   uint64 // its key in Config.Dir's outbox; 0 when not stored there
	delta *workflow.Doc
	enc   []byte // delta.Encode(), what goes in the Delta frame
	// mine holds the counters of the client's replica that the edit minted.
	// The delta's context also holds older dots it covers (an overwrite
	// names what it overwrote); only these are the edit's own.
	mine []crdt.Range
	// gen is the connection generation the entry was last sent on; an entry
	// whose gen is not the current connection's is due for sending.
	gen     uint64
	applied bool      // the server merged it (Applied) on connection gen
	retries int       // retryable Nacks so far
	retryAt time.Time // not before this (runtime clock), after a retryable Nack
	// solo entries are sent in a frame of their own: a frame they were
	// folded into was refused for good, and only a frame per edit lets the
	// server say which edit it refuses.
	solo bool
	// count caches counts().
	count *workflow.Counts
}

// counts returns what e's delta holds of each thing the work caps bound,
// computed once.
func (e *entry) counts() workflow.Counts {
	if e.count == nil {
		c := e.delta.Counts()
		e.count = &c
	}
	return *e.count
}

// mintedBy returns the dots of replica that e minted, as a context.
func (e *entry) mintedBy(replica crdt.ReplicaID) *crdt.Context {
	c := crdt.NewContext()
	for _, r := range e.mine {
		c.AddRange(replica, r)
	}
	return c
}

// outbox keeps entries in the order they were written. It is guarded by the
// Client's mutex.
type outbox struct {
	entries []*entry
	byID    map[string]*entry
}

func (o *outbox) len() int { return len(o.entries) }

func (o *outbox) add(e *entry) {
	if o.byID == nil {
		o.byID = make(map[string]*entry)
	}
	o.entries = append(o.entries, e)
	o.byID[e.id] = e
}

func (o *outbox) get(id string) *entry { return o.byID[id] }

// remove drops the entries named in ids and returns how many it dropped.
func (o *outbox) remove(ids ...string) int {
	n := 0
	for _, id := range ids {
		if _, ok := o.byID[id]; ok {
			delete(o.byID, id)
			n++
		}
	}
	if n == 0 {
		return 0
	}
	kept := o.entries[:0]
	for _, e := range o.entries {
		if _, ok := o.byID[e.id]; ok {
			kept = append(kept, e)
		}
	}
	clear(o.entries[len(kept):])
	o.entries = kept
	return n
}

func (o *outbox) clear() {
	o.entries = nil
	o.byID = nil
}

// unacked counts the entries not applied on connection gen.
func (o *outbox) unacked(gen uint64) int {
	n := 0
	for _, e := range o.entries {
		if !e.applied || e.gen != gen {
			n++
		}
	}
	return n
}

// outFrame is one Delta frame to send: its op id, the entries it carries
// and its delta.
type outFrame struct {
	id      string
	entries []*entry
	enc     []byte
}

// group cuts the due entries (in outbox order) into runs to fold into one
// frame each, of at most about limit encoded bytes and within the work caps
// (workflow.DeltaCaps, by the parts' summed counts). Solo entries, entries
// larger than limit (the server will refuse them with TOO_LARGE), and every
// entry when folding is off make runs of one. Grouping only adds sizes, so
// the writer can group everything due and fold only the runs it has the
// rate budget to send.
func group(due []*entry, limit int, folding bool) [][]*entry {
	var out [][]*entry
	var run []*entry
	size := 0
	var counts workflow.Counts // summed over the run: at least the fold's
	flush := func() {
		if len(run) > 0 {
			out = append(out, run)
		}
		run, size, counts = nil, 0, workflow.Counts{}
	}
	for _, e := range due {
		if !folding || e.solo || len(e.enc) > limit {
			flush()
			out = append(out, []*entry{e})
			continue
		}
		// The encoded size of a merge is at most about the sum of the
		// parts' (shared replica tables and contexts only shrink it); keep
		// a margin for msgpack headers that grow.
		// Counts only shrink in a merge too: a run whose summed counts
		// are within the work caps folds into a delta the server admits.
		c := e.counts()
		sum := workflow.Counts{Values: counts.Values + c.Values, Replicas: counts.Replicas + c.Replicas,
			Ranges: counts.Ranges + c.Ranges, ValueNodes: counts.ValueNodes + c.ValueNodes}
		if len(run) > 0 && (size+len(e.enc) > limit*3/4 || !sum.Within(workflow.DeltaCaps)) {
			flush()
			sum = c
		}
		run = append(run, e)
		size += len(e.enc)
		counts = sum
	}
	flush()
	return out
}

// fold turns a run into frames: one entry keeps its own op id (a retried
// edit is resent under the same id); several are joined by Merge under a
// fresh id from newID. A fold never drops a write: the merged delta's
// context covers every folded dot, so it carries everything its parts did.
// A join that comes out larger than limit (msgpack growth past group's
// margin), or past the work caps a server holds a delta to
// (workflow.DeltaCaps), is sent as its parts instead.
func fold(run []*entry, limit int, newID func() string) []outFrame {
	alone := func(e *entry) outFrame { return outFrame{id: e.id, entries: []*entry{e}, enc: e.enc} }
	if len(run) == 1 {
		return []outFrame{alone(run[0])}
	}
	merged := workflow.New()
	for _, e := range run {
		merged.Merge(e.delta)
	}
	if enc := merged.Encode(); len(enc) <= limit && (len(enc) <= workflow.DeltaCaps.SafeBytes() || merged.Counts().Within(workflow.DeltaCaps)) {
		return []outFrame{{id: newID(), entries: run, enc: enc}}
	}
	out := make([]outFrame, len(run))
	for i, e := range run {
		out[i] = alone(e)
	}
	return out
}

// Recent durable deltas are kept for a while after their Durable ack. A
// server node can make a delta durable and then die before its peers have
// heard it: the delta is in the store, but the live rooms of the surviving
// nodes never load it again. On every join the client therefore re-sends
// the recent deltas whose dots the server's context (Joined.ctx) lacks.
const (
	maxRecentDeltas = 4096
	maxRecentBytes  = 8 << 20
)

// recent is a bounded FIFO of durable entries. It is guarded by the
// client's mutex.
type recent struct {
	entries []*entry
	bytes   int
}

func (r *recent) add(e *entry) {
	r.entries = append(r.entries, e)
	r.bytes += len(e.enc)
	for len(r.entries) > maxRecentDeltas || r.bytes > maxRecentBytes {
		r.bytes -= len(r.entries[0].enc)
		r.entries[0] = nil
		r.entries = r.entries[1:]
	}
}

// lacking removes and returns the entries that minted a dot of replica that
// have has not seen.
func (r *recent) lacking(have *crdt.Context, replica crdt.ReplicaID) []*entry {
	var out []*entry
	kept := r.entries[:0]
	for _, e := range r.entries {
		if have.Covers(e.mintedBy(replica)) {
			kept = append(kept, e)
			continue
		}
		out = append(out, e)
		r.bytes -= len(e.enc)
	}
	clear(r.entries[len(kept):])
	r.entries = kept
	return out
}
