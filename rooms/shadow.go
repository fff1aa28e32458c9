package rooms

import (
	"sync"

	"github.com/flowsync/flowsync/crdt/workflow"
)

// The snapshot side's replica. A snapshot must not copy the room's
// document in the loop: at 50,000 blocks a copy costs as much as an
// encoding, most of a second during which nobody's edit is relayed. So the
// loop hands every delta it merges into its document, as the pointer it
// already holds, to a shadow replica that the snapshot side owns, and a
// capture only starts a goroutine: the loop's cost per delta is an append,
// per capture nothing that grows with the document.
//
// Merged deltas are immutable: nothing writes to a delta after the loop
// merged it (merging reads its argument; the relay and the store read it or
// its encoding), so the shadow may read them from another goroutine.
//
// The shadow holds the join of every delta merged since the room loaded,
// not the loaded document itself: copying that at load would cost a cold
// join what it costs a snapshot today. That is enough because Store.Snapshot
// joins what it is given with everything stored, and the store never holds
// less than it held when the room loaded it (a store never overwrites with
// less; log rows are trimmed only by a snapshot that joined them). So the
// document a snapshot writes is
//
//	stored ⊔ shadow ⊇ loaded ⊔ (every delta merged since) = the room's document
//
// at the capture, and equal to it when no other node wrote in between. The
// room's document is changed by merges only (client deltas, operations,
// receipts, other nodes' deltas, store reloads), and every one goes through
// Room.merge; TestShadowFollowsEveryMerge checks the equation after each
// kind. The parts of a removal merged in steps (stepped.go) are the
// exception: they are subsumed by their delta, which the shadow gets after
// the last one, so until then the shadow is the document without them.
//
// Deltas wait in a queue (one append under a mutex per delta); every
// shadowFoldAt of them a goroutine folds the queue into a staging document,
// so the queue stays short however long a snapshot write takes, and the
// staging document stays at most the size of what changed (a field written
// a thousand times is held once). A snapshot takes the staging document
// and joins it into the document it writes.
type shadow struct {
	mu      sync.Mutex
	queue   []*workflow.Doc // merged deltas not folded yet; guarded by mu
	folding bool            // a fold goroutine runs; guarded by mu
	added   uint64          // how many deltas were ever queued; guarded by mu

	stageMu sync.Mutex
	staging *workflow.Doc // the fold of the queue; guarded by stageMu

	docMu sync.Mutex
	doc   *workflow.Doc // what snapshots write; guarded by docMu
}

// shadowFoldAt is how many queued deltas start a fold.
const shadowFoldAt = 256

// merge joins delta into the room's document and hands it to the snapshot
// side. Every change to rm.doc after the load goes through it but a stepped
// removal's parts (see above); delta must not be written to afterwards.
func (rm *Room) merge(delta *workflow.Doc) int {
	n := rm.doc.Merge(delta)
	rm.shadow.add(rm, delta)
	return n
}

// add queues delta for the shadow; called by the loop only.
func (s *shadow) add(rm *Room, delta *workflow.Doc) {
	s.mu.Lock()
	s.queue = append(s.queue, delta)
	s.added++
	start := len(s.queue) >= shadowFoldAt && !s.folding
	if start {
		s.folding = true
	}
	s.mu.Unlock()
	if start {
		rm.reg.wg.Add(1)
		go func() {
			defer rm.reg.wg.Done()
			s.fold()
		}()
	}
}

// fold merges the queued deltas into the staging document until the queue
// is empty, then clears folding under the lock the loop queues under, so
// a delta queued meanwhile starts the next fold. It holds stageMu from
// taking a batch to merging it, so a write never takes the staging document
// while a batch already out of the queue is missing from it.
func (s *shadow) fold() {
	s.stageMu.Lock()
	defer s.stageMu.Unlock()
	for {
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		if len(q) == 0 {
			s.folding = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		if s.staging == nil {
			s.staging = workflow.New()
		}
		for _, d := range q {
			s.staging.Merge(d)
		}
	}
}

// count returns how many deltas were ever queued: a write after the loop
// read it holds at least that many.
func (s *shadow) count() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.added
}

// write calls fn with the shadow document, brought up to date with every
// delta queued so far, and how many that is (count's numbering), and
// holds it for fn: fn must not keep it. It runs outside the loop (snapshot
// and capture goroutines); two writes take turns.
func (s *shadow) write(fn func(doc *workflow.Doc, covered uint64)) {
	s.docMu.Lock()
	defer s.docMu.Unlock()
	s.stageMu.Lock()
	s.mu.Lock()
	q := s.queue
	s.queue = nil
	covered := s.added
	s.mu.Unlock()
	staged := s.staging
	s.staging = nil
	s.stageMu.Unlock()
	if s.doc == nil {
		s.doc = workflow.New()
	}
	if staged != nil {
		if s.doc.IsEmpty() {
			s.doc = staged
		} else {
			s.doc.Merge(staged)
		}
	}
	for _, d := range q {
		s.doc.Merge(d)
	}
	fn(s.doc, covered)
}
