package workflow

import (
	"errors"

	"github.com/flowsync/flowsync/crdt"
)

// ErrNothingToUndo: the undo (or redo) stack is empty, or none of its
// entries would change anything any more (everything they touched was
// overwritten or removed by others since). Undo and Redo return it with no
// delta.
var ErrNothingToUndo = errors.New("workflow: nothing to undo")

// Default bounds of an UndoManager (UndoConfig's zero values).
const (
	// DefaultUndoWindow groups edits less than this many milliseconds apart
	// into one undo entry: a typing burst, a quick run of nudges.
	DefaultUndoWindow = 500
	// DefaultUndoEntries is how many entries the undo stack keeps; the
	// oldest goes first.
	DefaultUndoEntries = 100
	// DefaultUndoKeys is how many captured keys both stacks keep in all, so
	// that a few replace-states of a large workflow cannot hold its old
	// values forever.
	DefaultUndoKeys = 1 << 18
)

// UndoConfig configures an UndoManager. Zero values mean the defaults.
type UndoConfig struct {
	// Window groups a local edit into the previous entry when their walls
	// are less than Window milliseconds apart. Default: DefaultUndoWindow;
	// negative: never group by time (only by transactions).
	Window int64
	// MaxEntries bounds the undo stack (and the redo stack). Default:
	// DefaultUndoEntries.
	MaxEntries int
	// MaxKeys bounds the keys captured by both stacks together; past it the
	// oldest entries are dropped. Default: DefaultUndoKeys.
	MaxKeys int
	// SharedReplica says the replica's dots are written for several authors
	// (a server running thin clients' operations under its own replica id),
	// so a value under the replica's dots is this manager's own only if its
	// stacks hold that dot. Default false: every dot of the replica is the
	// manager's own.
	SharedReplica bool
}

func (c UndoConfig) withDefaults() UndoConfig {
	if c.Window == 0 {
		c.Window = DefaultUndoWindow
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultUndoEntries
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = DefaultUndoKeys
	}
	return c
}

// UndoManager keeps one replica's undo and redo stacks. It sees only the
// edits it is given (Record): remote deltas never enter it. Undo and Redo
// produce ordinary deltas, written by the replica like any edit, that
// invert an entry as far as nobody else has changed what it touched since
// (the rules are in docs/ARCHITECTURE.md, "Undo and redo").
//
// Like Doc it is pure and not safe for concurrent use; its owner calls it
// under the same lock as the document.
type UndoManager struct {
	cfg        UndoConfig
	undo, redo []*undoEntry
	keys       int   // captured keys in both stacks
	depth      int   // open transactions (Begin without End)
	lastWall   int64 // wall of the last recorded edit
	grouping   bool  // the next edit may join the top entry
	txnStarted bool  // the open transaction has an entry on the stack
	// spare holds entries the undo stack's bound dropped, reused by Record
	// so that a long session records without allocating.
	spare []*undoEntry
}

// NewUndoManager returns an empty manager.
func NewUndoManager(cfg UndoConfig) *UndoManager {
	return &UndoManager{cfg: cfg.withDefaults()}
}

// CanUndo reports whether the undo stack holds an entry.
func (m *UndoManager) CanUndo() bool { return len(m.undo) > 0 }

// CanRedo reports whether the redo stack holds an entry.
func (m *UndoManager) CanRedo() bool { return len(m.redo) > 0 }

// Clear empties both stacks (a replica reset, a deleted workflow).
func (m *UndoManager) Clear() {
	m.undo, m.redo, m.keys, m.grouping, m.txnStarted, m.spare = nil, nil, 0, false, false, nil
}

// Begin opens a transaction: every edit recorded until the matching End is
// one entry, undone and redone at once. Transactions nest; only the
// outermost End closes the entry.
func (m *UndoManager) Begin() {
	if m.depth == 0 {
		m.txnStarted = false
	}
	m.depth++
}

// End closes the transaction Begin opened. The next edit starts a new
// entry. An End without a Begin does nothing.
func (m *UndoManager) End() {
	if m.depth == 0 {
		return
	}
	m.depth--
	if m.depth == 0 {
		m.grouping, m.txnStarted = false, false
	}
}

// StopCapturing makes the next edit start a new entry even within the time
// window (a drop after a drag, a blur after typing).
func (m *UndoManager) StopCapturing() {
	if m.depth == 0 {
		m.grouping = false
	}
}

