package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Event types.
const (
	TypeChanged  = "workflow.changed"
	TypeDeleted  = "workflow.deleted"
	TypeLocked   = "workflow.locked"
	TypeUnlocked = "workflow.unlocked"
	TypeUpdated  = "workflow.updated"
	TypeReverted = "workflow.reverted"
	TypeRestored = "workflow.restored"
)

var eventTypes = []string{TypeChanged, TypeDeleted, TypeLocked, TypeUnlocked, TypeUpdated, TypeReverted, TypeRestored}

// Event is the JSON body of a delivery.
type Event struct {
	// ID is the idempotency key: the same on every attempt and URL of this
	// event, different for every other event.
	ID         string `json:"id"`
	Type       string `json:"type"`
	WorkflowID string `json:"workflowId"`
	// Sequence numbers the events of one workflow sent by this node (1,
	// 2, …; it survives restarts with the queue file). Deliveries may
	// arrive out of order after retries: a receiver keeps the highest.
	Sequence  uint64    `json:"sequence"`
	CreatedAt time.Time `json:"createdAt"`
	// Users are the user ids whose edits the event reports (changed), or
	// the admin API's actor when it named one (lifecycle events).
	Users []string `json:"users,omitempty"`
	// Summary is what changed since this node's previous change event of
	// the workflow; nil when the view could not be read (e.g. deleted).
	Summary *Summary `json:"summary,omitempty"`
	// View is the workflow's view after the change, with IncludeView.
	View json.RawMessage `json:"view,omitempty"`
}

// window is a workflow's open debounce window. Guarded by Dispatcher.mu.
type window struct {
	opened time.Time
	users  []string
	timer  *time.Timer
}

// item is a queued delivery's schedule. Guarded by Dispatcher.mu.
type item struct {
	next time.Time
	busy bool // an attempt is running
}

// maxFingerprints bounds the views remembered for summaries: past it, one
// workflow's is forgotten and its next summary has no baseline.
const maxFingerprints = 4096

// Dispatcher debounces, queues and delivers events. Create it with Open;
// its methods are safe for concurrent use.
type Dispatcher struct {
	cfg    Config
	q      *queue
	filter map[string]bool

	mu        sync.Mutex
	closed    bool
	windows   map[string]*window
	toPersist map[string]bool
	due       []string
	items     map[uint64]*item
	reserved  int // places taken by events being written (enqueue)
	inflight  int

	fps map[string]*fingerprint // owned by the loop goroutine

	wake     chan struct{} // the debounce loop
	pumpWake chan struct{} // the delivery scheduler
	work     chan uint64
	stop     chan struct{}
	ctx      context.Context // cancelled when Close gives up waiting
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Open opens (or creates) the queue file and starts delivering what it
// holds: undelivered events, and the debounce windows that were open when
// the previous process stopped (reported at once).
func Open(cfg Config) (*Dispatcher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	q, err := openQueue(cfg.QueuePath)
	if err != nil {
		return nil, err
	}
	recs, wins, err := q.loadAll()
	if err != nil {
		_ = q.close()
		return nil, err
	}
	d := &Dispatcher{
		cfg: cfg, q: q,
		windows: map[string]*window{}, toPersist: map[string]bool{},
		items: make(map[uint64]*item, len(recs)), fps: map[string]*fingerprint{},
		wake: make(chan struct{}, 1), pumpWake: make(chan struct{}, 1),
		work: make(chan uint64, cfg.Workers), stop: make(chan struct{}),
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if len(cfg.Workflows) > 0 {
		d.filter = map[string]bool{}
		for _, id := range cfg.Workflows {
			d.filter[id] = true
		}
	}
	for k, next := range recs {
		d.items[k] = &item{next: next}
	}
	for id, w := range wins {
		d.windows[id] = &window{opened: w.Opened, users: w.Users}
		d.due = append(d.due, id)
	}
	slices.Sort(d.due)
	cfg.Metrics.queue(len(d.items))
	d.wg.Add(2 + cfg.Workers)
	go d.loop()
	go d.pump()
	for range cfg.Workers {
		go d.worker()
	}
	poke(d.wake)
	poke(d.pumpWake)
	return d, nil
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (d *Dispatcher) wanted(workflowID string) bool {
	return d.filter == nil || d.filter[workflowID]
}

// Notify reports that edits of users to workflowID are durable. It never
// blocks on I/O (rooms call it from their loops): it updates the window in
// memory and leaves the file to the dispatcher's goroutine.
func (d *Dispatcher) Notify(workflowID string, users []string) {
	if !d.wanted(workflowID) {
		return
	}
	now := d.cfg.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	w := d.windows[workflowID]
	if w == nil {
		w = &window{opened: now}
		d.windows[workflowID] = w
		d.toPersist[workflowID] = true
	}
	for _, u := range users {
		if u != "" && !slices.Contains(w.users, u) {
			w.users = append(w.users, u)
			d.toPersist[workflowID] = true
		}
	}
	wait := min(d.cfg.Quiet, w.opened.Add(d.cfg.MaxDelay).Sub(now))
	if w.timer == nil {
		w.timer = time.AfterFunc(wait, func() { d.fire(workflowID, w) })
	} else {
		w.timer.Reset(wait)
	}
	if len(d.toPersist) > 0 {
		poke(d.wake)
	}
}

// fire closes w if it is still workflowID's window.
func (d *Dispatcher) fire(workflowID string, w *window) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.windows[workflowID] != w || slices.Contains(d.due, workflowID) {
		return
	}
	d.due = append(d.due, workflowID)
	poke(d.wake)
}

// Lifecycle queues an event of typ (TypeDeleted, TypeLocked, …) for
// workflowID at once, without debounce; actor is the user id it names, if
// any. It returns once the event is in the queue file.
func (d *Dispatcher) Lifecycle(workflowID, typ, actor string) error {
	if !slices.Contains(eventTypes, typ) || typ == TypeChanged {
		return fmt.Errorf("webhook: %q is not a lifecycle event type", typ)
	}
	if !d.wanted(workflowID) {
		return nil
	}
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return errors.New("webhook: dispatcher closed")
	}
	ev := Event{Type: typ, WorkflowID: workflowID}
	if actor != "" {
		ev.Users = []string{actor}
	}
	return d.enqueue(ev, false)
}

// loop writes new windows to the file and turns due windows into events.
func (d *Dispatcher) loop() {
	defer d.wg.Done()
	for {
		select {
		case <-d.wake:
		case <-d.stop:
			return
		}
		d.mu.Lock()
		persist := make(map[string]storedWindow, len(d.toPersist))
		for id := range d.toPersist {
			w := d.windows[id]
			persist[id] = storedWindow{Opened: w.opened, Users: slices.Clone(w.users)}
		}
		clear(d.toPersist)
		due := d.due
		d.due = nil
		wins := make([]*window, len(due))
		for i, id := range due {
			wins[i] = d.windows[id]
			delete(d.windows, id)
		}
		d.mu.Unlock()
		if len(persist) > 0 {
			if err := d.q.putWindows(persist); err != nil {
				d.cfg.Logger.Error("webhook: recording debounce windows", "err", err)
			}
		}
		for i, id := range due {
			d.emitChange(id, wins[i])
		}
	}
}

// emitChange queues the change event of a closed window.
func (d *Dispatcher) emitChange(workflowID string, w *window) {
	ev := Event{Type: TypeChanged, WorkflowID: workflowID, Users: w.users}
	if d.cfg.View != nil {
		ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Timeout)
		v, err := d.cfg.View(ctx, workflowID)
		cancel()
		if err != nil {
			d.cfg.Logger.Warn("webhook: no view for a change event", "workflow", workflowID, "err", err)
		} else {
			fp := fingerprintOf(v)
			s := summarize(d.fps[workflowID], fp)
			ev.Summary = &s
			if _, ok := d.fps[workflowID]; !ok && len(d.fps) >= maxFingerprints {
				for k := range d.fps {
					delete(d.fps, k)
					break
				}
			}
			d.fps[workflowID] = fp
			if d.cfg.IncludeView {
				ev.View, _ = json.Marshal(v)
			}
		}
	}
	if err := d.enqueue(ev, true); err != nil && !errors.Is(err, errFull) {
		d.cfg.Logger.Error("webhook: queueing a change event", "workflow", workflowID, "err", err)
	}
}

