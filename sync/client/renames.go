package client

import (
	"github.com/flowsync/flowsync/crdt"
	"github.com/flowsync/flowsync/crdt/workflow"
)

// renames remembers which renames of this replica's blocks OnRename has
// reported (block id → the rename), so each is reported once. A rename is
// a block this replica added or named that the view shows under another
// name: another replica gave a block the same name concurrently
// (workflow.RenamedBy).
type renames map[string]workflow.Renamed

// seedRenames takes the renames standing in doc as known: after a restart
// only renames that new merges cause are news.
func seedRenames(doc *workflow.Doc, replica crdt.ReplicaID) renames {
	r := renames{}
	for _, x := range workflow.RenamedBy(doc, replica) {
		r[x.ID] = x
	}
	return r
}

// check returns the renames in doc not reported yet and records them. A
// rename that no longer stands is forgotten, so a later one is news again.
func (r renames) check(doc *workflow.Doc, replica crdt.ReplicaID) []workflow.Renamed {
	now := workflow.RenamedBy(doc, replica)
	var fresh []workflow.Renamed
	standing := make(map[string]bool, len(now))
	for _, x := range now {
		standing[x.ID] = true
		if r[x.ID] != x {
			r[x.ID] = x
			fresh = append(fresh, x)
		}
	}
	for id := range r {
		if !standing[id] {
			delete(r, id)
		}
	}
	return fresh
}

// touchesNames reports whether a merged delta can have caused a rename: it
// adds a block or writes a name. Other deltas skip the check, a pass over
// the document.
func touchesNames(delta *workflow.Doc) bool {
	found := false
	delta.Store().Range(func(k workflow.Key, _ []crdt.Dotted[workflow.Cell]) bool {
		if k.Kind == workflow.KindBlock || (k.Kind == workflow.KindBlockField && k.Sub == workflow.FieldName) {
			found = true
		}
		return !found
	})
	return found
}
