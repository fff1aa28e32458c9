package rooms

import (
	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// fullState is the catch-up of a join with an empty context (the whole
// document, encoded in chunks) kept for the document version it was made
// at: joiners that arrive together, as after a deploy or a shared link, all
// need it, and encoding it is the dearest part of a join.
type fullState struct {
	doc     *workflow.Doc // the document it encodes; a reload replaces rm.doc
	version uint64
	chunks  [][]byte // shared by every reply; never written to
}

// catchUp returns the encoded chunks of what have lacks.
//
// A joiner with an empty context lacks the whole document, which is the
// document itself: it is encoded as it is, without DeltaSince (which would
// build the document's index and copy every value first). That encoding
// also measures the document exactly (docsize.go), so a cold room, whose
// first joiner needs it anyway, does not encode its document twice.
func (rm *Room) catchUp(have *crdt.Context) [][]byte {
	if !have.IsEmpty() {
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
