package client

import (
	"time"

	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// entry is one local delta the server has not yet made durable.
type entry struct {
	id    string
	delta *workflow.Doc
	enc   []byte // delta.Encode(), what goes in the Delta frame
	// gen is the connection generation the entry was last sent on; an entry
	// whose gen is not the current connection's is due for sending.
	gen     uint64
	applied bool      // the server merged it (Applied) on connection gen
	retries int       // retryable Nacks so far
	retryAt time.Time // not before this (runtime clock), after a retryable Nack
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

// coalesce folds runs of the given due entries (in outbox order) into
// single entries by Merge, each at most limit encoded bytes, and returns the
// entries to send. A fold never drops a write: the merged delta's context
// covers every folded dot, so it carries everything its parts did. Entries
// larger than limit stay alone (the server will refuse them with TOO_LARGE).
// Folded entries leave the outbox; the merged one takes the place of the
// first, with a fresh id from newID.
func (o *outbox) coalesce(due []*entry, limit int, newID func() string) []*entry {
	if len(due) < 2 {
		return due
	}
	var out []*entry
	flush := func(group []*entry, size int) {
		if len(group) == 1 {
			out = append(out, group[0])
			return
		}
		merged := workflow.New()
		retries := 0
		for _, e := range group {
			merged.Merge(e.delta)
			retries = max(retries, e.retries)
		}
		m := &entry{id: newID(), delta: merged, enc: merged.Encode(), retries: retries}
		o.replace(group, m)
		out = append(out, m)
	}
	var group []*entry
	size := 0
	for _, e := range due {
		// The encoded size of a merge is at most about the sum of the
		// parts' (shared replica tables and contexts only shrink it); keep
		// a margin for msgpack headers that grow.
		if len(group) > 0 && size+len(e.enc) > limit*3/4 {
			flush(group, size)
			group, size = nil, 0
		}
		group = append(group, e)
		size += len(e.enc)
	}
	if len(group) > 0 {
		flush(group, size)
	}
	return out
}

// replace puts m where group[0] was and drops the rest of group.
func (o *outbox) replace(group []*entry, m *entry) {
	first := group[0]
	for i, e := range o.entries {
		if e == first {
			o.entries[i] = m
			break
		}
	}
	delete(o.byID, first.id)
	o.byID[m.id] = m
	ids := make([]string, 0, len(group)-1)
	for _, e := range group[1:] {
		ids = append(ids, e.id)
	}
	o.remove(ids...)
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

// lacking removes and returns the entries with a dot of replica that have
// has not seen.
func (r *recent) lacking(have *crdt.Context, replica crdt.ReplicaID) []*entry {
	var out []*entry
	kept := r.entries[:0]
	for _, e := range r.entries {
		own := crdt.NewContext()
		for _, rg := range e.delta.Context().Ranges(replica) {
			own.AddRange(replica, rg)
		}
		if have.Covers(own) {
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
