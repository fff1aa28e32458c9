package history

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowsync/flowsync/crdt/workflow"
	"github.com/flowsync/flowsync/storage"
)

// ErrClosed is returned by the Manager's methods after Close.
var ErrClosed = errors.New("history: manager closed")

// maxRemembered bounds the fingerprints kept between checkpoints; past it
// one is forgotten and read back from the store when next needed.
const maxRemembered = 4096

// window is a workflow's open window of edits not yet checkpointed.
// Guarded by Manager.mu.
type window struct {
	opened time.Time
	users  []string
	timer  Timer
}

// due is a closed window waiting for the worker.
type due struct {
	workflowID string
	users      []string
}

// remembered is the fingerprint of a workflow's newest checkpoint, so
// the next summary needs no read of it. Guarded by Manager.saveMu.
type remembered struct {
	id int64
	fp *Fingerprint
}

// Manager makes, lists, compares and restores checkpoints. Create it
// with New; its methods are safe for concurrent use.
type Manager struct {
	cfg Config

	mu      sync.Mutex
	closed  bool
	windows map[string]*window
	due     []due
	// lastAuto is when each workflow's last automatic checkpoint was due:
	// the next waits until Interval after it. Entries older than Interval
	// constrain nothing and are dropped when the map is full.
	lastAuto map[string]time.Time

	// saveMu makes one checkpoint at a time on this node, so a summary is
	// always against the checkpoint saved just before it.
	saveMu sync.Mutex
	last   map[string]remembered

	// attempts counts the automatic checkpoints tried (made or not), so
	// tests can wait for the worker instead of sleeping.
	attempts atomic.Int64

	wake   chan struct{}
	stop   chan struct{}
	ctx    context.Context // cancelled by Close once the worker is told to stop
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New starts a manager.
func New(cfg Config) (*Manager, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Manager{
		cfg: cfg.withDefaults(), windows: map[string]*window{}, last: map[string]remembered{}, lastAuto: map[string]time.Time{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.wg.Add(1)
	go m.worker()
	return m, nil
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Notify reports that edits of users to workflowID are durable (it is a
// rooms.Config.OnDurable). It never blocks on I/O: rooms call it from
// their loops.
func (m *Manager) Notify(workflowID string, users []string) {
	now := m.cfg.Clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	w := m.windows[workflowID]
	if w == nil {
		if m.cfg.Interval < 0 && len(m.windows) >= maxRemembered {
			// Automatic checkpoints off: windows only remember authors for
			// named ones and never close on their own, so they are bounded.
			return
		}
		w = &window{opened: now}
		m.windows[workflowID] = w
	}
	for _, u := range users {
		if u != "" && !slices.Contains(w.users, u) && len(w.users) < storage.MaxCheckpointAuthors {
			w.users = append(w.users, u)
		}
	}
	if m.cfg.Interval < 0 {
		return // automatic checkpoints off: the users are kept for named ones
	}
	// After Quiet without an edit, or Interval after the window opened,
	// whichever comes first; but never sooner than Interval after the
	// workflow's previous automatic checkpoint.
	at := now.Add(m.cfg.Quiet)
	if limit := w.opened.Add(m.cfg.Interval); limit.Before(at) {
		at = limit
	}
	if prev, ok := m.lastAuto[workflowID]; ok && prev.Add(m.cfg.Interval).After(at) {
		at = prev.Add(m.cfg.Interval)
	}
	wait := max(0, at.Sub(now))
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timer = m.cfg.Clock.AfterFunc(wait, func() { m.fire(workflowID, w) })
}

// fire hands w to the worker if it is still workflowID's window.
func (m *Manager) fire(workflowID string, w *window) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.windows[workflowID] != w {
		return
	}
	delete(m.windows, workflowID)
	m.due = append(m.due, due{workflowID: workflowID, users: w.users})
	m.noteAuto(workflowID)
	poke(m.wake)
}

// noteAuto records that workflowID's automatic checkpoint is due now.
// Called with mu held.
func (m *Manager) noteAuto(workflowID string) {
	now := m.cfg.Clock.Now()
	if _, ok := m.lastAuto[workflowID]; !ok && len(m.lastAuto) >= maxRemembered {
		for id, at := range m.lastAuto {
			if now.Sub(at) >= m.cfg.Interval {
				delete(m.lastAuto, id)
			}
		}
		if len(m.lastAuto) >= maxRemembered {
			return // every entry still constrains: this workflow goes unbounded once
		}
	}
	m.lastAuto[workflowID] = now
}

// take closes workflowID's open window, if any, and returns its users.
func (m *Manager) take(workflowID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.windows[workflowID]
	if w == nil {
		return nil
	}
	if w.timer != nil {
		w.timer.Stop()
	}
	delete(m.windows, workflowID)
	return w.users
}

// worker makes the automatic checkpoints of closed windows, one at a time.
func (m *Manager) worker() {
	defer m.wg.Done()
	for {
		select {
		case <-m.wake:
		case <-m.stop:
			return
		}
		m.mu.Lock()
		batch := m.due
		m.due = nil
		m.mu.Unlock()
		for _, d := range batch {
			m.automatic(d)
			m.attempts.Add(1)
		}
	}
}

// automatic makes the automatic checkpoint of a closed window.
func (m *Manager) automatic(d due) {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.Timeout)
	defer cancel()
	doc, err := m.cfg.Document(ctx, d.workflowID)
	if err == nil {
		_, _, err = m.save(ctx, d.workflowID, doc, "", d.users, false)
	}
	switch {
	case err == nil:
	case errors.Is(err, storage.ErrDeleted):
		// Deleted since its last edit: nothing to keep.
	default:
		m.cfg.Logger.Warn("history: automatic checkpoint failed", "workflow", d.workflowID, "err", err)
	}
}

// save stores doc as the workflow's newest checkpoint, with its summary
// against the previous one. Unless force, a document with no change
// against the previous checkpoint is not stored (saved false).
func (m *Manager) save(ctx context.Context, workflowID string, doc *workflow.Doc, name string, authors []string, force bool) (meta storage.CheckpointMeta, saved bool, err error) {
	m.saveMu.Lock()
	defer m.saveMu.Unlock()
	start := time.Now()
	defer func() { m.cfg.Metrics.checkpoint(force, saved, err, time.Since(start), meta.Bytes) }()
	fp := FingerprintOf(doc.View())
	prev, err := m.baseline(ctx, workflowID)
	if err != nil {
		return meta, false, err
	}
	if !force && prev != nil && Compare(prev, fp).Empty() {
		return meta, false, nil
	}
	cp := storage.NewCheckpoint{AtMs: m.cfg.Clock.Now().UnixMilli(), Name: name, Authors: authors, Summary: Summarize(prev, fp), Doc: doc}
	if meta, err = m.cfg.Store.SaveCheckpoint(ctx, workflowID, cp, m.cfg.Retention); err != nil {
		return meta, false, err
	}
	m.remember(workflowID, remembered{id: meta.ID, fp: fp})
	return meta, true, nil
}

// baseline returns the fingerprint of the workflow's newest stored
// checkpoint (nil when it has none): the remembered one when it is still
// the newest, else read from the store (another node may have saved one).
func (m *Manager) baseline(ctx context.Context, workflowID string) (*Fingerprint, error) {
	metas, err := m.cfg.Store.ListCheckpoints(ctx, workflowID)
	if err != nil || len(metas) == 0 {
		return nil, err
	}
	newest := metas[len(metas)-1].ID
	if r, ok := m.last[workflowID]; ok && r.id == newest {
		return r.fp, nil
	}
	_, doc, err := m.cfg.Store.LoadCheckpoint(ctx, workflowID, newest)
	if errors.Is(err, storage.ErrNoCheckpoint) {
		return nil, nil // dropped in between: compare with nothing
	}
	if err != nil {
		return nil, err
	}
	fp := FingerprintOf(doc.View())
	m.remember(workflowID, remembered{id: newest, fp: fp})
	return fp, nil
}

func (m *Manager) remember(workflowID string, r remembered) {
	if _, ok := m.last[workflowID]; !ok && len(m.last) >= maxRemembered {
		for k := range m.last {
			delete(m.last, k)
			break
		}
	}
	m.last[workflowID] = r
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Create saves the workflow's live document as a checkpoint named name
// (empty: an automatic one, made now), even when nothing changed since
// the previous checkpoint: a name marks a moment ("deployed"), changed or
// not. Its authors are those of the edits since the previous checkpoint
// and actor, when not empty. It closes the workflow's open window (its
// edits are in this checkpoint).
func (m *Manager) Create(ctx context.Context, workflowID, name, actor string) (storage.CheckpointMeta, error) {
	if m.isClosed() {
		return storage.CheckpointMeta{}, ErrClosed
	}
	if err := storage.CheckCheckpointName(name); err != nil {
		return storage.CheckpointMeta{}, err
	}
	doc, err := m.cfg.Document(ctx, workflowID)
	if err != nil {
		return storage.CheckpointMeta{}, err
	}
	users := m.take(workflowID)
	meta, _, err := m.save(ctx, workflowID, doc, name, withActor(users, actor), true)
	if err != nil && len(users) > 0 {
		m.Notify(workflowID, users) // the window's edits still need a checkpoint
	}
	return meta, err
}

func withActor(users []string, actor string) []string {
	if actor != "" && !slices.Contains(users, actor) && len(users) < storage.MaxCheckpointAuthors {
		users = append(users, actor)
	}
	return users
}

// List returns the workflow's checkpoints, oldest first.
func (m *Manager) List(ctx context.Context, workflowID string) ([]storage.CheckpointMeta, error) {
	return m.cfg.Store.ListCheckpoints(ctx, workflowID)
}

// Load returns a checkpoint and its document (storage.ErrNoCheckpoint for
// an unknown id).
func (m *Manager) Load(ctx context.Context, workflowID string, id int64) (storage.CheckpointMeta, *workflow.Doc, error) {
	return m.cfg.Store.LoadCheckpoint(ctx, workflowID, id)
}

// Live names the live document in DiffOf; checkpoint ids are positive.
const Live int64 = 0

// DiffOf returns what changed from checkpoint from to checkpoint to (Live:
// the live document).
func (m *Manager) DiffOf(ctx context.Context, workflowID string, from, to int64) (Diff, error) {
	views := make([]*workflow.View, 2)
	for i, id := range []int64{from, to} {
		var doc *workflow.Doc
		var err error
		if id == Live {
			doc, err = m.cfg.Document(ctx, workflowID)
		} else {
			_, doc, err = m.cfg.Store.LoadCheckpoint(ctx, workflowID, id)
		}
		if err != nil {
			return Diff{}, err
		}
		views[i] = doc.View()
	}
	return Compare(FingerprintOf(views[0]), FingerprintOf(views[1])), nil
}

// Restored is what a restore did.
type Restored struct {
	// Checkpoint is the checkpoint restored.
	Checkpoint storage.CheckpointMeta
	// Before is the checkpoint of the state the restore replaced: restore
	// it to undo the restore.
	Before storage.CheckpointMeta
	// Operations is how many operations the restore applied.
	Operations int
}

// Restore makes the workflow's live document hold checkpoint id's
// content, as an edit by actor ("system" when empty) applied through the
// room (Config.Apply), after saving the current state as the checkpoint
// "before restore of <id>". It returns storage.ErrNoCheckpoint for an
// unknown id. An error of Apply stops the restore at the operation
// refused, the before checkpoint stored: a locked workflow refuses the
// first (nothing changes); a variable rename colliding with another
// variable's name can refuse one after the replace-state, which then
// stays applied (restoring again, or the before checkpoint, recovers).
func (m *Manager) Restore(ctx context.Context, workflowID string, id int64, actor string) (Restored, error) {
	if m.isClosed() {
		return Restored{}, ErrClosed
	}
	meta, target, err := m.cfg.Store.LoadCheckpoint(ctx, workflowID, id)
	if err != nil {
		return Restored{}, err
	}
	current, err := m.cfg.Document(ctx, workflowID)
	if err != nil {
		return Restored{}, err
	}
	ops, err := RestoreOps(target.View(), current.View())
	if err != nil {
		return Restored{}, fmt.Errorf("history: checkpoint %d of %q: %w", id, workflowID, err)
	}
	users := m.take(workflowID)
	before, _, err := m.save(ctx, workflowID, current, fmt.Sprintf("before restore of %d", id), withActor(users, actor), true)
	if err != nil {
		if len(users) > 0 {
			m.Notify(workflowID, users)
		}
		return Restored{}, err
	}
	if actor == "" {
		actor = "system"
	}
	err = m.cfg.Apply(ctx, workflowID, actor, ops)
	m.cfg.Metrics.restore(err)
	if err != nil {
		return Restored{Checkpoint: meta, Before: before}, err
	}
	return Restored{Checkpoint: meta, Before: before, Operations: len(ops)}, nil
}

// Close checkpoints the open windows (edits not yet in a checkpoint),
// until ctx ends, and stops the manager. The rooms must still answer
// Document: close the manager before them.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	pending := m.due
	m.due = nil
	for id, w := range m.windows {
		if w.timer != nil { // nil: automatic checkpoints are off
			w.timer.Stop()
			pending = append(pending, due{workflowID: id, users: w.users})
		}
	}
	clear(m.windows)
	m.mu.Unlock()
	close(m.stop)
	m.wg.Wait()
	var errs []error
	for _, d := range pending {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("history: %d open windows not checkpointed: %w", len(pending), ctx.Err()))
			break
		}
		doc, err := m.cfg.Document(ctx, d.workflowID)
		if err == nil {
			_, _, err = m.save(ctx, d.workflowID, doc, "", d.users, false)
		}
		if err != nil && !errors.Is(err, storage.ErrDeleted) {
			errs = append(errs, fmt.Errorf("history: checkpoint of %q at close: %w", d.workflowID, err))
		}
	}
	m.cancel()
	return errors.Join(errs...)
}
