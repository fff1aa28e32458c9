package cluster

import (
	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// contextMessage encodes ctx as a digest or request payload: a workflow
// document with an empty store.
func contextMessage(ctx *crdt.Context) []byte {
	d := workflow.New()
	if ctx != nil {
		d.Context().Merge(ctx)
	}
	return d.Encode()
}

// maxWall returns the greatest HLC wall time among delta's writes (0 for
// none).
func maxWall(delta *workflow.Doc) int64 {
	var w int64
	delta.Store().Range(func(_ workflow.Key, es []crdt.Dotted[workflow.Cell]) bool {
		for _, e := range es {
			w = max(w, e.Value.Wall)
		}
		return true
	})
	return w
}