// Record captures what undoing delta takes. Call it with a local edit's
// delta before merging it into doc, and only with local edits; ts is the
// timestamp the edit was prepared with (its wall groups edits by time). It clears the redo stack, as editors do.
//
// Capturing costs a few map lookups per key the edit writes or removes and
// copies no value: the captured entries are the store's own, which it never
// writes again (see Store). For an edit merged in steps, use StartRecord.
func (m *UndoManager) Record(doc, delta *Doc, ts crdt.Timestamp) {
	r := m.StartRecord(ts)
	r.Part(doc, delta)
	r.End()
}

// UndoRecording captures one local edit merged in parts (Doc.StepMerge),
// a bounded amount of work per part: a removal of thousands of values
// captured at once would cost as much as merging it at once. Give Part
// every part before it is merged, the last one included
// (StepMerge.OnPart does), then call End. Between StartRecord and End the
// manager must not be used otherwise.
type UndoRecording struct {
	m      *UndoManager
	top    *undoEntry
	before int // top's items when the recording started
}

// StartRecord starts recording an edit prepared with ts, as Record does:
// it clears the redo stack and opens the entry the edit goes to.
func (m *UndoManager) StartRecord(ts crdt.Timestamp) *UndoRecording {
	wall := ts.Wall
	if len(m.redo) > 0 {
		for _, e := range m.redo {
			m.keys -= len(e.items)
		}
		m.redo = nil
	}
	var top *undoEntry
	switch {
	case m.depth > 0 && m.txnStarted && len(m.undo) > 0:
		top = m.undo[len(m.undo)-1]
	case m.depth == 0 && m.grouping && len(m.undo) > 0 && m.cfg.Window > 0 && wall-m.lastWall < m.cfg.Window && wall >= m.lastWall:
		top = m.undo[len(m.undo)-1]
	}
	if top == nil {
		if n := len(m.spare); n > 0 {
			top, m.spare = m.spare[n-1], m.spare[:n-1]
			top.reuse(ts)
		} else {
			top = newUndoEntry(ts)
		}
		m.undo = append(m.undo, top)
		m.txnStarted = m.depth > 0
	}
	m.lastWall = wall
	return &UndoRecording{m: m, top: top, before: len(top.items)}
}

// Part captures what undoing part takes, part not yet merged into doc: a
// part of the edit (a removal-only part of StepMerge, or its last part), or
// the whole edit.
func (r *UndoRecording) Part(doc, part *Doc) { r.top.capture(doc, part) }

// End closes the recording: the stacks' bounds apply, and an edit that
// touched no value leaves no entry.
func (r *UndoRecording) End() {
	m, top := r.m, r.top
	m.keys += len(top.items) - r.before
	m.grouping = true
	if top.isEmpty() {
		// The edit touched no value (it cleared a field nobody had set):
		// an entry would make Undo skip it and revert an older step.
		m.undo = m.undo[:len(m.undo)-1]
		m.grouping, m.txnStarted = false, false
		return
	}
	m.bound()
}

// bound drops the oldest entries past the configured bounds.
func (m *UndoManager) bound() {
	for len(m.undo) > 1 && (len(m.undo) > m.cfg.MaxEntries || m.keys > m.cfg.MaxKeys) {
		m.keys -= len(m.undo[0].items)
		if len(m.spare) < 4 && cap(m.undo[0].items) <= 4*linearItems {
			m.spare = append(m.spare, m.undo[0])
		}
		m.undo[0] = nil
		m.undo = m.undo[1:]
	}
	for len(m.redo) > 0 && (len(m.redo) > m.cfg.MaxEntries || m.keys > m.cfg.MaxKeys) {
		m.keys -= len(m.redo[0].items)
		m.redo[0] = nil
		m.redo = m.redo[1:]
	}
}

// UndoStep is a prepared undo or redo: Delta is the edit to merge and send.
// Nothing changes in the manager until Commit, so a step whose delta is
// dropped (refused, too large) leaves the stacks as they were.
type UndoStep struct {
	// Delta is the inverse edit, authored by the timestamp given to
	// PrepareUndo or PrepareRedo. Merge it into the document, then Commit.
	Delta *Doc

	m       *UndoManager
	redo    bool
	skipped int        // entries under the top that had no effect
	inverse *undoEntry // what undoing Delta takes (for the other stack)
	remap   map[crdt.Dot]crdt.Dot
	moves   []textMove
}

