package rooms

import (
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Relay coalescing limits: a batch is flushed when the inbox drains or when
// it reaches either bound, so coalescing bounds latency to one inbox burst.
const (
	maxRelayDeltas = 64
	maxRelayBytes  = 256 << 10
)

// relayBatch coalesces the RemoteDelta frames of deltas merged in one burst
// of the room's inbox. Under load (typing into one field, many members
// editing at once) the burst's deltas are joined into one delta: a field
// written several times keeps only its latest value, because each write
// covers the one before, and the joined context covers every folded dot
// (coalescing is a join, never a drop). Each member then receives one frame
// instead of one per delta. When the inbox is empty a delta is relayed
// alone, as it arrived. Its author is not sent its own delta, nor a joined
// frame whose every delta it wrote (one member typing fast is the usual
// burst): it would only merge its own writes again.
type relayBatch struct {
	n      int
	bytes  int
	raw    []byte        // the only delta's encoding, while n == 1
	first  *workflow.Doc // the only delta, while n == 1
	joined *workflow.Doc // the join of every delta, once n > 1
	origin protocol.Origin
	except *memberState // the author of every delta so far, if it is not to receive them
}

func (b *relayBatch) add(raw []byte, delta *workflow.Doc, origin protocol.Origin, except *memberState) {
	b.n++
	b.bytes += len(raw)
	b.origin = origin
	switch b.n {
	case 1:
		b.raw, b.first, b.except = raw, delta, except
		return
	case 2:
		b.joined = &workflow.Doc{}
		b.joined.Merge(b.first)
		b.first, b.raw = nil, nil
	}
	// Several authors share the frame; an author receiving its own writes
	// back merges them idempotently, which is cheaper than a frame each.
	// While one author wrote them all, it still gets none.
	if except != b.except {
		b.except = nil
	}
	b.joined.Merge(delta)
}

func (b *relayBatch) full() bool { return b.n >= maxRelayDeltas || b.bytes >= maxRelayBytes }

// take returns the frame to relay and the member to skip, and empties the
// batch. Origin names the last delta's author.
func (b *relayBatch) take(workflowID string) (*protocol.RemoteDelta, *memberState, bool) {
	if b.n == 0 {
		return nil, nil, false
	}
	raw := b.raw
	if b.n > 1 {
		raw = b.joined.Encode()
	}
	f := &protocol.RemoteDelta{WorkflowID: workflowID, Delta: raw, Origin: b.origin}
	except := b.except
	*b = relayBatch{}
	return f, except, true
}