// enqueue gives ev its id, sequence and time and queues it for every URL.
func (d *Dispatcher) enqueue(ev Event, closeWindow bool) error {
	var b [16]byte
	_, _ = rand.Read(b[:])
	ev.ID = "evt_" + hex.EncodeToString(b[:])
	now := d.cfg.Now()
	ev.CreatedAt = now.UTC()
	// Places are reserved before the write so that concurrent events
	// cannot pass the bound together.
	n := len(d.cfg.URLs)
	d.mu.Lock()
	full := len(d.items)+d.reserved+n > d.cfg.MaxQueue
	if !full {
		d.reserved += n
	}
	d.mu.Unlock()
	keys, err := d.q.enqueue(ev.WorkflowID, closeWindow, full, d.cfg.URLs, func(seq uint64) (record, error) {
		ev.Sequence = seq
		body, err := json.Marshal(ev)
		return record{EventID: ev.ID, Type: ev.Type, Body: body, Created: now, Next: now}, err
	})
	d.mu.Lock()
	if !full {
		d.reserved -= n
	}
	if err == nil {
		for _, k := range keys {
			d.items[k] = &item{next: now}
		}
		d.cfg.Metrics.queue(len(d.items))
	}
	d.mu.Unlock()
	if errors.Is(err, errFull) {
		d.cfg.Metrics.dropped("queue_full", n)
		d.cfg.Logger.Error("webhook: queue full; event dropped", "type", ev.Type, "workflow", ev.WorkflowID, "max_queue", d.cfg.MaxQueue)
		return err
	}
	if err != nil {
		return fmt.Errorf("webhook: queue %s event: %w", ev.Type, err)
	}
	d.cfg.Metrics.event(ev.Type)
	poke(d.pumpWake)
	return nil
}

// Close stops taking events, records the open debounce windows (the next
// Open reports them), waits for the running attempts until ctx ends
// (then cancels them: they are retried after the next Open) and closes
// the file. Undelivered events stay in the file.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	persist := map[string]storedWindow{}
	for id, w := range d.windows {
		if w.timer != nil {
			w.timer.Stop()
		}
		persist[id] = storedWindow{Opened: w.opened, Users: slices.Clone(w.users)}
	}
	d.mu.Unlock()
	close(d.stop)
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		d.cancel()
		<-done
	}
	d.cancel()
	err := d.q.putWindows(persist)
	return errors.Join(err, d.q.close())
}

// crash stops like a killed process: nothing more is written, in-memory
// windows not yet recorded are lost. Tests use it.
func (d *Dispatcher) crash() {
	d.mu.Lock()
	d.closed = true
	for _, w := range d.windows {
		if w.timer != nil {
			w.timer.Stop()
		}
	}
	d.mu.Unlock()
	close(d.stop)
	d.cancel()
	d.wg.Wait()
	_ = d.q.close()
}
