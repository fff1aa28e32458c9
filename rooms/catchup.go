package rooms

import (
	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/sync/protocol"
)

// fullState is the catch-up of a join with an empty context (the whole
// document, encoded in chunks, and the CatchUp frames that carry them)
// kept for the document version it was made at: joiners that arrive
// together, as after a deploy or a shared link, all need it, and encoding
// it is the dearest part of a join. The frames are the same for every
// joiner (their receipts sign the workflow id and the chunk), so each
// joiner costs a slice of shared frames, not a copy and a MAC of the
// whole document.
type fullState struct {
	doc     *workflow.Doc // the document it encodes; a reload replaces rm.doc
	version uint64
	chunks  [][]byte // shared by every reply; never written to
	frames  [][]byte // the CatchUp frames of chunks, made on first use; shared, never written to
}

// catchUp returns the encoded chunks of what have lacks.
//
// A joiner with an empty context lacks the whole document, which is the
// document itself: it is encoded as it is, without DeltaSince (which would
// build the document's index and copy every value first). That encoding
// also measures the document exactly (docsize.go), so a cold room, whose
// first joiner needs it anyway, does not encode its document twice.
//
// A joiner that has part of the document is sent what it lacks. On a
// single node that is CatchUp: the edits it missed and only the removals
// they made, since a member has merged every edit it holds the dot of
// whole (the room relays its merges in order, and its own edits are made
// on what it holds). In a cluster a node may merge a removal that names
// an edit it has not received yet (nodes exchange deltas in any order), and
// a member of it then holds that edit's dot without its removals: there
// the joiner is sent every removed dot (DeltaSince), which repairs it. A
// client that merged only part of a chunked catch-up is in the same state,
// so CatchUp is used only where Config.CatchUpEdits turns it on.
func (rm *Room) catchUp(have *crdt.Context) [][]byte {
	if !have.IsEmpty() {
		if rm.cfg.Cluster == nil && rm.cfg.CatchUpEdits {
			return rm.doc.CatchUp(have).EncodeChunks(rm.cfg.MaxCatchUpChunk)
		}
		return rm.doc.DeltaSince(have).EncodeChunks(rm.cfg.MaxCatchUpChunk)
	}
	f := &rm.fullState
	if f.chunks == nil || f.doc != rm.doc || f.version != rm.doc.Version() {
		chunks, size := rm.doc.EncodeChunksSize(rm.cfg.MaxCatchUpChunk)
		*f = fullState{doc: rm.doc, version: rm.doc.Version(), chunks: chunks}
		rm.measuredDocSize(size)
	}
	return f.chunks
}

// catchUpFrames returns the CatchUp frames of what have lacks.
func (rm *Room) catchUpFrames(have *crdt.Context) [][]byte {
	chunks := rm.catchUp(have)
	if have.IsEmpty() && rm.fullState.frames != nil {
		return rm.fullState.frames
	}
	frames := make([][]byte, len(chunks))
	for i, c := range chunks {
		f := &protocol.CatchUp{WorkflowID: rm.id, Seq: uint64(i), Last: i == len(chunks)-1, Delta: c, Receipt: rm.sign(c)}
		frames[i] = protocol.AppendFrame(make([]byte, 0, 80+len(rm.id)+len(c)), f)
	}
	if have.IsEmpty() {
		rm.fullState.frames = frames
	}
	return frames
}
