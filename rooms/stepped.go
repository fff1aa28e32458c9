package rooms

import "github.com/flowsync/flowsync/crdt/workflow"

// A merge costs what it removes, and a few bytes of delta can remove a
// container of thousands of blocks. The room loop serves everyone in the
// room, so such a delta is merged in steps (workflow.StepMerge): after the
// whole delta was admitted and vetted (a refusal still changes nothing), a
// delta whose context covers more than Config.RemovalStep values the room
// has seen is merged one removal-only part per turn of the loop, each
// removing at most that many values, with the events queued meanwhile
// handled between two parts. After the last part the delta itself is
// merged and its path goes on exactly as for a small delta: relay, Applied,
// publish to the cluster, store.
//
// What the steps keep true:
//   - the author's later edits wait behind the removal (they may depend on
//     it, a name it freed for one); other members' edits are merged and
//     relayed between parts;
//   - nothing of it is relayed, acknowledged, published or queued for the
//     store before the last part: a shutdown or a deletion mid-way drops the
//     parts with the room, the same as never having applied it, and the
//     author, holding no Applied, resends it;
//   - the snapshot side is handed the delta only after the last part (the
//     parts bypass Room.merge), so a snapshot never holds a partial removal
//     the store's log does not hold;
//   - a joiner served mid-way gets the half-removed document, which is a
//     join of deltas (each part is subsumed by the delta); the delta is
//     relayed to it after the last part like any other, and it converges.
//     A cluster catch-up is not served mid-way: another node would store
//     what it got, so it waits for the end with the author's edits.
//
// A thin client's or the admin API's removal operation is prepared in steps
// too (workflow.StepPrepare: the walk down the container, then the dots, a
// bounded number of blocks per turn; the delta is built at the last step
// with the server clock's time then), and then merged like any delta; the
// author's later edits wait through both. An operation refused at the end
// (admission, document size, shutdown) changes nothing.
//
// A room may step several removals at once (one per author at most); it
// steps them in turn.

// ready is always ready: the loop selects on it while a step is due.
var ready = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// stepping is one delta being merged in steps, or one operation being
// prepared in steps (then sm is nil until it is merged, as another
// stepping), or, with neither, the rest of an Apply, run by its then in a
// turn of its own (app.go).
type stepping struct {
	sm     *workflow.StepMerge
	prep   *workflow.StepPrepare
	delta  *workflow.Doc
	author any     // whose later edits wait: a Member, remoteAuthor or appAuthor
	then   func()  // the rest of the path, run after the last step
	held   []event // events waiting for it, in arrival order
}

// Authors of deltas that do not come from a member: every delta of other
// nodes counts as one author (the bus hands them over in order), and so
// does every Apply.
type authorKind int

const (
	remoteAuthor authorKind = iota
	appAuthor
)

// mergeThen merges delta, by author, and then runs then: at once when the
// merge is small, else after the last of its steps. delta must not be
// written to afterwards.
func (rm *Room) mergeThen(author any, delta *workflow.Doc, then func()) {
	rm.recordMergeThen(author, delta, nil, then)
}

// recordMergeThen is mergeThen that also captures the undo of delta in
// rec, part by part as it is merged (a thin client's operation: capturing
// a removal of thousands of values at once would cost as much as merging
// it at once); rec is ended before then runs.
func (rm *Room) recordMergeThen(author any, delta *workflow.Doc, rec *workflow.UndoRecording, then func()) {
	budget := rm.cfg.RemovalStep
	if rec != nil {
		// Capturing a part costs about what merging it does.
		budget = max(budget/2, 1)
	}
	sm := rm.doc.StepMerge(delta, budget)
	if rec != nil {
		next := then
		then = func() {
			rec.End()
			next()
		}
	}
	if sm == nil {
		if rec != nil {
			rec.Part(rm.doc, delta)
		}
		rm.merge(delta)
		then()
		return
	}
	if rec != nil {
		sm.OnPart = func(part *workflow.Doc) { rec.Part(rm.doc, part) }
	}
	rm.steps = append(rm.steps, &stepping{sm: sm, delta: delta, author: author, then: then})
}

// prepareSteps is how many blocks one step of an operation's Prepare walks
// or collects: a block holds several values, and its walk costs more per
// value than a merge.
func (rm *Room) prepareSteps() int { return max(rm.cfg.RemovalStep/4, 1) }

// step runs the next step of the stepping whose turn it is. After the last
// part of a merge it merges the rest of the delta and hands the delta to
// the snapshot side (Room.merge's other half); after the last step of
// either kind it runs the rest of the path. The events that waited for it
// are then handled in order (some may wait again, behind another stepping).
func (rm *Room) step() {
	st := rm.steps[0]
	rm.steps = rm.steps[1:]
	start := rm.cfg.now()
	removed := 0
	var done bool
	switch {
	case st.prep == nil && st.sm == nil:
		done = true // the rest of an Apply: then runs it
	case st.prep != nil:
		done = st.prep.Step()
	default:
		before := st.sm.Removed()
		done = st.sm.Step()
		removed = st.sm.Removed() - before
		if done {
			st.sm.Finish()
			rm.shadow.add(rm, st.delta)
		}
	}
	if done {
		st.then()
	} else {
		rm.steps = append(rm.steps, st)
	}
	if rm.cfg.onStep != nil {
		rm.cfg.onStep(removed, rm.cfg.since(start))
	}
	// Whatever waits in the inbox now goes before the next step.
	rm.stepYield = len(rm.inbox)
	if done {
		for _, ev := range st.held {
			rm.handle(ev)
		}
	}
}

// holds parks ev behind a removal in progress and reports whether it did:
// an edit of a removal's author, or a cluster catch-up.
func (rm *Room) holds(ev event) bool {
	if len(rm.steps) == 0 {
		return false
	}
	var author any
	switch ev := ev.(type) {
	case *deltaEvent:
		author = ev.m
	case *vouchEvent:
		author = ev.m
	case *opEvent:
		author = ev.m
	case *undoEvent:
		// Its undo entry is still being captured.
		author = ev.m
	case *remoteEvent:
		author = remoteAuthor
	case *applyEvent:
		author = appAuthor
	case sinceEvent:
		rm.steps[0].held = append(rm.steps[0].held, ev)
		return true
	default:
		return false
	}
	for _, st := range rm.steps {
		if st.author == author {
			st.held = append(st.held, ev)
			return true
		}
	}
	return false
}
