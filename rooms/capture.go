package rooms

import (
	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// Whole-document reads off the loop. A joiner with an empty context (or one
// lacking more than RemovalStep of the document's dots: lacksMuch), the
// admin API's View and Document, and Room.Snapshot need the whole
// document; encoding or copying it in the loop holds every member of the
// room for as long (at 50,000 blocks, 50–400 ms of CPU). So the loop only
// captures, in O(1), which state the read must reflect, and a goroutine
// rebuilds that state from two immutable parts:
//
//   - the base: the document as it loaded, encoded in CatchUp-sized chunks
//     at the load (which measures the document's size too, see docsize.go);
//     its bytes are never written to;
//   - the shadow (shadow.go): the join of every delta merged since the
//     load, which the snapshot side keeps anyway.
//
// base ⊔ shadow is the room's document (TestShadowFollowsEveryMerge), but
// for the parts of a removal being merged in steps, which the shadow gets
// with their delta after the last part (stepped.go): a read captured
// mid-way sees the document before the removal, which is a state the room
// had. A capture is the shadow's count of deltas when the loop handled the
// request; the goroutine reads the shadow at that count or later, so the
// answer holds everything merged before the request, perhaps more.
//
// A document whose size estimate is within Config.inlineCatchUp is still
// encoded or copied in the loop, as before: that costs less than the
// hand-over, and keeps a small room's Joined in the same turn as its Join.
//
// A joiner served off the loop is a member from its Join's turn on (it is
// in the roster, counted, and its frames are admitted), but what the room
// would queue to it is held (memberState.wait) until its catch-up is ready:
// then it is sent Joined, made at the Join's turn, the catch-up, and the
// held frames, in that order, so nothing of the room comes before Joined
// and every relay after Joined.Seq follows it. The catch-up holds what was
// merged up to the capture, or more, which merging makes harmless. Joiners
// that arrive while a catch-up is being made wait for it when it covers
// their capture, else for the next one: one encoding serves them all.

// defaultInlineCatchUp is Config.inlineCatchUp's default: a document that
// encodes to at most this many bytes is encoded in the loop (about 4 ms of
// CPU per 256 KiB on the benchmark machine).
const defaultInlineCatchUp = 256 << 10

// maxHeldBytes bounds what a joiner waiting for its catch-up may have held
// for it; past it the joiner is a slow consumer (closed, it resyncs).
const maxHeldBytes = 4 << 20

// baseState is the room's document as loaded, encoded. Owned by run; the
// slices are shared with capture goroutines and never written to.
type baseState struct {
	chunks [][]byte // the loaded document in chunks of MaxCatchUpChunk
	// frames are chunks as CatchUp frames numbered from 0, none marked
	// last; made by the first catch-up that needs them.
	frames [][]byte
}

// joinWait is a joiner waiting for its catch-up. Owned by run.
type joinWait struct {
	joined  *protocol.Joined // as of the Join's turn, but for CatchUpChunks
	capture uint64           // the shadow's count at the Join's turn
	held    [][]byte         // frames queued for it meanwhile, in order
	bytes   int
}

// fullCatchUp is the state of the catch-ups made off the loop. Owned by run.
type fullCatchUp struct {
	tail    [][]byte // the frames after the base's first head ones, for covered
	head    int
	covered uint64 // the shadow count tail holds; valid when tail != nil or head > 0
	valid   bool
	running bool
	waiting []*memberState // joiners waiting for a catch-up, in join order
}

// catchUpDone is a catch-up made off the loop, handed back to it.
type catchUpDone struct {
	baseFrames [][]byte // made by this goroutine, if the room had none
	head       int
	tail       [][]byte
	covered    uint64
}

func (*catchUpDone) isEvent() {}

// inline reports whether the loop should read the whole document itself.
func (rm *Room) inline() bool {
	limit := rm.cfg.inlineCatchUp
	if limit == 0 {
		limit = defaultInlineCatchUp
	}
	// A room made without a load (tests) has no base: it reads in the loop.
	return !rm.docSize.known || limit > 0 && rm.docSize.measured+rm.docSize.since <= limit
}

// loadBase encodes the loaded document as the base and measures it.
func (rm *Room) loadBase() {
	chunks, size := rm.doc.EncodeChunksSize(rm.cfg.MaxCatchUpChunk)
	rm.base = baseState{chunks: chunks}
	rm.measuredDocSize(size)
	// An unchanged room's first inline joiner uses them as they are.
	rm.fullState = fullState{doc: rm.doc, version: rm.doc.Version(), chunks: chunks}
}

// lacksMuch reports whether a joiner whose context is have lacks more than
// RemovalStep of the dots the room's document has seen: then what it lacks
// (DeltaSince, a copy of every value it lacks) would cost the loop about
// what the whole document does, and it is sent the whole document, made
// off the loop, instead. It costs the ranges of both contexts.
func (rm *Room) lacksMuch(have *crdt.Context) bool {
	return rm.doc.Context().Missing(have).Len() > uint64(rm.cfg.RemovalStep)
}

// enqueue queues frame for ms, or holds it while ms waits for its
// catch-up; false when ms's queue (or what is held for it) is full.
func (rm *Room) enqueue(ms *memberState, frame []byte) bool {
	w := ms.wait
	if w == nil {
		return ms.m.Enqueue(frame)
	}
	if w.bytes+len(frame) > maxHeldBytes {
		return false
	}
	w.held = append(w.held, frame)
	w.bytes += len(frame)
	return true
}

// joinLater makes ms, whose Join this turn handles, wait for a catch-up
// of the whole document made off the loop; joined is its Joined frame but
// for the chunk count.
func (rm *Room) joinLater(ms *memberState, joined *protocol.Joined) {
	ms.wait = &joinWait{joined: joined, capture: rm.shadow.count()}
	if rm.full == nil {
		rm.full = &fullCatchUp{} // most rooms never need one
	}
	if f := rm.full; f.valid && f.covered >= ms.wait.capture {
		rm.finishJoin(ms)
		return
	}
	rm.full.waiting = append(rm.full.waiting, ms)
	rm.startCatchUp()
}

// startCatchUp starts the goroutine that makes the next catch-up, unless
// one is running (its end starts the next if anyone still waits).
func (rm *Room) startCatchUp() {
	if rm.full.running {
		return
	}
	rm.full.running = true
	base := rm.base
	rm.reg.wg.Add(1)
	go func() {
		defer rm.reg.wg.Done()
		if rm.cfg.onCapture != nil {
			rm.cfg.onCapture()
		}
		res := &catchUpDone{}
		if base.frames == nil {
			res.baseFrames = rm.catchUpFramesOf(base.chunks, 0, false)
			base.frames = res.baseFrames
		}
		var chunks [][]byte
		rm.shadow.write(func(doc *workflow.Doc, covered uint64) {
			res.covered = covered
			if !doc.IsEmpty() {
				chunks = doc.EncodeChunks(rm.cfg.MaxCatchUpChunk)
			}
		})
		res.head = len(base.chunks)
		if len(chunks) == 0 && res.head > 0 {
			// Nothing merged since the load: the base's last chunk is the
			// last frame.
			res.head--
			chunks = base.chunks[res.head:]
		}
		res.tail = rm.catchUpFramesOf(chunks, uint64(res.head), true)
		rm.send(res)
	}()
}

// catchUpFramesOf returns chunks as CatchUp frames numbered from seq, the
// last one marked last if last. Safe off the loop: it reads static fields.
func (rm *Room) catchUpFramesOf(chunks [][]byte, seq uint64, last bool) [][]byte {
	frames := make([][]byte, len(chunks))
	for i, c := range chunks {
		f := &protocol.CatchUp{WorkflowID: rm.id, Seq: seq + uint64(i), Last: last && i == len(chunks)-1, Delta: c, Receipt: rm.sign(c)}
		frames[i] = protocol.AppendFrame(make([]byte, 0, 80+len(rm.id)+len(c)), f)
	}
	return frames
}

// handleCatchUp serves the joiners the finished catch-up covers and
// starts another for the rest.
func (rm *Room) handleCatchUp(res *catchUpDone) {
	f := rm.full
	f.running = false
	if rm.base.frames == nil {
		rm.base.frames = res.baseFrames
	}
	if !f.valid || res.covered >= f.covered {
		f.tail, f.head, f.covered, f.valid = res.tail, res.head, res.covered, true
	}
	waiting := f.waiting
	f.waiting = nil
	for _, ms := range waiting {
		switch {
		case ms.removed || ms.wait == nil:
		case ms.wait.capture <= f.covered:
			rm.finishJoin(ms)
		default:
			f.waiting = append(f.waiting, ms)
		}
	}
	if len(f.waiting) > 0 {
		rm.startCatchUp()
	}
}

// finishJoin sends ms its Joined, the catch-up rm.full holds and what was
// held for it.
func (rm *Room) finishJoin(ms *memberState) {
	w := ms.wait
	ms.wait = nil
	f := rm.full
	n := f.head + len(f.tail)
	w.joined.CatchUpChunks = uint64(n)
	reply := make([][]byte, 0, 1+n)
	reply = append(reply, protocol.AppendFrame(nil, w.joined))
	reply = append(reply, rm.base.frames[:f.head]...)
	reply = append(reply, f.tail...)
	if !ms.m.EnqueueReply(reply) {
		rm.markSlow(ms)
		return
	}
	rm.metrics.frameOut(protocol.FrameJoined, 1, len(reply[0]))
	for _, b := range reply[1:] {
		rm.metrics.frameOut(protocol.FrameCatchUp, 1, len(b))
	}
	for _, b := range w.held {
		if !ms.m.Enqueue(b) {
			rm.markSlow(ms)
			return
		}
	}
}

// readDoc answers a whole-document read (View, Document, Room.Snapshot)
// on reply: a copy made in the loop for a small document or when inline
// (the fallback when the base does not decode, which would be a bug), else
// one rebuilt off the loop from the base and the shadow.
func (rm *Room) readDoc(reply chan *workflow.Doc, inline bool) {
	if inline || rm.inline() {
		reply <- rm.doc.Clone()
		return
	}
	chunks := rm.base.chunks
	rm.reg.wg.Add(1)
	go func() {
		defer rm.reg.wg.Done()
		if rm.cfg.onCapture != nil {
			rm.cfg.onCapture()
		}
		doc, err := decodeChunks(chunks)
		if err != nil {
			rm.logger.Error("the loaded document's encoding does not decode; copying in the loop", "err", err)
			rm.send(snapshotEvent{reply: reply, inline: true}) // a stopped room: the caller sees it stop
			return
		}
		rm.shadow.write(func(sh *workflow.Doc, _ uint64) { doc.Merge(sh) })
		reply <- doc
	}()
}

// decodeChunks joins the documents chunks encode.
func decodeChunks(chunks [][]byte) (*workflow.Doc, error) {
	doc := workflow.New()
	for _, c := range chunks {
		d, err := workflow.Decode(c, workflow.DocLimits)
		if err != nil {
			return nil, err
		}
		doc.Merge(d)
	}
	return doc, nil
}