// PrepareUndo builds the inverse of the newest undo entry that still has
// an effect in doc, stamped ts (a fresh timestamp of the replica), without
// changing doc or the manager. Entries with no effect left are skipped and
// dropped at Commit. It returns ErrNothingToUndo when no entry has an
// effect (and then drops them all), or ErrInvalid for a bad timestamp.
func (m *UndoManager) PrepareUndo(doc *Doc, ts crdt.Timestamp) (*UndoStep, error) {
	return m.prepare(doc, ts, false)
}

// PrepareRedo is PrepareUndo for the redo stack: it re-applies the newest
// undone entry.
func (m *UndoManager) PrepareRedo(doc *Doc, ts crdt.Timestamp) (*UndoStep, error) {
	return m.prepare(doc, ts, true)
}

// Undo prepares the undo, merges it into doc, commits it and returns the
// delta to send.
func (m *UndoManager) Undo(doc *Doc, ts crdt.Timestamp) (*Doc, error) {
	return m.run(doc, ts, false)
}

// Redo prepares the redo, merges it into doc, commits it and returns the
// delta to send.
func (m *UndoManager) Redo(doc *Doc, ts crdt.Timestamp) (*Doc, error) {
	return m.run(doc, ts, true)
}

func (m *UndoManager) run(doc *Doc, ts crdt.Timestamp, redo bool) (*Doc, error) {
	s, err := m.prepare(doc, ts, redo)
	if err != nil {
		return nil, err
	}
	doc.Merge(s.Delta)
	s.Commit()
	return s.Delta, nil
}

func (m *UndoManager) stack(redo bool) *[]*undoEntry {
	if redo {
		return &m.redo
	}
	return &m.undo
}

func (m *UndoManager) prepare(doc *Doc, ts crdt.Timestamp, redo bool) (*UndoStep, error) {
	st := *m.stack(redo)
	for i := len(st) - 1; i >= 0; i-- {
		b, err := doc.newBuilder(ts)
		if err != nil {
			return nil, err
		}
		inv := &inverter{b: b, remap: map[crdt.Dot]crdt.Dot{}, mine: m.mine(ts.Replica)}
		inv.invert(st[i])
		if b.delta.ctx.IsEmpty() {
			continue
		}
		if err := b.checkStamps(); err != nil {
			return nil, err
		}
		if err := b.delta.checkValues(); err != nil {
			return nil, errors.Join(ErrInvalid, err)
		}
		inverse := newUndoEntry(ts)
		inverse.capture(doc, b.delta)
		return &UndoStep{Delta: b.delta, m: m, redo: redo, skipped: len(st) - 1 - i, inverse: inverse, remap: inv.remap, moves: inv.moves}, nil
	}
	m.drop(redo, len(st))
	return nil, ErrNothingToUndo
}

// mine returns the test of whether a value's dot is this manager's own
// write, for an inverse authored by replica.
func (m *UndoManager) mine(replica crdt.ReplicaID) func(crdt.Dot) bool {
	if !m.cfg.SharedReplica {
		return func(d crdt.Dot) bool { return d.Replica == replica }
	}
	return func(d crdt.Dot) bool {
		if d.Replica != replica {
			return false
		}
		for _, st := range [][]*undoEntry{m.undo, m.redo} {
			for _, e := range st {
				for i := range e.items {
					if e.items[i].cur == d {
						return true
					}
				}
			}
		}
		return false
	}
}

// drop removes the n newest entries of a stack.
func (m *UndoManager) drop(redo bool, n int) {
	st := m.stack(redo)
	for _, e := range (*st)[len(*st)-n:] {
		m.keys -= len(e.items)
	}
	clear((*st)[len(*st)-n:])
	*st = (*st)[:len(*st)-n]
}

// Commit moves the step's entry to the other stack (an undone entry becomes
// redoable and the other way round), after its Delta was merged into the
// document. Entries it skipped are dropped. Call it at most once, before
// any other change to the manager.
func (s *UndoStep) Commit() {
	m := s.m
	if m == nil {
		return
	}
	s.m = nil
	m.drop(s.redo, s.skipped+1)
	// Later entries (and earlier ones) expect the values the step restored
	// under their old dots: point them at the step's new ones.
	if len(s.remap) > 0 || len(s.moves) > 0 {
		for _, st := range [][]*undoEntry{m.undo, m.redo} {
			for _, e := range st {
				e.follow(s.remap)
				e.followTexts(s.moves)
			}
		}
	}
	other := m.stack(!s.redo)
	*other = append(*other, s.inverse)
	m.keys += len(s.inverse.items)
	m.grouping = false
	m.bound()
}
